import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  evaluateExpression,
  ExpressionError,
  expressionNames,
  parseExpression,
} from './param-expression.js';

const holds = (text: string, params: Record<string, number | string>): boolean =>
  evaluateExpression(parseExpression(text), params);

test('arithmetic, comparisons and precedence evaluate like ordinary math', () => {
  assert.equal(holds('batchSize * inputSize <= 8192', { batchSize: 32, inputSize: 256 }), true);
  assert.equal(holds('batchSize * inputSize <= 8192', { batchSize: 64, inputSize: 256 }), false);
  assert.equal(holds('1 + 2 * 3 == 7', {}), true);
  assert.equal(holds('(1 + 2) * 3 == 9', {}), true);
  assert.equal(holds('-x < 0 and x % 2 == 1', { x: 3 }), true);
  assert.equal(holds('lr >= 1e-3', { lr: 0.001 }), true);
  assert.equal(holds('a / 0 > 1', { a: 1 }), false, 'division by zero has no value');
});

test('and, or, not, in and not in', () => {
  const p = { optimizer: 'sgd', momentum: 0.9 };
  assert.equal(holds("optimizer in ['sgd', 'rmsprop']", p), true);
  assert.equal(holds("optimizer not in ['sgd', 'rmsprop']", p), false);
  assert.equal(holds("optimizer == 'adam' or momentum > 0.5", p), true);
  assert.equal(holds("not (optimizer == 'sgd') and true", p), false);
  assert.equal(holds('x in [-1, 2]', { x: -1 }), true);
  assert.equal(holds('"a" != "b"', {}), true);
});

test('a missing (inactive) parameter makes every comparison with it false', () => {
  assert.equal(holds('momentum > 0.5', {}), false);
  assert.equal(holds('momentum <= 0.5', {}), false);
  assert.equal(holds('momentum * 2 != 1', {}), false);
  assert.equal(holds('momentum in [0.9]', {}), false);
  assert.equal(holds('not (momentum > 0.5)', {}), true);
});

test('strings and numbers never order against each other', () => {
  assert.equal(holds("x < 'b'", { x: 1 }), false);
  assert.equal(holds("x == '1'", { x: 1 }), false);
  assert.equal(holds("x < 'b'", { x: 'a' }), true);
});

test('names are listed in order of first use', () => {
  assert.deepEqual(expressionNames(parseExpression('b * a > a and c in [1]')), ['b', 'a', 'c']);
});

test('bad expressions are ExpressionErrors with a column', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['x >', /ends too early/],
    ['x > 1 )', /unexpected "\)" \(at column 7\)/],
    ['x', /must be a condition/],
    ['x + (y > 1) > 2', /needs a value, not a condition/],
    ['x and y > 1', /needs a comparison/],
    ["x == 'a", /unterminated string/],
    ['x > 1; process.exit()', /unexpected character ";"/],
    ['x.constructor > 1', /unexpected character "\."/],
    ['x in [y]', /a list holds numbers and strings only/],
    ['f(x) > 1', /unexpected "\("/],
    ['('.repeat(40) + 'x > 1' + ')'.repeat(40), /nested more than/],
    ['x > ' + '1'.repeat(600), /longer than 500/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseExpression(text),
      (e: unknown) => e instanceof ExpressionError && message.test(e.message),
      text,
    );
  }
});
