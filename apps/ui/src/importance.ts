/**
 * Parameter importance: permutation importance on a random forest of regression trees (Breiman
 * 2001). A forest predicts the objective from the parameters; a parameter's importance is how much
 * the forest's out-of-bag squared error grows when that parameter's values are shuffled among the
 * out-of-bag trials, averaged over trees and reported as a share of the total (sums to 1). Numbers
 * split on their value; categorical values on their index in order of first appearance.
 */
import { Prng } from '@setrain/sweep';

/** Options of {@link permutationImportance}; the defaults suit tens to thousands of trials. */
export interface ImportanceArgs {
  /** Trees in the forest; default 50. */
  readonly trees?: number;
  /** Deepest split; default 6. */
  readonly maxDepth?: number;
  /** Fewest samples in a leaf; default 2. */
  readonly minLeaf?: number;
  /** Seed of the bootstrap, feature choice and shuffles; default 1. */
  readonly seed?: number;
}
export const DEFAULT_IMPORTANCE_TREES = 50;
export const DEFAULT_IMPORTANCE_MAX_DEPTH = 6;
export const DEFAULT_IMPORTANCE_MIN_LEAF = 2;
/** Fewer trials than this give no importance (a forest of 3 points says nothing). */
export const MIN_IMPORTANCE_SAMPLES = 8;

export interface ImportanceSample {
  readonly params: Readonly<Record<string, number | string>>;
  readonly value: number;
}

export interface ParamImportance {
  readonly name: string;
  /** Share of the total importance, 0..1. */
  readonly share: number;
}

type Node = { leaf: number } | { feature: number; threshold: number; left: Node; right: Node };

/** Encodes every parameter as a number column (categories by first appearance). */
export function encode(samples: readonly ImportanceSample[]): { names: string[]; x: number[][] } {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.params)))].sort();
  const categories = names.map(() => new Map<string, number>());
  const x = samples.map((s) =>
    names.map((name, j) => {
      const v = s.params[name];
      if (typeof v === 'number') return v;
      if (v === undefined) return Number.NaN;
      const codes = categories[j]!;
      if (!codes.has(v)) codes.set(v, codes.size);
      return codes.get(v)!;
    }),
  );
  return { names, x };
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? 0 : sum / values.length;
}

/** The best variance-reducing split of `rows` on `feature`, or undefined. */
function bestSplit(
  x: readonly number[][],
  y: readonly number[],
  rows: readonly number[],
  feature: number,
  minLeaf: number,
): { threshold: number; score: number } | undefined {
  const sorted = [...rows].sort((a, b) => x[a]![feature]! - x[b]![feature]!);
  let leftSum = 0;
  let leftSq = 0;
  let totalSum = 0;
  let totalSq = 0;
  for (const r of sorted) {
    totalSum += y[r]!;
    totalSq += y[r]! ** 2;
  }
  let best: { threshold: number; score: number } | undefined;
  for (let i = 0; i < sorted.length - 1; i++) {
    const r = sorted[i]!;
    leftSum += y[r]!;
    leftSq += y[r]! ** 2;
    const here = x[r]![feature]!;
    const next = x[sorted[i + 1]!]![feature]!;
    const nLeft = i + 1;
    const nRight = sorted.length - nLeft;
    if (here === next || nLeft < minLeaf || nRight < minLeaf) continue;
    const rightSum = totalSum - leftSum;
    const sse = leftSq - leftSum ** 2 / nLeft + (totalSq - leftSq) - rightSum ** 2 / nRight;
    if (best === undefined || sse < best.score) best = { threshold: (here + next) / 2, score: sse };
  }
  return best;
}

