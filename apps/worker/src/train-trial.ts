import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';

import type { S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initEngine } from '@setrain/engine';
import {
  buildSeInceptionV3,
  DEFAULT_RECALIBRATION_BATCHES,
  exportKerasWeights,
  importKerasWeights,
  recalibrateBatchNorm,
} from '@setrain/model';
import {
  FINAL_FILES,
  formatS3Uri,
  runKeys,
  trialRecordSchema,
  type EpochMetrics,
  type HeadActivation,
  type TrainingSpec,
  type TrialRecord,
} from '@setrain/protocol';
import {
  createS3Client,
  datasetImageKey,
  DatasetInvalidError,
  getObjectBytes,
  joinKey,
  listObjects,
  parseS3UriOrThrow,
  putObject,
  readDataset,
  s3SaveHandler,
  uploadLarge,
  type Dataset,
  type ObjectSummary,
  type S3SaveResult,
} from '@setrain/storage';

import { findLatestCheckpoint, restoreCheckpoint, writeCheckpoint } from './checkpoints.js';
import {
  baseSizeFor,
  chunk,
  loadBatch,
  multiHot,
  planEpoch,
  planValidation,
  splitIndices,
  type BatchArrays,
  type Sample,
  type SamplePlan,
} from './data-pipeline.js';
import { binaryMetrics, categoricalMetrics, meanRocAuc } from './eval-metrics.js';
import { ImageCache, type CacheRequest } from './image-cache.js';
import { bestEpochOf, objectiveOf } from './objective.js';
import { WORKER_PACKAGE_VERSION } from './package-version.js';
import { SeededRandom } from './seeded-random.js';
import type {
  ChildMessage,
  EarlyStopDecision,
  StopReason,
  TrialOutcome,
  TrialRunRequest,
  TrialStarted,
} from './trial-ipc.js';
import { errorMessage, WorkerError } from './worker-error.js';

/** How a running trial talks to whoever started it (the worker process, over IPC). */
export interface TrialChannel {
  send(message: ChildMessage): void;
  /** A stop asked for since the trial started, if any; checked at every batch boundary. */
  stopRequested(): { reason: StopReason; message: string } | undefined;
  /**
   * The early-stopping decision after an epoch (asked only when the payload has a rule). The trial
   * waits for it, so a stopped trial's final weights are those of the epoch it was stopped at.
   * Without it, trials always go on.
   */
  decide?(epoch: number): Promise<EarlyStopDecision>;
}

/** Thrown at a batch boundary once a stop was asked for. */
class StopRequested extends Error {
  constructor(
    readonly reason: StopReason,
    message: string,
  ) {
    super(message);
  }
}

/** Manifest keys missing from S3 named in one error (the rest are counted). */
const MAX_NAMED_MISSING = 5;

