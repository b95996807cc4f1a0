import { type FastifyReply, type FastifyRequest } from 'fastify';

import { type Principal } from './auth.js';

/** Routes whose every answer is audited, by `METHOD route-template`. */
const AUDITED_ACTIONS: Readonly<Record<string, string>> = {
  'POST /v1/sweeps': 'submit',
  'POST /v1/jobs': 'submit',
  'POST /v1/sweeps/:id/cancel': 'cancel',
  'POST /v1/sweeps/:id/pause': 'pause',
  'POST /v1/sweeps/:id/resume': 'resume',
  'PATCH /v1/sweeps/:id': 'patch',
};

/** Sweep ids created by submit requests, for their audit line. */
const createdSweeps = new WeakMap<FastifyRequest, string>();

/** Called by the submit routes once the sweep exists. */
export function noteCreatedSweep(request: FastifyRequest, sweepId: string): void {
  createdSweeps.set(request, sweepId);
}

/**
 * onResponse: one `audit` log line (through the API's pino logger) for every submit, cancel,
 * pause, resume and patch, refused ones included: who (key name), what, which sweep, the status.
 */
export function auditRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal | undefined,
): void {
  const action = AUDITED_ACTIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
  if (action === undefined) return;
  const params = request.params as Readonly<Record<string, unknown>> | undefined;
  const sweepId = createdSweeps.get(request) ?? params?.['id'];
  request.log.info(
    {
      audit: true,
      action,
      key: principal?.name ?? null,
      sweepId: typeof sweepId === 'string' ? sweepId : null,
      statusCode: reply.statusCode,
      ip: request.ip,
    },
    `audit ${action}`,
  );
}
