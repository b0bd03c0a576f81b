/**
 * The CRM expression language: a small, safe, side-effect-free language for tag and rule
 * conditions (`spend_90d > 500 and churn.risk >= 80`, `segment in ['at_risk', 'dormant']`).
 * A hand-written tokenizer and a Pratt parser compile the source once into a tree; `evaluate`
 * walks the tree with a switch, calling `lookup` for names. Nothing is executed as code.
 *
 * Values are numbers, strings, booleans and null. A name the lookup does not know is null, and so
 * is NaN, and so is anything the lookup gives that is not a scalar. Lookups read own properties only
 * (`profile.constructor`, `profile.__proto__`, `profile.toString` are null: PartitionCrm.lookup). A comparison with a null operand is false (whatever the operator) except `== null` and
 * `!= null`, which test for a missing value. Arithmetic on a non-number, or a division by zero,
 * is null. `and`/`or`/`not` use truthiness (null, 0, '' and false are false) and give booleans.
 * Grammar and precedence: docs/crm.md.
 */
import { BellwetherError } from '../../contract/errors.js';
import {
  type ExpressionValue,
  K,
  MAX_EXPRESSION_LENGTH,
  type Node,
  type NodeKind,
  Parser,
  SyntaxErrorAt,
  tokenize,
} from './expression-parser.js';

export { type ExpressionValue, MAX_EXPRESSION_LENGTH } from './expression-parser.js';

/** What an expression sees of a customer: a feature, score or segment by name; null when unknown. */
export type ExpressionLookup = (name: string) => ExpressionValue | undefined;

export interface Expression {
  readonly source: string;
  /** Names the expression reads, in order of first appearance. */
  readonly names: readonly string[];
  /** The value coerced to boolean (truthiness). */
  evaluate(lookup: ExpressionLookup): boolean;
  /** The value itself. */
  value(lookup: ExpressionLookup): ExpressionValue;
}

const truthy = (v: ExpressionValue): boolean => v !== null && v !== false && v !== 0 && v !== '';

function arith(k: NodeKind, a: ExpressionValue, b: ExpressionValue): ExpressionValue {
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  let r: number;
  switch (k) {
    case K.Add:
      r = a + b;
      break;
    case K.Sub:
      r = a - b;
      break;
    case K.Mul:
      r = a * b;
      break;
    default:
      if (b === 0) return null;
      r = a / b;
  }
  return Number.isNaN(r) ? null : r;
}

function order(k: NodeKind, a: ExpressionValue, b: ExpressionValue): boolean {
  if (
    !((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))
  ) {
    return false;
  }
  switch (k) {
    case K.Lt:
      return a < b;
    case K.Le:
      return a <= b;
    case K.Gt:
      return a > b;
    default:
      return a >= b;
  }
}

function run(node: Node, lookup: ExpressionLookup): ExpressionValue {
  switch (node.k) {
    case K.Lit:
      return node.v;
    case K.Name: {
      const v: unknown = lookup(node.name);
      // Scalars only: a lookup that leaked an object or a function (a prototype's member) reads null.
      if (typeof v === 'string' || typeof v === 'boolean') return v;
      return typeof v === 'number' && !Number.isNaN(v) ? v : null;
    }
    case K.Neg: {
      const v = run(node.a, lookup);
      return typeof v === 'number' ? -v : null;
    }
    case K.Not:
      return !truthy(run(node.a, lookup));
    case K.And:
      return truthy(run(node.a, lookup)) && truthy(run(node.b, lookup));
    case K.Or:
      return truthy(run(node.a, lookup)) || truthy(run(node.b, lookup));
    case K.Add:
    case K.Sub:
    case K.Mul:
    case K.Div:
      return arith(node.k, run(node.a, lookup), run(node.b, lookup));
    case K.Eq:
    case K.Ne: {
      const a = run(node.a, lookup);
      if (a === null) return false;
      const b = run(node.b, lookup);
      if (b === null) return false;
      return (a === b) === (node.k === K.Eq);
    }
    case K.Lt:
    case K.Le:
    case K.Gt:
    case K.Ge:
      return order(node.k, run(node.a, lookup), run(node.b, lookup));
    case K.In:
    case K.NotIn: {
      const a = run(node.a, lookup);
      if (a === null) return false;
      let found = false;
      for (let i = 0; i < node.items.length && !found; i++) found = a === run(node.items[i]!, lookup);
      return found === (node.k === K.In);
    }
    case K.IsNull:
      return run(node.a, lookup) === null;
    case K.NotNull:
      return run(node.a, lookup) !== null;
  }
}

/**
 * Compiles `source`; throws BW_ERR_CRM_CONFIG `<where>: at column N: …` on a syntax error, with
 * `data: { violations: [that message], column }`.
 */
export function compileExpression(source: string, where = 'expression'): Expression {
  let root: Node;
  let names: string[];
  try {
    if (source.length > MAX_EXPRESSION_LENGTH) {
      throw new SyntaxErrorAt(1, `longer than ${MAX_EXPRESSION_LENGTH} characters`);
    }
    const parser = new Parser(tokenize(source));
    root = parser.parse();
    names = parser.names;
  } catch (err) {
    if (!(err instanceof SyntaxErrorAt)) throw err;
    const violation = `${where}: at column ${err.column}: ${err.message}`;
    throw new BellwetherError('BW_ERR_CRM_CONFIG', violation, {
      data: { violations: [violation], column: err.column },
    });
  }
  const frozenNames = Object.freeze(names);
  return Object.freeze({
    source,
    names: frozenNames,
    evaluate: (lookup: ExpressionLookup): boolean => truthy(run(root, lookup)),
    value: (lookup: ExpressionLookup): ExpressionValue => run(root, lookup),
  });
}

/** The value of `expression` (not coerced to boolean). */
export function evaluateValue(expression: Expression, lookup: ExpressionLookup): ExpressionValue {
  return expression.value(lookup);
}

/** A lookup over a plain record (tests, tools): missing keys are null. */
export function recordLookup(
  record: Readonly<Record<string, ExpressionValue | undefined>>,
): ExpressionLookup {
  return (name) => (Object.hasOwn(record, name) ? record[name] : null);
}