function makeOptimizer(training: TrainingSpec): tf.Optimizer {
  switch (training.optimizer) {
    case 'adam':
      return tf.train.adam(training.learningRate);
    case 'sgd':
      // Plain SGD has no state to checkpoint; with momentum it keeps one accumulator per weight.
      return training.momentum > 0
        ? tf.train.momentum(training.learningRate, training.momentum)
        : tf.train.sgd(training.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(training.learningRate, 0.9, training.momentum);
  }
}

/**
 * Picks the output activation: the payload's when given (softmax on a multi-label dataset is
 * rejected: it cannot put two labels above 0.5), else sigmoid for multi-label data and softmax for
 * single-label data. The loss follows the activation.
 */
export function chooseHeadActivation(
  requested: HeadActivation | undefined,
  multiLabel: boolean,
): HeadActivation {
  if (requested === 'softmax' && multiLabel) {
    throw new WorkerError(
      'MODEL_CONFIG_INVALID',
      'model.headActivation is softmax but the dataset is multi-label (some images have several labels); use sigmoid',
    );
  }
  return requested ?? (multiLabel ? 'sigmoid' : 'softmax');
}

interface PreparedData {
  readonly dataset: Dataset;
  readonly samples: Sample[];
  readonly train: number[];
  readonly validation: number[];
  readonly downloaded: number;
  readonly cached: number;
}

async function prepareData(client: S3Client, request: TrialRunRequest): Promise<PreparedData> {
  const { payload } = request;
  let dataset: Dataset;
  try {
    dataset = await readDataset(client, payload.dataset);
  } catch (error) {
    if (error instanceof DatasetInvalidError) {
      throw new WorkerError('DATASET_INVALID', error.message, { cause: error });
    }
    throw error;
  }
  const listing = new Map<string, ObjectSummary>();
  for await (const object of listObjects(client, dataset.bucket, `${dataset.prefix}/`)) {
    listing.set(object.key, object);
  }
  const requests: CacheRequest[] = [];
  const missing: string[] = [];
  for (const entry of dataset.entries) {
    const key = datasetImageKey(dataset, entry);
    const object = listing.get(key);
    if (object === undefined) missing.push(formatS3Uri({ bucket: dataset.bucket, key }));
    else requests.push({ bucket: dataset.bucket, key, etag: object.etag, size: object.size });
  }
  if (missing.length > 0) {
    const named = missing.slice(0, MAX_NAMED_MISSING).join(', ');
    const more =
      missing.length > MAX_NAMED_MISSING ? ` and ${missing.length - MAX_NAMED_MISSING} more` : '';
    throw new WorkerError(
      'IMAGE_MISSING',
      `${missing.length} image(s) listed in ${dataset.manifestUri} do not exist: ${named}${more}`,
    );
  }
  if (dataset.entries.length < 2) {
    throw new WorkerError(
      'DATASET_INVALID',
      `${dataset.manifestUri} has ${dataset.entries.length} image(s); training needs at least 2 (one for validation)`,
    );
  }
  const cache = new ImageCache(client, {
    dir: request.cacheDir,
    concurrency: request.downloadConcurrency,
  });
  const filled = await cache.fill(requests);
  const classIndex = new Map(dataset.classes.map((name, index) => [name, index]));
  const samples = dataset.entries.map((entry, index) => ({
    path: filled.paths[index] as string,
    uri: formatS3Uri({ bucket: dataset.bucket, key: datasetImageKey(dataset, entry) }),
    target: multiHot(entry.labels, classIndex),
  }));
  const { train, validation } = splitIndices(
    samples.length,
    payload.training.validationSplit,
    payload.training.seed,
  );
  return {
    dataset,
    samples,
    train,
    validation,
    downloaded: filled.downloaded,
    cached: filled.cached,
  };
}

function toTensors(
  arrays: BatchArrays,
  inputSize: number,
  numClasses: number,
): [tf.Tensor4D, tf.Tensor2D] {
  return [
    tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]),
    tf.tensor2d(arrays.targets, [arrays.count, numClasses]),
  ];
}

/**
 * Runs one trial to an outcome: reads and validates the dataset, fills the image cache, builds the
 * model, resumes from the latest complete checkpoint, trains epoch by epoch (checkpoint after each),
 * and writes final/ and trial.json. Never throws: every failure becomes a `failed` outcome.
 */
