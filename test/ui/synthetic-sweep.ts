/**
 * Synthetic sweep state written straight into Redis (the keys the controller and workers keep), for
 * tests of the event stream and the dashboard that need many trials without training any: a sweep
 * record outside the controller's active set (so no controller touches it), trial states and
 * per-epoch metrics. Values come from the project's seeded PRNG.
 */
import { type SweepRecord } from '@setrain/api';
import {
  parseSweepSpec,
  redisKeys,
  trialIdOf,
  type EpochMetrics,
  type TrialState,
} from '@setrain/protocol';
import { Prng } from '@setrain/sweep';
import { type Redis } from 'ioredis';

export interface SyntheticSweepOptions {
  readonly sweepId: string;
  readonly trials: number;
  /** Epochs already finished by every trial. */
  readonly epochs: number;
  readonly seed?: number;
  /** Every n-th trial is completed with an objective value (the rest run); default never. */
  readonly completeEvery?: number;
}

/** The metrics of epoch `epoch` of a trial whose learning rate is `lr` (loss falls with epochs). */
export function syntheticEpoch(epoch: number, lr: number, noise: number): EpochMetrics {
  const loss = 2 / (1 + epoch * lr * 10) + noise;
  return {
    epoch,
    loss,
    accuracy: 1 - loss / 3,
    val_loss: loss * 1.1,
    val_accuracy: 1 - (loss * 1.1) / 3,
    durationMs: 1000,
    imagesPerSec: 10,
  };
}

export function syntheticTrial(sweepId: string, n: number, lr: number, epochs: number): TrialState {
  return {
    trialId: trialIdOf(sweepId, n),
    trialNumber: n,
    status: 'running',
    params: { learningRate: lr, optimizer: n % 2 === 0 ? 'adam' : 'sgd' },
    epochsCompleted: epochs,
    ...(epochs > 0 ? { latest: syntheticEpoch(epochs, lr, 0) } : {}),
    objectiveValue: null,
    attempts: 1,
    workerId: `worker-${n % 4}`,
  };
}

/** Writes the sweep, its trials and their epochs; returns each trial's learning rate. */
export async function writeSyntheticSweep(
  redis: Redis,
  prefix: string,
  options: SyntheticSweepOptions,
): Promise<number[]> {
  const keys = redisKeys(prefix);
  const prng = new Prng(options.seed ?? 1);
  const random = (): number => prng.next();
  const now = new Date().toISOString();
  const spec = parseSweepSpec({
    name: 'synthetic',
    dataset: 's3://synthetic/datasets/x/manifest.jsonl',
    model: { inputSize: 75 },
    training: { epochs: 50 },
    search: {
      strategy: 'random',
      parameters: {
        learningRate: { type: 'log_uniform', min: 0.0001, max: 0.1 },
        optimizer: ['adam', 'sgd'],
      },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: options.trials,
  });
  const record: SweepRecord = {
    id: options.sweepId,
    kind: 'sweep',
    name: 'synthetic',
    spec,
    status: 'running',
    createdAt: now,
    updatedAt: now,
    plannedTrials: options.trials,
    startedTrials: options.trials,
    artifactsBucket: 'synthetic',
    sampler: 'random',
    best: null,
    finalSweepJsonWritten: false,
    warmStart: [],
    version: 0,
  };
  const rates: number[] = [];
  const batch = redis.pipeline();
  for (let n = 1; n <= options.trials; n++) {
    const lr = 0.0001 * 1000 ** random();
    rates.push(lr);
    let trial = syntheticTrial(record.id, n, lr, options.epochs);
    if (options.completeEvery !== undefined && n % options.completeEvery === 0) {
      const objectiveValue = trial.latest?.val_loss ?? null;
      trial = { ...trial, status: 'completed', objectiveValue, finishedAt: now };
      if (
        objectiveValue !== null &&
        (record.best === null || objectiveValue < record.best.objectiveValue)
      ) {
        record.best = { trialId: trial.trialId, params: trial.params, objectiveValue };
      }
    }
    batch.hset(keys.sweepTrials(record.id), trial.trialId, JSON.stringify(trial));
    const epochs = Array.from({ length: options.epochs }, (_, i) =>
      JSON.stringify(syntheticEpoch(i + 1, lr, random() * 0.01)),
    );
    if (epochs.length > 0) batch.rpush(keys.trialEpochs(trial.trialId), ...epochs);
  }
  batch.set(keys.sweep(record.id), JSON.stringify(record));
  batch.zadd(keys.sweeps, Date.parse(now), record.id);
  await batch.exec();
  return rates;
}

/** Finishes one more epoch of trial `n` (as a worker would: epochs list, then the trial state). */
export async function appendSyntheticEpoch(
  redis: Redis,
  prefix: string,
  sweepId: string,
  n: number,
  lr: number,
  epoch: number,
): Promise<void> {
  const keys = redisKeys(prefix);
  const trial = syntheticTrial(sweepId, n, lr, epoch);
  await redis
    .multi()
    .rpush(keys.trialEpochs(trial.trialId), JSON.stringify(syntheticEpoch(epoch, lr, 0)))
    .hset(keys.sweepTrials(sweepId), trial.trialId, JSON.stringify(trial))
    .exec();
}
