/**
 * Webhooks: the API POSTs a signed JSON event when a sweep changes state or finds a new best trial,
 * to the URLs of the API's SETRAIN_WEBHOOK_URLS and of the sweep's `notify.webhooks`. Deliveries
 * go through a queue (retried with exponential backoff) and are listed by
 * `GET /v1/sweeps/:id/webhooks`.
 */
import { z } from 'zod';

import { bestTrialSummarySchema } from './api.js';
import { sweepIdSchema } from './ids.js';
import { WEBHOOK_EVENTS } from './webhook-spec.js';

/** The BullMQ queue that carries webhook deliveries from the controller to the API's sender. */
export const WEBHOOKS_QUEUE = 'webhooks';

/**
 * Request headers of a delivery. The signature is `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * with the API's SETRAIN_WEBHOOK_SECRET; a receiver recomputes it over the raw body and rejects
 * old timestamps (replays).
 */
export const WEBHOOK_HEADERS = {
  event: 'x-setrain-event',
  delivery: 'x-setrain-delivery',
  timestamp: 'x-setrain-timestamp',
  signature: 'x-setrain-signature',
} as const;

/** The JSON body of a delivery. */
export const webhookPayloadSchema = z.object({
  /** Unique per event and URL; the same on every retry (receivers can drop repeats). */
  id: z.string(),
  type: z.enum(WEBHOOK_EVENTS),
  createdAt: z.string(),
  sweep: z.object({
    id: sweepIdSchema,
    name: z.string().optional(),
    status: z.string(),
    /** sweep.status: the status before (absent when the sweep was just created). */
    previousStatus: z.string().optional(),
    reason: z.string().optional(),
    best: bestTrialSummarySchema.nullable(),
  }),
});
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/** One attempt at delivering one event to one URL. */
export const webhookDeliverySchema = z.object({
  id: z.string(),
  type: z.enum(WEBHOOK_EVENTS),
  url: z.string(),
  /** 1-based attempt number. */
  attempt: z.number().int().min(1),
  at: z.string(),
  ok: z.boolean(),
  /** The receiver's HTTP status, when it answered. */
  status: z.number().int().optional(),
  /** Why the attempt failed (no answer, a non-2xx status, or the address was blocked). */
  error: z.string().optional(),
  /**
   * True when the URL's host is or resolved to an address the API does not send webhooks to
   * (loopback, private, link-local, ...; see SETRAIN_WEBHOOK_ALLOWED_NETWORKS): nothing was sent
   * and the delivery is not retried.
   */
  blocked: z.boolean().optional(),
  durationMs: z.number().min(0),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/** `GET /v1/sweeps/:id/webhooks`: the sweep's delivery attempts, newest first. */
export const webhookDeliveriesResponseSchema = z.object({
  deliveries: z.array(webhookDeliverySchema),
  /**
   * Set once the sweep's Redis keys have expired (SETRAIN_SWEEP_RETENTION_SECONDS after it was
   * archived): the attempts are then those copied into its archive at this time, and attempts made
   * after it (retries of the final events) are not listed.
   */
  archivedAt: z.string().optional(),
});
export type WebhookDeliveriesResponse = z.infer<typeof webhookDeliveriesResponseSchema>;

/** The BullMQ job data of one delivery. */
export interface WebhookJob {
  readonly sweepId: string;
  readonly url: string;
  readonly payload: WebhookPayload;
}