export async function runTrial(
  request: TrialRunRequest,
  channel: TrialChannel,
): Promise<TrialOutcome> {
  const { payload } = request;
  const startedAt = new Date().toISOString();
  const client = createS3Client(request.s3);
  const bucket = payload.artifactsBucket;
  const keys = runKeys(payload.sweepId).trial(payload.trialId);
  const history: EpochMetrics[] = [];
  let provenance: TrialRecord['provenance'] = {
    dataset: payload.dataset,
    seed: payload.training.seed,
    packageVersion: WORKER_PACKAGE_VERSION,
    workerId: request.workerId,
  };
  let model: LayersModel | undefined;
  let lastCheckpointEpoch = 0;

  const checkStop = (): void => {
    const stop = channel.stopRequested();
    if (stop !== undefined) throw new StopRequested(stop.reason, stop.message);
  };
  const record = (
    status: TrialRecord['status'],
    reason?: string,
    artifacts: TrialRecord['artifacts'] = [],
  ): TrialRecord => {
    const best = bestEpochOf(history, payload.objective);
    return trialRecordSchema.parse({
      trialId: payload.trialId,
      sweepId: payload.sweepId,
      trialNumber: payload.trialNumber,
      status,
      ...(reason !== undefined ? { reason } : {}),
      params: payload.params,
      model: payload.model,
      training: payload.training,
      objective: payload.objective,
      objectiveValue: best.value,
      bestEpoch: best.epoch,
      epochs: history,
      provenance,
      artifacts,
      startedAt,
      finishedAt: new Date().toISOString(),
    });
  };
  const writeRecord = async (trialRecord: TrialRecord): Promise<void> => {
    await putObject(client, bucket, keys.trialJson, `${JSON.stringify(trialRecord, null, 2)}\n`, {
      contentType: 'application/json',
    });
  };

  try {
    channel.send({ type: 'phase', phase: 'engine' });
    const engine = await initEngine(
      request.engineThreads === undefined
        ? { backend: request.engine }
        : { backend: request.engine, threads: request.engineThreads },
    );
    provenance = { ...provenance, engine: engine.backend };
    channel.send({ type: 'metric', event: { kind: 'engine', engine: engine.backend } });
    checkStop();

    channel.send({ type: 'phase', phase: 'dataset' });
    const data = await prepareData(client, request);
    const { dataset } = data;
    channel.send({
      type: 'metric',
      event: { kind: 'cache', hits: data.cached, misses: data.downloaded },
    });
    const numClasses = dataset.classes.length;
    const headActivation = chooseHeadActivation(payload.model.headActivation, dataset.multiLabel);
    const multiLabelLoss = headActivation === 'sigmoid';
    provenance = {
      ...provenance,
      manifestEtag: dataset.manifestEtag,
      numClasses,
      multiLabel: dataset.multiLabel,
      trainImages: data.train.length,
      validationImages: data.validation.length,
    };
    checkStop();

    channel.send({ type: 'phase', phase: 'model' });
    const inputSize = payload.model.inputSize ?? 299;
    try {
      model = buildSeInceptionV3({
        inputSize,
        numClasses,
        headActivation,
        ...(payload.model.seRatio !== undefined ? { seRatio: payload.model.seRatio } : {}),
        ...(payload.model.dropout !== undefined ? { dropout: payload.model.dropout } : {}),
        ...(payload.model.sePlacement !== undefined
          ? { sePlacement: payload.model.sePlacement }
          : {}),
        ...(payload.model.preprocessing !== undefined
          ? { preprocessing: payload.model.preprocessing }
          : {}),
        seed: payload.training.seed,
      });
    } catch (error) {
      throw new WorkerError(
        'MODEL_CONFIG_INVALID',
        `cannot build the model: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    const optimizer = makeOptimizer(payload.training);
    model.compile({
      optimizer,
      loss: multiLabelLoss ? 'binaryCrossentropy' : 'categoricalCrossentropy',
      metrics: ['accuracy'],
    });

    let random = new SeededRandom(payload.training.seed, 'train');
    const latest = await findLatestCheckpoint(client, bucket, keys.checkpointsPrefix);
    if (latest !== undefined) {
      channel.send({ type: 'phase', phase: 'restore' });
      const state = await restoreCheckpoint(client, bucket, latest.prefix, model, optimizer);
      random = SeededRandom.fromState(state.rngState);
      history.push(...state.epochs.filter((m) => m.epoch <= state.epoch));
      lastCheckpointEpoch = state.epoch;
      provenance = { ...provenance, resumedFromEpoch: state.epoch };
    } else if (payload.model.backboneWeights !== undefined) {
      channel.send({ type: 'phase', phase: 'backbone-weights' });
      const location = parseS3UriOrThrow(payload.model.backboneWeights);
      const h5 = await getObjectBytes(client, location.bucket, location.key);
      await importKerasWeights(model, h5.bytes);
    }
    const started: TrialStarted = {
      engine: engine.backend,
      engineDescription: engine.description,
      resumedFromEpoch: lastCheckpointEpoch,
      history: [...history],
      numClasses,
      multiLabel: dataset.multiLabel,
      trainImages: data.train.length,
      validationImages: data.validation.length,
      manifestEtag: dataset.manifestEtag,
      downloaded: data.downloaded,
      cached: data.cached,
    };
    channel.send({ type: 'started', started });

    const { augmentation, batchSize } = payload.training;
    const baseSize = baseSizeFor(inputSize, augmentation);
    const validationBatches = chunk(
      planValidation(data.validation, augmentation, inputSize),
      batchSize,
    );
    /** Set when the early-stopping rule stops the trial: the reason. */
    let earlyStopped: string | undefined;
    const askToGoOn = async (epoch: number): Promise<boolean> => {
      if (payload.earlyStopping === undefined || channel.decide === undefined) return true;
      if (epoch < 1 || epoch >= payload.training.epochs) return true;
      const decision = await channel.decide(epoch);
      if (decision.action === 'stop') {
        earlyStopped = decision.reason ?? `early-stopped after epoch ${epoch}`;
      }
      return decision.action !== 'stop';
    };
    // A resumed trial asks again for its last epoch: one stopped just before a crash stays stopped.
    let goOn = await askToGoOn(lastCheckpointEpoch);
    let step = lastCheckpointEpoch * Math.ceil(data.train.length / batchSize);
    for (let epoch = lastCheckpointEpoch + 1; goOn && epoch <= payload.training.epochs; epoch++) {
      checkStop();
      channel.send({ type: 'phase', phase: 'train' });
      const epochStart = Date.now();
      const batches = chunk(planEpoch(data.train, random, augmentation, inputSize), batchSize);
      const load = (plans: SamplePlan[]): Promise<BatchArrays> => {
        const promise = loadBatch(data.samples, plans, inputSize, baseSize, numClasses);
        // Awaited later; a stop before then must not turn its failure into an unhandled rejection.
        promise.catch(() => undefined);
        return promise;
      };
      let next = load(batches[0] ?? []);
      let lossSum = 0;
      let accuracySum = 0;
      let seen = 0;
      for (let b = 0; b < batches.length; b++) {
        const waitStart = performance.now();
        const arrays = await next;
        const dataWaitSeconds = (performance.now() - waitStart) / 1000;
        if (b + 1 < batches.length) next = load(batches[b + 1] ?? []);
        const [x, y] = toTensors(arrays, inputSize, numClasses);
        let result: number | number[];
        const stepStart = performance.now();
        try {
          result = await model.trainOnBatch(x, y);
        } finally {
          x.dispose();
          y.dispose();
        }
        const stepSeconds = (performance.now() - stepStart) / 1000;
        step += 1;
        let loss = Array.isArray(result) ? (result[0] ?? Number.NaN) : result;
        const accuracy = Array.isArray(result) ? (result[1] ?? Number.NaN) : Number.NaN;
        if (request.faults?.nanLossAtStep === step) loss = Number.NaN;
        if (!Number.isFinite(loss)) {
          throw new WorkerError(
            'TRIAL_DIVERGED',
            `training diverged: loss is ${loss} at epoch ${epoch}, batch ${b + 1} (learning rate ${payload.training.learningRate})`,
          );
        }
        lossSum += loss * arrays.count;
        accuracySum += accuracy * arrays.count;
        seen += arrays.count;
        channel.send({ type: 'batch', epoch, batch: b + 1, batches: batches.length, loss });
        channel.send({
          type: 'metric',
          event: {
            kind: 'step',
            seconds: stepSeconds,
            images: arrays.count,
            loss,
            dataWaitSeconds,
          },
        });
        if (request.faults?.batchDelayMs !== undefined) await sleep(request.faults.batchDelayMs);
        // Let IPC messages (cancel, shutdown) in: trainOnBatch only yields to microtasks.
        await yieldToEventLoop();
        checkStop();
      }
      const trainMs = Date.now() - epochStart;

      // Precise BN: after a short run the momentum-0.99 moving statistics are still near their
      // initial values, and validation (inference mode) would score a nearly constant model.
      channel.send({ type: 'phase', phase: 'calibrate' });
      const calibrationPlans = batches.slice(0, DEFAULT_RECALIBRATION_BATCHES);
      await recalibrateBatchNorm(
        model,
        (async function* () {
          for (const plans of calibrationPlans) {
            checkStop();
            const arrays = await load(plans);
            const x = tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]);
            try {
              yield x;
            } finally {
              x.dispose();
            }
            await yieldToEventLoop();
          }
        })(),
      );

      channel.send({ type: 'phase', phase: 'evaluate' });
      const probs: number[] = [];
      const targets: number[] = [];
      for (const plans of validationBatches) {
        const arrays = await loadBatch(data.samples, plans, inputSize, baseSize, numClasses);
        const x = tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]);
        try {
          const predicted = model.predict(x) as tf.Tensor;
          try {
            probs.push(...(await predicted.data()));
          } finally {
            predicted.dispose();
          }
        } finally {
          x.dispose();
        }
        targets.push(...arrays.targets);
        await yieldToEventLoop();
      }
      const evaluation = multiLabelLoss
        ? binaryMetrics(probs, targets)
        : categoricalMetrics(probs, targets, numClasses);
      const auc = dataset.multiLabel ? meanRocAuc(probs, targets, numClasses) : undefined;
      if (!Number.isFinite(evaluation.loss)) {
        throw new WorkerError(
          'TRIAL_DIVERGED',
          `training diverged: validation loss is ${evaluation.loss} after epoch ${epoch}`,
        );
      }
      const checkpointPrefix = keys.checkpoint(epoch);
      const metrics: EpochMetrics = {
        epoch,
        loss: lossSum / Math.max(1, seen),
        accuracy: accuracySum / Math.max(1, seen),
        val_loss: evaluation.loss,
        val_accuracy: evaluation.accuracy,
        ...(auc !== undefined ? { val_auc: auc } : {}),
        durationMs: Date.now() - epochStart,
        imagesPerSec: seen / Math.max(0.001, trainMs / 1000),
        checkpoint: checkpointPrefix,
      };
      channel.send({ type: 'phase', phase: 'checkpoint' });
      const checkpointStart = performance.now();
      const checkpointBytes = await writeCheckpoint(
        client,
        bucket,
        checkpointPrefix,
        model,
        optimizer,
        {
          trialId: payload.trialId,
          epoch,
          rngState: [...random.state],
          epochs: [...history, metrics],
          optimizerName: payload.training.optimizer,
        },
      );
      channel.send({
        type: 'metric',
        event: {
          kind: 'checkpoint',
          checkpoint: 'epoch',
          seconds: (performance.now() - checkpointStart) / 1000,
          bytes: checkpointBytes,
        },
      });
      history.push(metrics);
      lastCheckpointEpoch = epoch;
      const objective = objectiveOf(metrics, payload.objective);
      channel.send({
        type: 'metric',
        event: {
          kind: 'epoch',
          seconds: (Date.now() - epochStart) / 1000,
          loss: metrics.loss,
          ...(objective !== undefined ? { objective } : {}),
        },
      });
      const memory = tf.memory();
      channel.send({
        type: 'metric',
        event: { kind: 'tfjs-memory', numTensors: memory.numTensors, numBytes: memory.numBytes },
      });
      channel.send({ type: 'epoch', metrics, numTensors: tf.memory().numTensors });
      goOn = await askToGoOn(epoch);
    }
    checkStop();

    channel.send({ type: 'phase', phase: 'final' });
    const finalStart = performance.now();
    const artifacts = await writeFinal(client, bucket, keys.final, model, dataset.classes);
    channel.send({
      type: 'metric',
      event: {
        kind: 'checkpoint',
        checkpoint: 'final',
        seconds: (performance.now() - finalStart) / 1000,
        bytes: artifacts.reduce((sum, a) => sum + a.bytes, 0),
      },
    });
    const trialRecord =
      earlyStopped !== undefined
        ? record('early-stopped', earlyStopped, artifacts)
        : record('completed', undefined, artifacts);
    await writeRecord(trialRecord);
    return { kind: 'completed', record: trialRecord, trialJsonKey: keys.trialJson };
  } catch (error) {
    if (error instanceof StopRequested && error.reason === 'shutdown') {
      return { kind: 'stopped', lastCheckpointEpoch };
    }
    const failure = classify(error);
    let trialJsonKey: string | undefined;
    if (!failure.retryable) {
      try {
        await writeRecord(record(failure.status, failure.message));
        trialJsonKey = keys.trialJson;
      } catch {
        // The outcome still reaches the worker; trial.json is a best-effort record for failures.
      }
    }
    return {
      kind: 'failed',
      ...failure,
      epochsCompleted: history.length,
      ...(trialJsonKey !== undefined ? { trialJsonKey } : {}),
    };
  } finally {
    model?.dispose();
  }
}

function classify(
  error: unknown,
): Pick<Extract<TrialOutcome, { kind: 'failed' }>, 'status' | 'code' | 'message' | 'retryable'> {
  if (error instanceof StopRequested) {
    return {
      status: 'cancelled',
      code: 'TRIAL_CANCELLED',
      message: `cancelled: ${error.message}`,
      retryable: false,
    };
  }
  if (error instanceof WorkerError) {
    return {
      status: error.code === 'TRIAL_DIVERGED' ? 'diverged' : 'failed',
      code: error.code,
      message: error.message,
      retryable: !error.unrecoverable,
    };
  }
  return { status: 'failed', code: 'UNEXPECTED', message: errorMessage(error), retryable: true };
}

/** Writes final/: model.json + weights.bin (tfjs), weights.h5 (Keras) and classes.json. */
async function writeFinal(
  client: S3Client,
  bucket: string,
  prefix: string,
  model: LayersModel,
  classes: readonly string[],
): Promise<TrialRecord['artifacts']> {
  const saved = (await model.save(s3SaveHandler(client, bucket, prefix))) as S3SaveResult;
  const h5 = await uploadLarge(
    client,
    bucket,
    joinKey(prefix, FINAL_FILES.kerasH5),
    await exportKerasWeights(model),
    {
      contentType: 'application/x-hdf5',
    },
  );
  const classesJson = await putObject(
    client,
    bucket,
    joinKey(prefix, FINAL_FILES.classes),
    `${JSON.stringify(classes)}\n`,
    { contentType: 'application/json' },
  );
  return [saved.files.modelJson, saved.files.weights, h5, classesJson].map((file) => ({
    key: file.key,
    bytes: file.size,
    sha256: file.sha256,
  }));
}
