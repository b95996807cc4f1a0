import { WEBHOOKS_QUEUE, type WebhookJob } from '@setrain/protocol';
import { Queue } from 'bullmq';
import { type Redis } from 'ioredis';

import { BLOCKING_REDIS_OPTIONS } from '../api-redis.js';
import { type ControllerLogger } from '../controller/options.js';
import { WebhookAddressPolicy } from './webhook-address-policy.js';
import { WebhookDeliveries } from './webhook-deliveries.js';
import { WebhookNotifier } from './webhook-notifier.js';
import { WebhookSender } from './webhook-sender.js';

/** The API's webhook settings (SETRAIN_WEBHOOK_*). */
export interface WebhookSettings {
  /** URLs that get every sweep's events. */
  readonly urls?: readonly string[];
  /** HMAC-SHA256 key; without it no webhook is sent and specs with `notify` are refused. */
  readonly secret?: string | undefined;
  /** Attempts per delivery; default 5. */
  readonly attempts?: number;
  /** First retry delay, doubling; default 2000 ms. */
  readonly backoffMs?: number;
  /**
   * Networks (CIDRs or addresses) spec webhooks may reach although not public
   * (SETRAIN_WEBHOOK_ALLOWED_NETWORKS); default none.
   */
  readonly allowedNetworks?: readonly string[];
}

export const DEFAULT_WEBHOOK_ATTEMPTS = 5;
export const DEFAULT_WEBHOOK_BACKOFF_MS = 2000;

/** The webhook pieces of one API process: the controller's notifier, the sender, the delivery log. */
export class Webhooks {
  readonly deliveries: WebhookDeliveries;
  /** Which addresses spec webhooks may reach (checked at submit and at delivery). */
  readonly policy: WebhookAddressPolicy;
  readonly notifier: WebhookNotifier | undefined;
  private readonly queue: Queue<WebhookJob> | undefined;
  private readonly sender: WebhookSender | undefined;
  private readonly connection: Redis | undefined;

  constructor(options: {
    redis: Redis;
    prefix: string;
    settings: WebhookSettings;
    logger: ControllerLogger;
    now: () => Date;
  }) {
    const { redis, prefix, settings, logger } = options;
    this.deliveries = new WebhookDeliveries(redis, prefix);
    this.policy = new WebhookAddressPolicy(settings.allowedNetworks);
    if (settings.secret === undefined) return;
    this.queue = new Queue<WebhookJob>(WEBHOOKS_QUEUE, { connection: redis, prefix });
    this.queue.on('error', (error) => {
      logger.warn({ err: error }, 'webhooks queue error');
    });
    this.notifier = new WebhookNotifier({
      queue: this.queue,
      urls: settings.urls ?? [],
      attempts: settings.attempts ?? DEFAULT_WEBHOOK_ATTEMPTS,
      backoffMs: settings.backoffMs ?? DEFAULT_WEBHOOK_BACKOFF_MS,
      logger,
      now: options.now,
    });
    // The sender's worker blocks on Redis: a connection of its own that waits instead of failing.
    this.connection = redis.duplicate(BLOCKING_REDIS_OPTIONS);
    this.sender = new WebhookSender({
      connection: this.connection,
      prefix,
      secret: settings.secret,
      deliveries: this.deliveries,
      policy: this.policy,
      trustedUrls: settings.urls ?? [],
      logger,
    });
  }

  /** Whether this API signs and sends webhooks (it has a secret). */
  get enabled(): boolean {
    return this.notifier !== undefined;
  }

  start(): void {
    this.sender?.start();
  }

  async close(): Promise<void> {
    await this.sender?.close();
    await this.queue?.close();
    this.connection?.disconnect();
  }
}
