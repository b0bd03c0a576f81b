/**
 * Tokenizer and Pratt parser of the CRM expression language (see expression.ts and docs/crm.md):
 * source text to a tree of nodes with numeric kinds, or a {@link SyntaxErrorAt} with the 1-based
 * column of the offending character.
 */
export type ExpressionValue = number | string | boolean | null;

/** Longest expression accepted, in characters, and deepest nesting. */
export const MAX_EXPRESSION_LENGTH = 2000;
const MAX_DEPTH = 64;

export const K = {
  Lit: 0,
  Name: 1,
  Neg: 2,
  Not: 3,
  And: 4,
  Or: 5,
  Add: 6,
  Sub: 7,
  Mul: 8,
  Div: 9,
  Eq: 10,
  Ne: 11,
  Lt: 12,
  Le: 13,
  Gt: 14,
  Ge: 15,
  In: 16,
  NotIn: 17,
  IsNull: 18,
  NotNull: 19,
} as const;
export type NodeKind = (typeof K)[keyof typeof K];

export type Node =
  | { readonly k: typeof K.Lit; readonly v: ExpressionValue }
  | { readonly k: typeof K.Name; readonly name: string }
  | { readonly k: typeof K.Neg | typeof K.Not | typeof K.IsNull | typeof K.NotNull; readonly a: Node }
  | {
      readonly k:
        | typeof K.And
        | typeof K.Or
        | typeof K.Add
        | typeof K.Sub
        | typeof K.Mul
        | typeof K.Div
        | typeof K.Eq
        | typeof K.Ne
        | typeof K.Lt
        | typeof K.Le
        | typeof K.Gt
        | typeof K.Ge;
      readonly a: Node;
      readonly b: Node;
    }
  | { readonly k: typeof K.In | typeof K.NotIn; readonly a: Node; readonly items: readonly Node[] };

type TokenType = 'num' | 'str' | 'name' | 'kw' | 'op' | 'end';

export interface Token {
  readonly t: TokenType;
  /** Operator or keyword text, identifier, string contents. */
  readonly s: string;
  readonly n: number;
  /** 1-based column of the token's first character. */
  readonly col: number;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null']);
const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '!',
  '(',
  ')',
  '[',
  ']',
  ',',
];

function fail(col: number, message: string): never {
  throw new SyntaxErrorAt(col, message);
}

/** A syntax error at a column; {@link compileExpression} turns it into BW_ERR_CRM_CONFIG. */
export class SyntaxErrorAt extends Error {
  constructor(
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isNameStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isNamePart = (c: string): boolean => isNameStart(c) || isDigit(c);

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const col = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      let j = i;
      while (isDigit(src[j] ?? '')) j++;
      if (src[j] === '.') for (j++; isDigit(src[j] ?? ''); ) j++;
      if (src[j] === 'e' || src[j] === 'E') {
        let k = j + 1;
        if (src[k] === '+' || src[k] === '-') k++;
        if (isDigit(src[k] ?? '')) for (j = k; isDigit(src[j] ?? ''); ) j++;
      }
      if (isNamePart(src[j] ?? '') || src[j] === '.') {
        let k = j;
        while (isNamePart(src[k] ?? '') || src[k] === '.') k++;
        fail(col, `invalid number '${src.slice(i, k)}'`);
      }
      tokens.push({ t: 'num', s: src.slice(i, j), n: Number(src.slice(i, j)), col });
      i = j;
    } else if (isNameStart(c)) {
      let j = i;
      for (;;) {
        while (isNamePart(src[j] ?? '')) j++;
        if (src[j] !== '.') break;
        if (!isNamePart(src[j + 1] ?? '')) fail(j + 1, `name '${src.slice(i, j + 1)}' ends with a dot`);
        j++;
      }
      const word = src.slice(i, j);
      tokens.push({ t: KEYWORDS.has(word) ? 'kw' : 'name', s: word, n: 0, col });
      i = j;
    } else if (c === "'" || c === '"') {
      let out = '';
      let j = i + 1;
      for (;;) {
        const d = src[j];
        if (d === undefined) fail(col, 'unterminated string');
        if (d === c) break;
        if (d === '\\') {
          const e = src[j + 1];
          if (e === 'n') out += '\n';
          else if (e === 't') out += '\t';
          else if (e === '\\' || e === "'" || e === '"') out += e;
          else fail(j + 1, `unknown escape '\\${e ?? ''}' in a string`);
          j += 2;
        } else {
          out += d;
          j++;
        }
      }
      tokens.push({ t: 'str', s: out, n: 0, col });
      i = j + 1;
    } else {
      const op = OPERATORS.find((o) => src.startsWith(o, i));
      if (op === undefined) {
        if (c === '=') fail(col, "'=' is not an operator; use '=='");
        if (c === '&' || c === '|') fail(col, `'${c}' is not an operator; use '${c}${c}'`);
        fail(col, `unexpected character '${c}'`);
      }
      tokens.push({ t: 'op', s: op, n: 0, col });
      i += op.length;
    }
  }
  tokens.push({ t: 'end', s: '', n: 0, col: src.length + 1 });
  return tokens;
}

// Binding powers: or < and < not < comparisons < + - < * / < unary minus.
const BP_OR = 10;
const BP_AND = 20;
const BP_NOT = 30;
const BP_CMP = 40;
const BP_ADD = 50;
const BP_MUL = 60;
const BP_NEG = 70;

