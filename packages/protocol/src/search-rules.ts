import {
  evaluateExpression,
  ExpressionError,
  expressionNames,
  parseExpression,
  type ExprNode,
} from './param-expression.js';
import type { Distribution, ParamSet } from './search-space.js';

/** Most constraints one search may carry. */
export const MAX_CONSTRAINTS = 50;

/** One problem with a condition or constraint, relative to the search section. */
export interface SearchRuleProblem {
  path: (string | number)[];
  message: string;
}

/** The parts of a search section the rules read. */
export interface RuledSearch {
  parameters: Record<string, Distribution>;
  constraints?: readonly string[] | undefined;
}

interface Conditional {
  name: string;
  /** The parsed `when:`; undefined for a parameter that is always searched. */
  when: ExprNode | undefined;
}

/**
 * The conditions (`when:` on parameters) and constraints of a search section, parsed once.
 * `apply` turns a full draw of every parameter into what a trial runs with: parameters whose
 * condition fails are left out (conditions are evaluated in dependency order, so a parameter whose
 * condition reads an inactive one sees no value there), and the result is undefined when a
 * constraint fails (the point is infeasible and must not run).
 */
export class SearchRules {
  /** Parameters in an order where every condition comes after the parameters it reads. */
  private readonly order: Conditional[];
  private readonly constraints: ExprNode[];
  /** Problems found while parsing; `check` reports them, `apply` needs none. */
  readonly problems: SearchRuleProblem[] = [];

  constructor(search: RuledSearch) {
    const names = Object.keys(search.parameters);
    const conditions = new Map<string, ExprNode>();
    for (const [name, dist] of Object.entries(search.parameters)) {
      if (dist.when === undefined) continue;
      const node = this.parse(dist.when, ['parameters', name, 'when']);
      if (node === undefined) continue;
      const unknown = this.checkNames(node, names, ['parameters', name, 'when']);
      if (expressionNames(node).includes(name)) {
        this.problems.push({
          path: ['parameters', name, 'when'],
          message: `the condition of ${name} reads ${name} itself; a condition may only read other parameters`,
        });
      } else if (!unknown) conditions.set(name, node);
    }
    this.order = this.sortByDependencies(names, conditions);
    this.constraints = [];
    (search.constraints ?? []).forEach((text, i) => {
      const node = this.parse(text, ['constraints', i]);
      if (node !== undefined && !this.checkNames(node, names, ['constraints', i])) {
        this.constraints.push(node);
      }
    });
  }

  /** True when the search has a condition or a constraint. */
  get active(): boolean {
    return this.constraints.length > 0 || this.order.some((c) => c.when !== undefined);
  }

  /** A draw of every parameter -> the trial's parameters, or undefined when infeasible. */
  apply(draw: ParamSet): ParamSet | undefined {
    if (!this.active) return draw;
    const activeParams: ParamSet = {};
    for (const { name, when } of this.order) {
      const value = draw[name];
      if (value === undefined) continue;
      if (when === undefined || evaluateExpression(when, activeParams)) activeParams[name] = value;
    }
    if (!this.constraints.every((c) => evaluateExpression(c, activeParams))) return undefined;
    // Spec order, as the samplers produce it.
    return Object.fromEntries(
      Object.keys(draw).flatMap((name) =>
        Object.hasOwn(activeParams, name) ? [[name, activeParams[name] as ParamSet[string]]] : [],
      ),
    );
  }

  private parse(text: string, path: (string | number)[]): ExprNode | undefined {
    try {
      return parseExpression(text);
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      this.problems.push({ path, message: `${error.message}: ${JSON.stringify(text)}` });
      return undefined;
    }
  }

  /** Reports names that are not parameters of this search; true when there were some. */
  private checkNames(node: ExprNode, names: string[], path: (string | number)[]): boolean {
    const unknown = expressionNames(node).filter((n) => !names.includes(n));
    for (const name of unknown) {
      this.problems.push({
        path,
        message: `"${name}" is not a parameter of this search; conditions and constraints read search.parameters (${names.join(', ') || 'none'})`,
      });
    }
    return unknown.length > 0;
  }

  /** Topological order of the parameters; a cycle of conditions is a problem. */
  private sortByDependencies(names: string[], conditions: Map<string, ExprNode>): Conditional[] {
    const order: Conditional[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, chain: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        const cycle = [...chain.slice(chain.indexOf(name)), name];
        this.problems.push({
          path: ['parameters', name, 'when'],
          message: `conditions form a cycle (${cycle.join(' -> ')}); a parameter cannot depend on itself`,
        });
        return;
      }
      state.set(name, 'visiting');
      const when = conditions.get(name);
      for (const dep of when === undefined ? [] : expressionNames(when)) {
        visit(dep, [...chain, name]);
      }
      state.set(name, 'done');
      order.push({ name, when });
    };
    for (const name of names) visit(name, []);
    return order;
  }
}
