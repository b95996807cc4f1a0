/** Probabilities are clipped like Keras does before taking logs, so a confident miss costs ~16, not Inf. */
export const PROBABILITY_EPSILON = 1e-7;

/** Validation metrics computed from predicted probabilities and multi-hot targets ([n, classes] flat). */
export interface EvaluationMetrics {
  loss: number;
  accuracy: number;
  /** Mean per-class ROC AUC over classes that have both positives and negatives (multi-label only). */
  auc?: number;
}

function clip(p: number): number {
  return Math.min(1 - PROBABILITY_EPSILON, Math.max(PROBABILITY_EPSILON, p));
}

/** Keras's binary cross-entropy (mean over every output) and binary accuracy at 0.5. */
export function binaryMetrics(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
): EvaluationMetrics {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = clip(probs[i] as number);
    const t = targets[i] as number;
    loss -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    if ((p >= 0.5 ? 1 : 0) === t) correct += 1;
  }
  const n = Math.max(1, probs.length);
  return { loss: loss / n, accuracy: correct / n };
}

/** Keras's categorical cross-entropy (mean over samples) and top-1 accuracy. */
export function categoricalMetrics(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
  numClasses: number,
): EvaluationMetrics {
  const samples = Math.floor(probs.length / numClasses);
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < samples; s++) {
    let best = 0;
    let bestTarget = 0;
    for (let c = 0; c < numClasses; c++) {
      const i = s * numClasses + c;
      const t = targets[i] as number;
      if (t > 0) loss -= t * Math.log(clip(probs[i] as number));
      if ((probs[i] as number) > (probs[s * numClasses + best] as number)) best = c;
      if (t > (targets[s * numClasses + bestTarget] as number)) bestTarget = c;
    }
    if (best === bestTarget) correct += 1;
  }
  return { loss: loss / Math.max(1, samples), accuracy: correct / Math.max(1, samples) };
}

/** ROC AUC of one score list (Mann-Whitney U with average ranks for ties); undefined if one-sided. */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number | undefined {
  const positives = labels.filter((l) => l > 0.5).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return undefined;
  const order = scores.map((score, i) => ({ score, positive: (labels[i] ?? 0) > 0.5 }));
  order.sort((a, b) => a.score - b.score);
  let rankSumPositive = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.score === order[i]?.score) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (order[k]?.positive) rankSumPositive += averageRank;
    i = j + 1;
  }
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean ROC AUC over classes with both positives and negatives; undefined when there are none. */
export function meanRocAuc(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
  numClasses: number,
): number | undefined {
  const samples = Math.floor(probs.length / numClasses);
  const aucs: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const scores: number[] = [];
    const labels: number[] = [];
    for (let s = 0; s < samples; s++) {
      scores.push(probs[s * numClasses + c] as number);
      labels.push(targets[s * numClasses + c] as number);
    }
    const auc = rocAuc(scores, labels);
    if (auc !== undefined) aucs.push(auc);
  }
  return aucs.length === 0 ? undefined : aucs.reduce((a, b) => a + b, 0) / aucs.length;
}
