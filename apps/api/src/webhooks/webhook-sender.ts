import { WEBHOOK_HEADERS, WEBHOOKS_QUEUE, type WebhookJob } from '@setrain/protocol';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { type Redis } from 'ioredis';

import { type ControllerLogger } from '../controller/options.js';
import { type WebhookDeliveries } from './webhook-deliveries.js';
import { type WebhookAddressPolicy } from './webhook-address-policy.js';
import { postWebhook, WebhookBlockedError } from './webhook-post.js';
import { signWebhook } from './webhook-signature.js';

/** A receiver must answer within this long. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Deliveries in flight at once per API process. */
const CONCURRENCY = 4;

export interface WebhookSenderOptions {
  /** A blocking-capable connection (`maxRetriesPerRequest: null`), the sender's own. */
  readonly connection: Redis;
  readonly prefix: string;
  /** SETRAIN_WEBHOOK_SECRET, the HMAC key. */
  readonly secret: string;
  readonly deliveries: WebhookDeliveries;
  /** Where spec webhooks may be delivered (checked on every address a URL's name resolves to). */
  readonly policy: WebhookAddressPolicy;
  /** SETRAIN_WEBHOOK_URLS: the operator's own URLs, delivered to without the address check. */
  readonly trustedUrls: readonly string[];
  readonly logger: ControllerLogger;
}

/**
 * Drains the webhooks queue: POSTs each event's JSON, signed, and records the attempt; a failed
 * attempt (no answer in time, or a non-2xx status) throws, so BullMQ retries it with exponential
 * backoff until its attempts run out. A spec URL whose host is or resolves to an address the
 * policy refuses is not contacted: the attempt is recorded as blocked and not retried.
 */
export class WebhookSender {
  private worker: Worker<WebhookJob> | undefined;

  constructor(private readonly options: WebhookSenderOptions) {}

  start(): void {
    this.worker = new Worker<WebhookJob>(WEBHOOKS_QUEUE, (job) => this.deliver(job), {
      connection: this.options.connection,
      prefix: this.options.prefix,
      concurrency: CONCURRENCY,
    });
    this.worker.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'webhook sender error');
    });
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }

  private async deliver(job: Job<WebhookJob>): Promise<void> {
    const { sweepId, url, payload } = job.data;
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const started = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    let blocked = false;
    try {
      status = await postWebhook(new URL(url), {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'setrain-webhooks',
          [WEBHOOK_HEADERS.event]: payload.type,
          [WEBHOOK_HEADERS.delivery]: payload.id,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.options.secret, timestamp, body),
        },
        body,
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        ...(this.options.trustedUrls.includes(url)
          ? {}
          : { blockedRange: (address: string) => this.options.policy.blockedRange(address) }),
      });
      if (status < 200 || status > 299) error = `the receiver answered HTTP ${status}`;
    } catch (cause) {
      blocked = cause instanceof WebhookBlockedError;
      error = blocked ? (cause as Error).message : `no answer: ${(cause as Error).message}`;
    }
    await this.options.deliveries.record(sweepId, {
      id: payload.id,
      type: payload.type,
      url,
      attempt: job.attemptsMade + 1,
      at: new Date().toISOString(),
      ok: error === undefined,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(blocked ? { blocked } : {}),
      durationMs: Math.round(performance.now() - started),
    });
    if (blocked) {
      this.options.logger.warn({ sweepId, url, error }, 'webhook delivery blocked');
      throw new UnrecoverableError(error ?? 'blocked');
    }
    if (error !== undefined) throw new Error(error);
  }
}
