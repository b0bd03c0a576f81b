import { describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import {
  compileExpression,
  type ExpressionValue,
  evaluateValue,
  MAX_EXPRESSION_LENGTH,
  recordLookup,
} from '../../operators/crm/expression.js';

type Row = [source: string, record: Record<string, ExpressionValue>, expected: ExpressionValue];

const VALUES: Row[] = [
  // arithmetic and precedence
  ['1 + 2 * 3', {}, 7],
  ['(1 + 2) * 3', {}, 9],
  ['10 - 4 - 3', {}, 3],
  ['12 / 3 / 2', {}, 2],
  ['-2 * 3', {}, -6],
  ['2 * -3', {}, -6],
  ['- -2', {}, 2],
  ['+4', {}, 4],
  ['1e3 + .5', {}, 1000.5],
  ['1 + 2 > 2', {}, true],
  ['x / 0', { x: 1 }, null],
  ['"x" + 1', {}, null],
  ['missing + 1', {}, null],
  ['null', {}, null],
  // comparisons
  ['spend_90d > 500', { spend_90d: 600 }, true],
  ['spend_90d > 500', { spend_90d: 500 }, false],
  ['spend_90d >= 500', { spend_90d: 500 }, true],
  ['spend_90d <= 500', { spend_90d: 500.01 }, false],
  ['churn.risk >= 80', { 'churn.risk': 80 }, true],
  ["segment == 'at_risk'", { segment: 'at_risk' }, true],
  ['segment == "at_risk"', { segment: 'core' }, false],
  ["segment != 'core'", { segment: 'at_risk' }, true],
  ["'a' < 'b'", {}, true],
  ["1 < 'b'", {}, false],
  ["1 == '1'", {}, false],
  ["1 != '1'", {}, true],
  ['true == 1', {}, false],
  [`'it\\'s' == "it's"`, {}, true],
  ['rfm.r in [4, 5]', { 'rfm.r': 5 }, true],
  ['rfm.r in [4, 5]', { 'rfm.r': 3 }, false],
  ["segment in ['at_risk', 'dormant']", { segment: 'dormant' }, true],
  ["segment not in ['core', 'potential']", { segment: 'dormant' }, true],
  ["segment not in ['core', 'potential']", { segment: 'core' }, false],
  ['x in []', { x: 1 }, false],
  ['x in [1 + 1, 3]', { x: 2 }, true],
  // null and NaN in comparisons are false, whatever the operator
  ['missing > 0', {}, false],
  ['missing < 0', {}, false],
  ['missing == 0', {}, false],
  ['missing != 0', {}, false],
  ['missing in [null, 1]', {}, false],
  ['missing not in [1]', {}, false],
  ['days_since_last_purchase > 30', { days_since_last_purchase: Number.NaN }, false],
  ['days_since_last_purchase <= 30', { days_since_last_purchase: Number.NaN }, false],
  ['missing == null', {}, true],
  ['null == missing', {}, true],
  ['missing != null', {}, false],
  ['x != null', { x: 0 }, true],
  ['not missing > 0', {}, true],
  // logic: not < and < or; `!` binds like `not`
  ['a or b and c', { a: false, b: true, c: false }, false],
  ['a or b and c', { a: true, b: true, c: false }, true],
  ['(a or b) and c', { a: true, b: true, c: false }, false],
  ['a || b && c', { a: false, b: true, c: true }, true],
  ['not a and b', { a: false, b: true }, true],
  ['not (a and b)', { a: true, b: true }, false],
  ['!x > 5', { x: 3 }, true],
  ['!!x', { x: 'yes' }, true],
  ['x > 1 && x < 10', { x: 5 }, true],
  ['true and 1', {}, true],
  ["0 or ''", {}, false],
  ['cart_adds_24h > 0 and purchases_7d == 0', { cart_adds_24h: 2, purchases_7d: 0 }, true],
  ['cart_adds_24h > 0 and purchases_7d == 0', { cart_adds_24h: 2, purchases_7d: 1 }, false],
  ['unknown_feature', {}, null],
];

describe('expression values', () => {
  it.each(VALUES)('%s with %j is %j', (source, record, expected) => {
    const expr = compileExpression(source);
    expect(evaluateValue(expr, recordLookup(record))).toEqual(expected);
    expect(expr.evaluate(recordLookup(record))).toBe(
      expected !== null && expected !== false && expected !== 0 && expected !== '',
    );
  });
});

const ERRORS: [source: string, column: number, fragment: string][] = [
  ['', 1, 'unexpected end of expression'],
  ['a >', 4, 'unexpected end of expression'],
  ['a = 1', 3, "'=' is not an operator; use '=='"],
  ['a & b', 3, "use '&&'"],
  ['a | b', 3, "use '||'"],
  ['1 < a < 3', 7, 'comparisons cannot be chained'],
  ["x == 'abc", 6, 'unterminated string'],
  ["'a\\q'", 3, 'unknown escape'],
  ['90d > 1', 1, "invalid number '90d'"],
  ['x > 1.2.3', 5, "invalid number '1.2.3'"],
  ['(a > 1', 7, "expected ')', found the end of the expression"],
  ['a > 1)', 6, "unexpected ')'"],
  ['a @ b', 3, "unexpected character '@'"],
  ['a b', 3, "unexpected 'b'"],
  ['x in [1, 2', 11, "expected ']'"],
  ['x in 1', 6, "expected '['"],
  ['a not b', 3, "did you mean 'not in'"],
  ['churn. > 1', 6, "name 'churn.' ends with a dot"],
  ['and', 1, "expected a value, found 'and'"],
  ['x > )', 5, "expected a value, found ')'"],
  [`${'('.repeat(70)}1${')'.repeat(70)}`, 65, 'nested deeper than 64'],
  ['x'.repeat(MAX_EXPRESSION_LENGTH + 1), 1, 'longer than'],
];

describe('names and the object prototype', () => {
  it('reads own properties only: prototype members are null, whatever the lookup', () => {
    const record = recordLookup({ tier: 'gold' });
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(compileExpression(`profile.${name}`).value((n) => record(n.slice(8)))).toBeNull();
      expect(compileExpression(name).evaluate(record)).toBe(false);
    }
    // A lookup that leaks a non-scalar (a function, an object) reads null too.
    const leaky = () => Object as never;
    expect(compileExpression('profile.constructor != null').evaluate(leaky)).toBe(false);
    expect(compileExpression('x').value(() => Object.prototype.toString as never)).toBeNull();
    expect(compileExpression('x').value(() => ({ a: 1 }) as never)).toBeNull();
    expect(compileExpression("profile.tier == 'gold'").evaluate((n) => record(n.slice(8)))).toBe(true);
  });
});

