import { redisKeys, webhookDeliverySchema, type WebhookDelivery } from '@setrain/protocol';
import { type Redis } from 'ioredis';

/** Delivery attempts kept per sweep (the oldest drop off). */
export const MAX_DELIVERIES_PER_SWEEP = 200;

/** A sweep's webhook delivery attempts in Redis: a capped list, newest first. */
export class WebhookDeliveries {
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  /**
   * Adds an attempt. Once the sweep is archived its keys expire (SweepArchive): the list then
   * takes the sweep record's remaining time to live, so attempts made after the archive (the
   * final status event's, say) neither outlive the sweep nor keep an expired list alive forever.
   */
  async record(sweepId: string, delivery: WebhookDelivery): Promise<void> {
    const key = this.keys.sweepWebhooks(sweepId);
    const replies = await this.redis
      .multi()
      .lpush(key, JSON.stringify(delivery))
      .ltrim(key, 0, MAX_DELIVERIES_PER_SWEEP - 1)
      .pttl(this.keys.sweep(sweepId))
      .exec();
    const ttl = replies?.[2]?.[1];
    if (typeof ttl === 'number' && ttl > 0) await this.redis.pexpire(key, ttl);
  }

  /** Newest first; entries that do not parse are skipped. */
  async list(sweepId: string): Promise<WebhookDelivery[]> {
    const raw = await this.redis.lrange(this.keys.sweepWebhooks(sweepId), 0, -1);
    return raw.flatMap((entry) => {
      const parsed = webhookDeliverySchema.safeParse(JSON.parse(entry));
      return parsed.success ? [parsed.data] : [];
    });
  }
}
