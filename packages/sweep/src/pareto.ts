import type { Goal } from '@setrain/protocol';

/** True when a is at least as good as b in every objective and better in one (goals per index). */
export function dominates(
  a: readonly number[],
  b: readonly number[],
  goals: readonly Goal[],
): boolean {
  let better = false;
  for (let i = 0; i < goals.length; i++) {
    const x = goals[i] === 'maximize' ? -(a[i] ?? NaN) : (a[i] ?? NaN);
    const y = goals[i] === 'maximize' ? -(b[i] ?? NaN) : (b[i] ?? NaN);
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/**
 * Non-dominated sorting (Deb et al. 2002, the simple O(M N^2) form): rank 0 is the Pareto front,
 * rank 1 the front once rank 0 is removed, and so on. Returns each point's rank, by index.
 */
export function nondominatedRanks(
  points: readonly (readonly number[])[],
  goals: readonly Goal[],
): number[] {
  const ranks = points.map(() => -1);
  let remaining = points.map((_, i) => i);
  for (let rank = 0; remaining.length > 0; rank++) {
    const front = remaining.filter(
      (i) => !remaining.some((j) => j !== i && dominates(points[j] ?? [], points[i] ?? [], goals)),
    );
    for (const i of front) ranks[i] = rank;
    remaining = remaining.filter((i) => ranks[i] === -1);
  }
  return ranks;
}

/**
 * Hypervolume of two-objective points against a reference point (the area they dominate inside
 * the box up to the reference), both objectives read under their goals. Points not strictly
 * better than the reference in both objectives add nothing.
 */
export function hypervolume2d(
  points: readonly (readonly number[])[],
  reference: readonly [number, number],
  goals: readonly [Goal, Goal],
): number {
  const flip = (v: number, g: Goal): number => (g === 'maximize' ? -v : v);
  const [r0, r1] = [flip(reference[0], goals[0]), flip(reference[1], goals[1])];
  const inside = points
    .map((p) => [flip(p[0] ?? NaN, goals[0]), flip(p[1] ?? NaN, goals[1])] as const)
    .filter(([a, b]) => a < r0 && b < r1)
    .sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  let area = 0;
  let bestSecond = r1;
  for (const [a, b] of inside) {
    if (b >= bestSecond) continue;
    area += (r0 - a) * (bestSecond - b);
    bestSecond = b;
  }
  return area;
}
