import { webhookDeliveriesResponseSchema } from '@setrain/protocol';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { ApiError } from '../errors.js';
import { loadArchive } from '../sweep-reads.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

/**
 * `GET /v1/sweeps/:id/webhooks`: every delivery attempt of the sweep's webhooks, newest first. The
 * attempts live in Redis as long as the sweep's keys do; once those expired after the archive,
 * the attempts copied into archive.json answer, with `archivedAt` saying when they were copied.
 */
export function registerWebhookRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/v1/sweeps/:id/webhooks',
    {
      schema: {
        tags: ['sweeps'],
        summary: "The sweep's webhook delivery attempts (newest first, at most 200)",
        params: z.object({ id: z.string().max(100) }),
        response: { 200: webhookDeliveriesResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const sweepId = request.params.id;
      const deliveries = await context.webhooks.deliveries.list(sweepId);
      if ((await context.store.getSweep(sweepId)) !== undefined) return { deliveries };
      const archive = await loadArchive(context, sweepId);
      if (archive === undefined) throw new ApiError('SWEEP_NOT_FOUND', { sweepId });
      if (deliveries.length > 0) return { deliveries };
      return { deliveries: archive.webhooks ?? [], archivedAt: archive.archivedAt };
    },
  );
}