describe('expression syntax errors', () => {
  it.each(ERRORS)('%s fails at column %i', (source, column, fragment) => {
    let caught: unknown;
    try {
      compileExpression(source, 'crm.yaml:rules.nudge.when');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BellwetherError);
    const err = caught as BellwetherError;
    expect(err.code).toBe('BW_ERR_CRM_CONFIG');
    expect(err.message).toContain(`crm.yaml:rules.nudge.when: at column ${column}: `);
    expect(err.message).toContain(fragment);
    expect(err.data).toMatchObject({ column, violations: [expect.stringContaining(fragment)] });
  });
});

describe('compiled expressions', () => {
  it('lists the names read, once each, in order of first appearance', () => {
    expect(compileExpression("a > 1 and b.c < a or segment == 'x'").names).toEqual(['a', 'b.c', 'segment']);
    expect(compileExpression('1 < 2').names).toEqual([]);
  });

  it('compiles once and evaluates many times with different lookups', () => {
    const expr = compileExpression('spend_90d > 500 and churn.risk >= 80');
    const rows = [
      { spend_90d: 600, 'churn.risk': 90, want: true },
      { spend_90d: 400, 'churn.risk': 90, want: false },
      { spend_90d: 600, 'churn.risk': null, want: false },
    ];
    for (let i = 0; i < 3; i++) {
      for (const { want, ...record } of rows) expect(expr.evaluate(recordLookup(record))).toBe(want);
    }
    expect(Object.isFrozen(expr)).toBe(true);
  });

  it('short-circuits and/or and calls the lookup only for what it needs', () => {
    const asked: string[] = [];
    const lookup = (name: string): number => {
      asked.push(name);
      return 1;
    };
    expect(compileExpression('false and a > 0').evaluate(lookup)).toBe(false);
    expect(compileExpression('true or b > 0').evaluate(lookup)).toBe(true);
    expect(compileExpression('c > 0 or d > 0').evaluate(lookup)).toBe(true);
    expect(asked).toEqual(['c']);
  });

  it('treats an undefined lookup answer as null', () => {
    const expr = compileExpression('x == null');
    expect(expr.evaluate(() => undefined)).toBe(true);
  });
});