function grow(
  x: readonly number[][],
  y: readonly number[],
  rows: readonly number[],
  depth: number,
  args: Required<ImportanceArgs>,
  prng: Prng,
): Node {
  const features = x[0]?.length ?? 0;
  if (depth >= args.maxDepth || rows.length < 2 * args.minLeaf) {
    return { leaf: mean(rows.map((r) => y[r]!)) };
  }
  // Each split considers a random third of the features (at least one), as random forests do.
  const tryCount = Math.max(1, Math.ceil(features / 3));
  const order = Array.from({ length: features }, (_, j) => j);
  for (let i = order.length - 1; i > 0; i--) {
    const k = prng.nextInt(i + 1);
    [order[i], order[k]] = [order[k]!, order[i]!];
  }
  let chosen: { feature: number; threshold: number; score: number } | undefined;
  for (const feature of order.slice(0, tryCount)) {
    const split = bestSplit(x, y, rows, feature, args.minLeaf);
    if (split !== undefined && (chosen === undefined || split.score < chosen.score)) {
      chosen = { feature, ...split };
    }
  }
  if (chosen === undefined) return { leaf: mean(rows.map((r) => y[r]!)) };
  const { feature, threshold } = chosen;
  const left = rows.filter((r) => x[r]![feature]! <= threshold);
  const right = rows.filter((r) => x[r]![feature]! > threshold);
  return {
    feature,
    threshold,
    left: grow(x, y, left, depth + 1, args, prng),
    right: grow(x, y, right, depth + 1, args, prng),
  };
}

function predict(node: Node, row: readonly number[]): number {
  let current = node;
  while (!('leaf' in current)) {
    current = row[current.feature]! <= current.threshold ? current.left : current.right;
  }
  return current.leaf;
}

function squaredError(tree: Node, rows: readonly (readonly number[])[], y: readonly number[]) {
  let sum = 0;
  rows.forEach((row, i) => (sum += (predict(tree, row) - y[i]!) ** 2));
  return sum / Math.max(1, rows.length);
}

/**
 * Each parameter's share of the importance, largest first; empty with fewer than
 * MIN_IMPORTANCE_SAMPLES samples or when no parameter changes the forest's error.
 */
export function permutationImportance(
  samples: readonly ImportanceSample[],
  options: ImportanceArgs = {},
): ParamImportance[] {
  const steps = importanceSteps(samples, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * permutationImportance one tree at a time: the generator yields after each tree and returns the
 * result, so a page can spread the work over short tasks instead of one long one.
 */
export function* importanceSteps(
  samples: readonly ImportanceSample[],
  options: ImportanceArgs = {},
): Generator<undefined, ParamImportance[]> {
  const finite = samples.filter((s) => Number.isFinite(s.value));
  if (finite.length < MIN_IMPORTANCE_SAMPLES) return [];
  const args: Required<ImportanceArgs> = {
    trees: options.trees ?? DEFAULT_IMPORTANCE_TREES,
    maxDepth: options.maxDepth ?? DEFAULT_IMPORTANCE_MAX_DEPTH,
    minLeaf: options.minLeaf ?? DEFAULT_IMPORTANCE_MIN_LEAF,
    seed: options.seed ?? 1,
  };
  const { names, x } = encode(finite);
  const y = finite.map((s) => s.value);
  const prng = new Prng(args.seed);
  const raw = names.map(() => 0);
  for (let t = 0; t < args.trees; t++) {
    const inBag = new Set<number>();
    const bag = finite.map(() => {
      const r = prng.nextInt(finite.length);
      inBag.add(r);
      return r;
    });
    const outOfBag = finite.map((_, r) => r).filter((r) => !inBag.has(r));
    if (outOfBag.length < 2) continue;
    const tree = grow(x, y, bag, 0, args, prng);
    const oobY = outOfBag.map((r) => y[r]!);
    const oobX = outOfBag.map((r) => x[r]!);
    const base = squaredError(tree, oobX, oobY);
    names.forEach((_, j) => {
      const shuffled = oobX.map((row) => [...row]);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const k = prng.nextInt(i + 1);
        const a = shuffled[i]![j]!;
        shuffled[i]![j] = shuffled[k]![j]!;
        shuffled[k]![j] = a;
      }
      raw[j]! += squaredError(tree, shuffled, oobY) - base;
    });
    yield;
  }
  const clipped = raw.map((v) => Math.max(0, v));
  const total = clipped.reduce((a, b) => a + b, 0);
  if (total <= 0) return [];
  return names
    .map((name, j) => ({ name, share: clipped[j]! / total }))
    .sort((a, b) => b.share - a.share);
}
