import { type S3Client } from '@aws-sdk/client-s3';
import {
  ARTIFACT_DIRS,
  epochMetricsSchema,
  runKeys,
  trialStateSchema,
  webhookDeliverySchema,
  type EpochMetrics,
  type TrialState,
} from '@setrain/protocol';
import { deletePrefix, getJson, putObject, S3ObjectNotFoundError } from '@setrain/storage';
import { type Redis } from 'ioredis';
import { z } from 'zod';

import { trialsKeptByBestK } from './best-k-retention.js';
import { sweepRecordSchema, type SweepRecord } from './sweep-record.js';
import { type SweepStore } from './sweep-store.js';
import { type WebhookDeliveries } from './webhooks/webhook-deliveries.js';

/** A finished sweep's Redis keys expire this long after it is archived (30 days). */
export const DEFAULT_SWEEP_RETENTION_SECONDS = 30 * 24 * 3600;
export const SWEEP_ARCHIVE_VERSION = 1;

/** runs/<sweepId>/archive.json: all the API answers about a finished sweep. */
export const sweepArchiveSchema = z.object({
  version: z.literal(SWEEP_ARCHIVE_VERSION),
  archivedAt: z.string(),
  sweep: sweepRecordSchema,
  trials: z.array(trialStateSchema),
  /** Per trial id, its metrics per finished epoch. */
  epochs: z.record(z.string(), z.array(epochMetricsSchema)),
  /** The sweep's webhook delivery attempts when it was archived, newest first (absent: older archives). */
  webhooks: z.array(webhookDeliverySchema).optional(),
});
export type SweepArchiveDocument = z.infer<typeof sweepArchiveSchema>;

export interface SweepArchiveOptions {
  readonly store: SweepStore;
  readonly s3: S3Client;
  /** The API's artifacts bucket (every sweep it creates lives there). */
  readonly bucket: string;
  /** The webhook delivery log, copied into the archive. */
  readonly deliveries: WebhookDeliveries;
  /**
   * Seconds a finished sweep's Redis keys live after it is archived; 0 keeps them forever.
   * Default DEFAULT_SWEEP_RETENTION_SECONDS.
   */
  readonly retentionSeconds?: number;
}

/**
 * Archives finished sweeps to S3 (record, trial states, epoch metrics) and lets their Redis keys
 * expire, so Redis holds running sweeps and recent history only; reads fall back to the archive.
 */
export class SweepArchive {
  private readonly retentionSeconds: number;

  constructor(private readonly options: SweepArchiveOptions) {
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_SWEEP_RETENTION_SECONDS;
  }

  /**
   * Applies the spec's `retention.trials` (best-k: the trials trialsKeptByBestK does not keep lose
   * their checkpoints, best/ and final/, keeping trial.json), writes archive.json (with the webhook
   * deliveries so far), then sets the expiry of the sweep's keys. Idempotent.
   */
  async archive(record: SweepRecord, trials: readonly TrialState[]): Promise<void> {
    const { store } = this.options;
    await this.pruneTrials(record, trials);
    const lists = await store.getEpochsOf(trials.map((trial) => trial.trialId));
    const epochs: Record<string, EpochMetrics[]> = Object.fromEntries(
      trials.map((trial, i) => [trial.trialId, lists[i] ?? []]),
    );
    const document: SweepArchiveDocument = {
      version: SWEEP_ARCHIVE_VERSION,
      archivedAt: new Date().toISOString(),
      sweep: record,
      trials: [...trials],
      epochs,
      webhooks: await this.options.deliveries.list(record.id),
    };
    await putObject(
      this.options.s3,
      this.options.bucket,
      runKeys(record.id).archiveJson,
      JSON.stringify(document),
      { contentType: 'application/json' },
    );
    if (this.retentionSeconds > 0) await this.expireKeys(store.redis, record.id, trials);
  }

  /** Deletes the weights of every trial best-k does not keep (trialsKeptByBestK). */
  private async pruneTrials(record: SweepRecord, trials: readonly TrialState[]): Promise<void> {
    const retention = record.spec.retention;
    if (retention?.trials !== 'best-k' || retention.k === undefined) return;
    const kept = trialsKeptByBestK(record.spec, trials, retention.k);
    for (const trial of trials) {
      if (kept.has(trial.trialId)) continue;
      const keys = runKeys(record.id).trial(trial.trialId);
      for (const dir of [
        keys.checkpointsPrefix,
        `${keys.prefix}${ARTIFACT_DIRS.best}/`,
        `${keys.prefix}${ARTIFACT_DIRS.last}/`,
      ]) {
        await deletePrefix(this.options.s3, record.artifactsBucket, dir);
      }
    }
  }

  private async expireKeys(
    redis: Redis,
    sweepId: string,
    trials: readonly TrialState[],
  ): Promise<void> {
    const { keys } = this.options.store;
    const multi = redis.multi();
    for (const key of [
      keys.sweep(sweepId),
      keys.sweepTrials(sweepId),
      keys.sweepStops(sweepId),
      // Deliveries recorded later keep this expiry (WebhookDeliveries.record).
      keys.sweepWebhooks(sweepId),
    ]) {
      multi.expire(key, this.retentionSeconds);
    }
    for (const trial of trials)
      multi.expire(keys.trialEpochs(trial.trialId), this.retentionSeconds);
    await multi.exec();
  }

  /** A sweep's archive, or undefined when it has none. */
  async load(sweepId: string): Promise<SweepArchiveDocument | undefined> {
    try {
      const { value } = await getJson(
        this.options.s3,
        this.options.bucket,
        runKeys(sweepId).archiveJson,
        { parse: (v) => sweepArchiveSchema.parse(v) },
      );
      return value;
    } catch (error) {
      if (error instanceof S3ObjectNotFoundError) return undefined;
      throw error;
    }
  }
}
