import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { readinessSchema } from '@setrain/protocol';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';

/** Readiness probes give up after this long, so a hung dependency reads as not ready. */
export const READINESS_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

/** `/healthz` (the process answers) and `/readyz` (Redis and S3 answer). Both without a key. */
export function registerHealthRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        security: [],
        response: { 200: z.object({ ok: z.literal(true) }) },
      },
    },
    (_request, reply) => {
      void reply.send({ ok: true as const });
    },
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness: Redis and S3 (the artifacts bucket) are reachable',
        security: [],
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const timeout = AbortSignal.timeout(READINESS_TIMEOUT_MS);
      const [redis, s3] = await Promise.all([
        probe(() =>
          Promise.race([
            Promise.all([context.store.ping(), context.reads.ping()]),
            new Promise((_resolve, reject) => {
              timeout.addEventListener('abort', () => {
                reject(new Error('timeout'));
              });
            }),
          ]),
        ),
        probe(() =>
          context.s3.send(new HeadBucketCommand({ Bucket: context.artifactsBucket }), {
            abortSignal: timeout,
          }),
        ),
      ]);
      const ready = redis && s3;
      return reply.code(ready ? 200 : 503).send({ ready, checks: { redis, s3 } });
    },
  );
}
