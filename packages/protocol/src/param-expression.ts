// A small expression language over hyperparameters, for `when:` conditions and `constraints:` in a
// sweep's search section. Parsed by a recursive-descent parser into a tree and evaluated by walking
// it: no eval, no property access, no calls, bounded size.
//
//   expr    := or
//   or      := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | compare
//   compare := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum | 'not'? 'in' list)?
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/' | '%') unary)*
//   unary   := '-' unary | atom
//   atom    := number | 'string' | "string" | name | true | false | '(' expr ')'
//   list    := '[' (literal (',' literal)*)? ']'
import type { ParamSet, ParamValue } from './search-space.js';

/** Longest expression text accepted. */
export const MAX_EXPRESSION_LENGTH = 500;
/** Deepest nesting accepted (keeps the recursive parser's stack small). */
const MAX_DEPTH = 32;

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
type ArithOp = '+' | '-' | '*' | '/' | '%';

/** A parsed expression. `bool` nodes yield true/false; `value` nodes a number or string. */
export type ExprNode =
  | { kind: 'literal'; value: ParamValue | boolean }
  | { kind: 'name'; name: string }
  | { kind: 'neg'; operand: ExprNode }
  | { kind: 'arith'; op: ArithOp; left: ExprNode; right: ExprNode }
  | { kind: 'compare'; op: CompareOp; left: ExprNode; right: ExprNode }
  | { kind: 'in'; negated: boolean; operand: ExprNode; values: ParamValue[] }
  | { kind: 'not'; operand: ExprNode }
  | { kind: 'logic'; op: 'and' | 'or'; left: ExprNode; right: ExprNode };

