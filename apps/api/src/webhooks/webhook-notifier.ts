import { type WebhookEvent, type WebhookJob, type WebhookPayload } from '@setrain/protocol';
import { type Queue } from 'bullmq';

import { type ControllerLogger } from '../controller/options.js';
import { type SweepRecord } from '../sweep-record.js';

/** Finished delivery jobs stay this long in Redis (the delivery log itself is in WebhookDeliveries). */
const JOB_RETENTION_SECONDS = 7 * 24 * 3600;

export interface WebhookNotifierOptions {
  readonly queue: Queue<WebhookJob>;
  /** SETRAIN_WEBHOOK_URLS: get every event of every sweep. */
  readonly urls: readonly string[];
  /** Attempts per delivery. */
  readonly attempts: number;
  /** First retry delay (doubles per attempt). */
  readonly backoffMs: number;
  readonly logger: ControllerLogger;
  readonly now: () => Date;
}

/** The events of a sweep record's change (none when nothing a receiver cares about changed). */
export function eventsOf(before: SweepRecord | undefined, after: SweepRecord): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  if (before?.status !== after.status) events.push('sweep.status');
  const best = after.best;
  if (
    best !== null &&
    (before?.best?.trialId !== best.trialId || before.best.objectiveValue !== best.objectiveValue)
  ) {
    events.push('sweep.best');
  }
  return events;
}

/**
 * Turns sweep changes into webhook deliveries on the webhooks queue; a sender drains it (POST,
 * signed, retried with backoff). The controller only adds jobs, and a failure to add one is
 * logged, never thrown: webhooks never stop or slow a sweep beyond one Redis write.
 */
export class WebhookNotifier {
  constructor(private readonly options: WebhookNotifierOptions) {}

  /** Queues the events of the change from `before` (undefined: just created) to `after`, as stored. */
  async sweepChanged(before: SweepRecord | undefined, after: SweepRecord): Promise<void> {
    const events = eventsOf(before, after);
    if (events.length === 0) return;
    const targets = [
      ...this.options.urls.map((url) => ({ url, events: undefined })),
      ...(after.spec.notify?.webhooks ?? []),
    ];
    if (targets.length === 0) return;
    const createdAt = this.options.now().toISOString();
    try {
      for (const type of events) {
        for (const [index, target] of targets.entries()) {
          if (target.events !== undefined && !target.events.includes(type)) continue;
          // The record's version makes the id unique per change and the same if an advance repeats.
          const id = `${after.id}.v${after.version}.${type}.${index}`;
          const payload = payloadOf(id, type, createdAt, before, after);
          await this.options.queue.add(
            type,
            { sweepId: after.id, url: target.url, payload },
            {
              jobId: id,
              attempts: this.options.attempts,
              backoff: { type: 'exponential', delay: this.options.backoffMs },
              removeOnComplete: { age: JOB_RETENTION_SECONDS },
              removeOnFail: { age: JOB_RETENTION_SECONDS },
            },
          );
        }
      }
    } catch (error) {
      this.options.logger.warn(
        { err: error, sweepId: after.id, events },
        'queueing webhooks failed',
      );
    }
  }
}

function payloadOf(
  id: string,
  type: WebhookEvent,
  createdAt: string,
  before: SweepRecord | undefined,
  after: SweepRecord,
): WebhookPayload {
  return {
    id,
    type,
    createdAt,
    sweep: {
      id: after.id,
      ...(after.name !== undefined ? { name: after.name } : {}),
      status: after.status,
      ...(before !== undefined && before.status !== after.status
        ? { previousStatus: before.status }
        : {}),
      ...(after.reason !== undefined ? { reason: after.reason } : {}),
      best: after.best,
    },
  };
}
