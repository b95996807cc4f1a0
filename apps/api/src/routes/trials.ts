import { parseTrialId, trialDetailSchema } from '@setrain/protocol';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { ApiError } from '../errors.js';
import { findTrialView } from '../sweep-reads.js';
import { toTrialDetail } from '../views.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

/** `GET /v1/trials/:id`. */
export function registerTrialRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/v1/trials/:id',
    {
      schema: {
        tags: ['trials'],
        summary: "A trial's live state and its metrics per finished epoch",
        params: z.object({ id: z.string().max(100) }),
        response: { 200: trialDetailSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const trialId = request.params.id;
      const parsed = parseTrialId(trialId);
      if (parsed === undefined) throw new ApiError('TRIAL_NOT_FOUND', { trialId });
      const view = await findTrialView(context, parsed.sweepId, trialId);
      if (view === undefined) throw new ApiError('TRIAL_NOT_FOUND', { trialId });
      return toTrialDetail(parsed.sweepId, view.state, view.epochs);
    },
  );
}