/** A condition or constraint that does not parse; `column` is 1-based. */
export class ExpressionError extends Error {
  readonly code = 'EXPRESSION_INVALID';
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} (at column ${column})`);
    this.name = 'ExpressionError';
  }
}

interface Token {
  type: 'number' | 'string' | 'name' | 'op' | 'end';
  text: string;
  value?: number | string;
  column: number;
}

const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  ',',
];
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const column = i + 1;
    const space = /^\s+/.exec(rest);
    const number = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(rest);
    const name = /^[A-Za-z_]\w*/.exec(rest);
    const quote = rest[0];
    if (space) {
      i += space[0].length;
    } else if (number) {
      tokens.push({ type: 'number', text: number[0], value: Number(number[0]), column });
      i += number[0].length;
    } else if (name) {
      tokens.push({ type: 'name', text: name[0], column });
      i += name[0].length;
    } else if (quote === "'" || quote === '"') {
      const end = text.indexOf(quote, i + 1);
      if (end < 0) throw new ExpressionError(`unterminated string`, column);
      tokens.push({
        type: 'string',
        text: text.slice(i, end + 1),
        value: text.slice(i + 1, end),
        column,
      });
      i = end + 1;
    } else {
      const op = OPERATORS.find((o) => rest.startsWith(o));
      if (op === undefined) {
        throw new ExpressionError(`unexpected character ${JSON.stringify(rest[0])}`, column);
      }
      tokens.push({ type: 'op', text: op, column });
      i += op.length;
    }
  }
  tokens.push({ type: 'end', text: 'end of expression', column: text.length + 1 });
  return tokens;
}

/** Recursive-descent parser over the token list; every node is checked to be bool or value. */
class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): ExprNode {
    const node = this.or();
    const next = this.peek();
    if (next.type !== 'end') throw new ExpressionError(`unexpected "${next.text}"`, next.column);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.index] ?? { type: 'end', text: 'end of expression', column: 0 };
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.tokens[this.index + offset];
    return t?.type === 'name' && t.text === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.type === 'op' && t.text === op;
  }

  private expectOp(op: string): void {
    const t = this.peek();
    if (!this.isOp(op)) throw new ExpressionError(`expected "${op}", got "${t.text}"`, t.column);
    this.index += 1;
  }

  private nested<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) {
      throw new ExpressionError(`nested more than ${MAX_DEPTH} deep`, this.peek().column);
    }
    try {
      return fn();
    } finally {
      this.depth -= 1;
    }
  }

  private bool(node: ExprNode, column: number, what: string): ExprNode {
    if (!isBoolNode(node)) {
      throw new ExpressionError(`${what} needs a comparison (e.g. x > 1), not a value`, column);
    }
    return node;
  }

  private value(node: ExprNode, column: number, what: string): ExprNode {
    if (isBoolNode(node)) {
      throw new ExpressionError(`${what} needs a value, not a condition`, column);
    }
    return node;
  }

  private or(): ExprNode {
    const column = this.peek().column;
    let left = this.and();
    while (this.isWord('or')) {
      const at = this.peek().column;
      this.index += 1;
      left = this.bool(left, column, '"or"');
      left = { kind: 'logic', op: 'or', left, right: this.bool(this.and(), at + 3, '"or"') };
    }
    return left;
  }

  private and(): ExprNode {
    const column = this.peek().column;
    let left = this.not();
    while (this.isWord('and')) {
      const at = this.peek().column;
      this.index += 1;
      left = this.bool(left, column, '"and"');
      left = { kind: 'logic', op: 'and', left, right: this.bool(this.not(), at + 4, '"and"') };
    }
    return left;
  }

  private not(): ExprNode {
    if (this.isWord('not')) {
      const column = this.peek().column;
      this.index += 1;
      return {
        kind: 'not',
        operand: this.bool(
          this.nested(() => this.not()),
          column,
          '"not"',
        ),
      };
    }
    return this.compare();
  }

  private compare(): ExprNode {
    const column = this.peek().column;
    const left = this.sum();
    const t = this.peek();
    if (t.type === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.index += 1;
      const right = this.value(this.sum(), t.column, `"${t.text}"`);
      return {
        kind: 'compare',
        op: t.text as CompareOp,
        left: this.value(left, column, `"${t.text}"`),
        right,
      };
    }
    const negated = this.isWord('not') && this.isWord('in', 1);
    if (negated || this.isWord('in')) {
      this.index += negated ? 2 : 1;
      return {
        kind: 'in',
        negated,
        operand: this.value(left, column, '"in"'),
        values: this.list(),
      };
    }
    return left;
  }

  private list(): ParamValue[] {
    this.expectOp('[');
    const values: ParamValue[] = [];
    while (!this.isOp(']')) {
      if (values.length > 0) this.expectOp(',');
      const negative = this.isOp('-');
      if (negative) this.index += 1;
      const t = this.peek();
      if (t.type === 'number' && typeof t.value === 'number') {
        values.push(negative ? -t.value : t.value);
      } else if (t.type === 'string' && !negative) {
        values.push(String(t.value));
      } else {
        throw new ExpressionError(
          `a list holds numbers and strings only; got "${t.text}"`,
          t.column,
        );
      }
      this.index += 1;
    }
    this.index += 1;
    return values;
  }

  private sum(): ExprNode {
    let left = this.product();
    for (
      let t = this.peek();
      t.type === 'op' && (t.text === '+' || t.text === '-');
      t = this.peek()
    ) {
      this.index += 1;
      const right = this.value(this.product(), t.column, `"${t.text}"`);
      left = { kind: 'arith', op: t.text, left: this.value(left, t.column, `"${t.text}"`), right };
    }
    return left;
  }

  private product(): ExprNode {
    let left = this.unary();
    for (
      let t = this.peek();
      t.type === 'op' && (t.text === '*' || t.text === '/' || t.text === '%');
      t = this.peek()
    ) {
      this.index += 1;
      const right = this.value(this.unary(), t.column, `"${t.text}"`);
      left = { kind: 'arith', op: t.text, left: this.value(left, t.column, `"${t.text}"`), right };
    }
    return left;
  }

  private unary(): ExprNode {
    if (this.isOp('-')) {
      const column = this.peek().column;
      this.index += 1;
      return {
        kind: 'neg',
        operand: this.value(
          this.nested(() => this.unary()),
          column,
          '"-"',
        ),
      };
    }
    return this.atom();
  }

  private atom(): ExprNode {
    const t = this.peek();
    this.index += 1;
    if (t.type === 'number' || t.type === 'string') {
      return { kind: 'literal', value: t.value ?? '' };
    }
    if (t.type === 'name') {
      if (t.text === 'true' || t.text === 'false') {
        return { kind: 'literal', value: t.text === 'true' };
      }
      if (KEYWORDS.has(t.text)) throw new ExpressionError(`unexpected "${t.text}"`, t.column);
      return { kind: 'name', name: t.text };
    }
    if (t.type === 'op' && t.text === '(') {
      const inner = this.nested(() => this.or());
      this.expectOp(')');
      return inner;
    }
    throw new ExpressionError(
      t.type === 'end' ? 'the expression ends too early' : `unexpected "${t.text}"`,
      t.column,
    );
  }
}

function isBoolNode(node: ExprNode): boolean {
  return (
    node.kind === 'compare' ||
    node.kind === 'in' ||
    node.kind === 'not' ||
    node.kind === 'logic' ||
    (node.kind === 'literal' && typeof node.value === 'boolean')
  );
}

/** Parses a condition/constraint; throws ExpressionError (with a column) when it is not one. */
export function parseExpression(text: string): ExprNode {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(`longer than ${MAX_EXPRESSION_LENGTH} characters`, 1);
  }
  if (text.trim() === '') throw new ExpressionError('empty expression', 1);
  const node = new Parser(tokenize(text)).parse();
  if (!isBoolNode(node)) {
    throw new ExpressionError('must be a condition (e.g. batchSize * inputSize <= 65536)', 1);
  }
  return node;
}

/** The parameter names an expression reads, in order of first use. */
export function expressionNames(node: ExprNode): string[] {
  const names = new Set<string>();
  const walk = (n: ExprNode): void => {
    switch (n.kind) {
      case 'name':
        names.add(n.name);
        break;
      case 'neg':
      case 'not':
        walk(n.operand);
        break;
      case 'in':
        walk(n.operand);
        break;
      case 'arith':
      case 'compare':
      case 'logic':
        walk(n.left);
        walk(n.right);
        break;
      case 'literal':
        break;
    }
  };
  walk(node);
  return [...names];
}

type Value = ParamValue | boolean | undefined;

function arith(op: ArithOp, a: number, b: number): number | undefined {
  const r =
    op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : a % b;
  return Number.isFinite(r) ? r : undefined;
}

function compare(op: CompareOp, a: Value, b: Value): boolean {
  if (a === undefined || b === undefined) return false;
  if (op === '==') return a === b;
  if (op === '!=') return a !== b;
  if (typeof a !== typeof b || typeof a === 'boolean') return false;
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

/**
 * Evaluates a parsed expression against a trial's parameters. A parameter missing from `params`
 * (inactive by its `when:`) has no value: arithmetic on it has no value either, and every
 * comparison or `in` test involving it is false.
 */
export function evaluateExpression(node: ExprNode, params: ParamSet): boolean {
  return evaluate(node, params) === true;
}

function evaluate(node: ExprNode, params: ParamSet): Value {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'name':
      return Object.hasOwn(params, node.name) ? params[node.name] : undefined;
    case 'neg': {
      const v = evaluate(node.operand, params);
      return typeof v === 'number' ? -v : undefined;
    }
    case 'arith': {
      const a = evaluate(node.left, params);
      const b = evaluate(node.right, params);
      return typeof a === 'number' && typeof b === 'number' ? arith(node.op, a, b) : undefined;
    }
    case 'compare':
      return compare(node.op, evaluate(node.left, params), evaluate(node.right, params));
    case 'in': {
      const v = evaluate(node.operand, params);
      if (v === undefined || typeof v === 'boolean') return false;
      return node.values.includes(v) !== node.negated;
    }
    case 'not':
      return evaluate(node.operand, params) !== true;
    case 'logic': {
      const a = evaluate(node.left, params) === true;
      if (node.op === 'and' ? !a : a) return a;
      return evaluate(node.right, params) === true;
    }
  }
}