const INFIX: Readonly<Record<string, { bp: number; k: NodeKind }>> = {
  or: { bp: BP_OR, k: K.Or },
  '||': { bp: BP_OR, k: K.Or },
  and: { bp: BP_AND, k: K.And },
  '&&': { bp: BP_AND, k: K.And },
  '==': { bp: BP_CMP, k: K.Eq },
  '!=': { bp: BP_CMP, k: K.Ne },
  '<': { bp: BP_CMP, k: K.Lt },
  '<=': { bp: BP_CMP, k: K.Le },
  '>': { bp: BP_CMP, k: K.Gt },
  '>=': { bp: BP_CMP, k: K.Ge },
  in: { bp: BP_CMP, k: K.In },
  not: { bp: BP_CMP, k: K.NotIn },
  '+': { bp: BP_ADD, k: K.Add },
  '-': { bp: BP_ADD, k: K.Sub },
  '*': { bp: BP_MUL, k: K.Mul },
  '/': { bp: BP_MUL, k: K.Div },
};

const describe = (tok: Token): string =>
  tok.t === 'end' ? 'the end of the expression' : tok.t === 'str' ? `string '${tok.s}'` : `'${tok.s}'`;

export class Parser {
  #pos = 0;
  #depth = 0;
  readonly names: string[] = [];

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): Node {
    const node = this.#expr(0);
    const tok = this.#peek();
    if (tok.t !== 'end') fail(tok.col, `unexpected ${describe(tok)}`);
    return node;
  }

  #peek(): Token {
    return this.tokens[this.#pos]!;
  }

  #next(): Token {
    return this.tokens[this.#pos++]!;
  }

  #expect(s: string): Token {
    const tok = this.#next();
    if (tok.s !== s || (tok.t !== 'op' && tok.t !== 'kw'))
      fail(tok.col, `expected '${s}', found ${describe(tok)}`);
    return tok;
  }

  #expr(minBp: number): Node {
    if (++this.#depth > MAX_DEPTH) fail(this.#peek().col, `expression nested deeper than ${MAX_DEPTH}`);
    let left = this.#prefix();
    for (;;) {
      const tok = this.#peek();
      const info = tok.t === 'op' || tok.t === 'kw' ? INFIX[tok.s] : undefined;
      if (info === undefined || info.bp <= minBp) break;
      this.#next();
      if (info.bp === BP_CMP) {
        left = this.#comparison(tok, info.k, left);
        const after = this.#peek();
        const again = after.t === 'op' || after.t === 'kw' ? INFIX[after.s] : undefined;
        if (again?.bp === BP_CMP) fail(after.col, `comparisons cannot be chained; join them with 'and'`);
      } else {
        const right = this.#expr(info.bp);
        left = { k: info.k as typeof K.And, a: left, b: right };
      }
    }
    this.#depth--;
    return left;
  }

  #comparison(tok: Token, k: NodeKind, left: Node): Node {
    if (k === K.NotIn) {
      if (this.#peek().s !== 'in' || this.#peek().t !== 'kw')
        fail(tok.col, "unexpected 'not'; did you mean 'not in'?");
      this.#next();
    }
    if (k === K.In || k === K.NotIn) {
      this.#expect('[');
      const items: Node[] = [];
      if (this.#peek().s !== ']' || this.#peek().t !== 'op') {
        for (;;) {
          items.push(this.#expr(BP_CMP));
          if (this.#peek().s !== ',' || this.#peek().t !== 'op') break;
          this.#next();
        }
      }
      this.#expect(']');
      return { k: k as typeof K.In, a: left, items };
    }
    const right = this.#expr(BP_CMP);
    if (k === K.Eq || k === K.Ne) {
      const isNullLit = (n: Node): boolean => n.k === K.Lit && n.v === null;
      if (isNullLit(right) || isNullLit(left)) {
        return { k: k === K.Eq ? K.IsNull : K.NotNull, a: isNullLit(right) ? left : right };
      }
    }
    return { k: k as typeof K.Eq, a: left, b: right };
  }

  #prefix(): Node {
    const tok = this.#next();
    switch (tok.t) {
      case 'num':
        return { k: K.Lit, v: tok.n };
      case 'str':
        return { k: K.Lit, v: tok.s };
      case 'name':
        if (!this.names.includes(tok.s)) this.names.push(tok.s);
        return { k: K.Name, name: tok.s };
      case 'kw':
        if (tok.s === 'true' || tok.s === 'false') return { k: K.Lit, v: tok.s === 'true' };
        if (tok.s === 'null') return { k: K.Lit, v: null };
        if (tok.s === 'not') return { k: K.Not, a: this.#expr(BP_NOT) };
        break;
      case 'op':
        if (tok.s === '!') return { k: K.Not, a: this.#expr(BP_NOT) };
        if (tok.s === '-') return { k: K.Neg, a: this.#expr(BP_NEG) };
        if (tok.s === '+') return this.#expr(BP_NEG);
        if (tok.s === '(') {
          const inner = this.#expr(0);
          this.#expect(')');
          return inner;
        }
        break;
      case 'end':
        fail(tok.col, 'unexpected end of expression');
    }
    return fail(tok.col, `expected a value, found ${describe(tok)}`);
  }
}
