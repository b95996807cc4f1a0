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

/** Sums over a batch: total loss, correct predictions and how many predictions were scored. */
interface MetricSums {
  loss: number;
  correct: number;
  count: number;
}

/** Binary cross-entropy and accuracy at 0.5 summed over every output. */
function binarySums(probs: ArrayLike<number>, targets: ArrayLike<number>): MetricSums {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = clip(probs[i] as number);
    const t = targets[i] as number;
    loss -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    if ((p >= 0.5 ? 1 : 0) === t) correct += 1;
  }
  return { loss, correct, count: probs.length };
}

/** Keras's binary cross-entropy (mean over every output) and binary accuracy at 0.5. */
export function binaryMetrics(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
): EvaluationMetrics {
  return meansOf(binarySums(probs, targets));
}

function meansOf(sums: MetricSums): EvaluationMetrics {
  const n = Math.max(1, sums.count);
  return { loss: sums.loss / n, accuracy: sums.correct / n };
}

/** Keras's categorical cross-entropy (mean over samples) and top-1 accuracy. */
export function categoricalMetrics(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
  numClasses: number,
): EvaluationMetrics {
  return meansOf(categoricalSums(probs, targets, numClasses));
}

/** Categorical cross-entropy and top-1 hits summed over samples. */
function categoricalSums(
  probs: ArrayLike<number>,
  targets: ArrayLike<number>,
  numClasses: number,
): MetricSums {
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
  return { loss, correct, count: samples };
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

/**
 * Validation metrics computed batch by batch: loss and accuracy are summed as batches arrive, and
 * (for AUC) each class's scores are appended one value at a time, so no array is ever built by
 * spreading a batch (`push(...batch)` overflows the call stack above ~125k values, e.g. batch
 * 256 x 1000 classes).
 */
export class StreamingEvaluation {
  private readonly sums: MetricSums = { loss: 0, correct: 0, count: 0 };
  /** Per class: scores and labels of every sample (multi-label AUC only). */
  private readonly scores: number[][];
  private readonly labels: number[][];

  constructor(
    private readonly numClasses: number,
    /** Binary cross-entropy per output (sigmoid head) instead of categorical per sample. */
    private readonly binary: boolean,
    /** Keep per-class scores for the mean ROC AUC. */
    private readonly withAuc: boolean,
  ) {
    this.scores = withAuc ? Array.from({ length: numClasses }, () => []) : [];
    this.labels = withAuc ? Array.from({ length: numClasses }, () => []) : [];
  }

  /** Adds one batch: predicted probabilities and multi-hot targets, both [samples, classes] flat. */
  add(probs: ArrayLike<number>, targets: ArrayLike<number>): void {
    const batch = this.binary
      ? binarySums(probs, targets)
      : categoricalSums(probs, targets, this.numClasses);
    this.sums.loss += batch.loss;
    this.sums.correct += batch.correct;
    this.sums.count += batch.count;
    if (!this.withAuc) return;
    const samples = Math.floor(probs.length / this.numClasses);
    for (let c = 0; c < this.numClasses; c++) {
      const scores = this.scores[c] as number[];
      const labels = this.labels[c] as number[];
      for (let s = 0; s < samples; s++) {
        scores.push(probs[s * this.numClasses + c] as number);
        labels.push(targets[s * this.numClasses + c] as number);
      }
    }
  }

  /** Mean loss and accuracy so far, and the mean per-class ROC AUC when kept. */
  result(): EvaluationMetrics {
    const means = meansOf(this.sums);
    if (!this.withAuc) return means;
    const aucs: number[] = [];
    for (let c = 0; c < this.numClasses; c++) {
      const auc = rocAuc(this.scores[c] as number[], this.labels[c] as number[]);
      if (auc !== undefined) aucs.push(auc);
    }
    return aucs.length === 0
      ? means
      : { ...means, auc: aucs.reduce((a, b) => a + b, 0) / aucs.length };
  }
}
