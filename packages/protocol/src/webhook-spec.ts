// The webhook part of a sweep spec (`notify`) and the URL rule the API's env shares; see webhooks.ts.
import { z } from 'zod';

/** `sweep.status`: the sweep's status changed (created, paused, resumed, ended); `sweep.best`: a new best trial. */
export const WEBHOOK_EVENTS = ['sweep.status', 'sweep.best'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Most webhooks one sweep spec may name. */
export const MAX_SPEC_WEBHOOKS = 5;

export const webhookUrlSchema = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

/** A sweep spec's `notify` block. */
export const notifySchema = z.strictObject({
  webhooks: z
    .array(
      z.strictObject({
        url: webhookUrlSchema,
        /** The events this URL gets (default: all of them). */
        events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
      }),
    )
    .min(1)
    .max(MAX_SPEC_WEBHOOKS),
});
export type NotifySpec = z.infer<typeof notifySchema>;
