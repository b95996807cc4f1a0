import { SWEEP_ID_PATTERN, TRIAL_ID_PATTERN } from '@setrain/protocol';
import { type FastifyRequest } from 'fastify';

import { ApiError } from './errors.js';

/**
 * Answers 404 for a route `:id` that is not an id of its kind (`/v1/sweeps/<id>:trials` must never
 * reach another Redis key). Runs before schema validation, so every route with an id is covered,
 * those registered later included, and a malformed id reads as "no such sweep", not a 400.
 */
export function checkRouteIds(
  request: FastifyRequest,
  _reply: unknown,
  done: (error?: Error) => void,
): void {
  const params = request.params as Readonly<Record<string, unknown>> | undefined;
  const id = params?.['id'];
  const url = request.routeOptions.url ?? '';
  if (typeof id !== 'string') {
    done();
    return;
  }
  if (url.startsWith('/v1/sweeps/:id') && !SWEEP_ID_PATTERN.test(id)) {
    done(new ApiError('SWEEP_NOT_FOUND', { sweepId: id.slice(0, 100) }));
    return;
  }
  if (url.startsWith('/v1/trials/:id') && !TRIAL_ID_PATTERN.test(id)) {
    done(new ApiError('TRIAL_NOT_FOUND', { trialId: id.slice(0, 100) }));
    return;
  }
  done();
}
