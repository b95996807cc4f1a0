import { Readable } from 'node:stream';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  formatS3Uri,
  parseTrialId,
  trialArtifactDownloadQuerySchema,
  trialArtifactsResponseSchema,
  trialDetailSchema,
  type TrialState,
} from '@setrain/protocol';
import { presignGetUrl, S3ObjectNotFoundError, translateS3Error } from '@setrain/storage';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { ApiError } from '../errors.js';
import { findSweepView, findTrialDetailJson } from '../sweep-reads.js';
import { listTrialFiles, type TrialFiles } from '../trial-artifacts.js';
import { verifyingStream } from './best.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

const trialIdParams = z.object({ id: z.string().max(100) });

/** The trial's state, its sweep's artifacts bucket and its files; 404 when there is no such trial. */
async function loadTrialFiles(
  context: RouteContext,
  trialId: string,
): Promise<{ sweepId: string; bucket: string; state: TrialState } & TrialFiles> {
  const sweepId = parseTrialId(trialId)?.sweepId;
  const view = sweepId === undefined ? undefined : await findSweepView(context, sweepId);
  const state = view?.trials.find((t) => t.trialId === trialId);
  if (sweepId === undefined || view === undefined || state === undefined) {
    throw new ApiError('TRIAL_NOT_FOUND', { trialId });
  }
  const bucket = view.record.artifactsBucket;
  return { sweepId, bucket, state, ...(await listTrialFiles(context, bucket, sweepId, state)) };
}

/** `GET /v1/trials/:id`, `GET /v1/trials/:id/artifacts` and `.../artifacts/download`. */
export function registerTrialRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/v1/trials/:id',
    {
      schema: {
        tags: ['trials'],
        summary:
          "A trial's live state, its metrics per finished epoch and every attempt (worker, outcome, reason)",
        params: trialIdParams,
        response: { 200: trialDetailSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const trialId = request.params.id;
      const parsed = parseTrialId(trialId);
      if (parsed === undefined) throw new ApiError('TRIAL_NOT_FOUND', { trialId });
      const json = await findTrialDetailJson(context, parsed.sweepId, trialId);
      if (json === undefined) throw new ApiError('TRIAL_NOT_FOUND', { trialId });
      // Fastify sends a JSON string as it is, without the response schema's validation (see
      // trialDetailJson); the type provider types send() by the schema only.
      return reply.type('application/json; charset=utf-8').send(json as never);
    },
  );

  app.get(
    '/v1/trials/:id/artifacts',
    {
      schema: {
        tags: ['trials'],
        summary:
          "A trial's files with size, sha256 and a presigned GET URL: trial.json, its best/ and final/ weights (as trial.json lists them) and its checkpoints (as their verified state.json lists them)",
        params: trialIdParams,
        response: { 200: trialArtifactsResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const found = await loadTrialFiles(context, request.params.id);
      const expiresInSeconds = context.presignExpiresSeconds;
      const artifacts = await Promise.all(
        found.files.map(async (file) => ({
          ...file,
          uri: formatS3Uri({ bucket: found.bucket, key: file.key }),
          url: await presignGetUrl(context.s3, found.bucket, file.key, { expiresInSeconds }),
        })),
      );
      return {
        sweepId: found.sweepId,
        trialId: found.state.trialId,
        artifacts,
        notes: found.notes,
        urlExpiresInSeconds: expiresInSeconds,
      };
    },
  );

  app.get(
    '/v1/trials/:id/artifacts/download',
    {
      schema: {
        tags: ['trials'],
        summary:
          'One file of the trial artifacts listing, streamed through the API and checked against its sha256 (a mismatch breaks the download)',
        params: trialIdParams,
        querystring: trialArtifactDownloadQuerySchema,
        response: {
          200: z.unknown().describe('application/octet-stream'),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const found = await loadTrialFiles(context, request.params.id);
      const file = found.files.find((f) => f.path === request.query.path);
      if (file === undefined) {
        throw new ApiError('ARTIFACT_NOT_FOUND', {
          detail: `trial ${found.state.trialId} has no file ${request.query.path}; GET /v1/trials/${found.state.trialId}/artifacts lists its files`,
        });
      }
      let body: Readable;
      try {
        const output = await context.s3.send(
          new GetObjectCommand({ Bucket: found.bucket, Key: file.key }),
        );
        if (!(output.Body instanceof Readable)) throw new Error('S3 returned no body stream');
        body = output.Body;
      } catch (error) {
        const uri = formatS3Uri({ bucket: found.bucket, key: file.key });
        if (translateS3Error(error, found.bucket, file.key) instanceof S3ObjectNotFoundError) {
          throw new ApiError('ARTIFACT_NOT_FOUND', { detail: `${uri} is missing` });
        }
        throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
      }
      const verified = body.pipe(
        verifyingStream(file.sha256, formatS3Uri({ bucket: found.bucket, key: file.key })),
      );
      body.on('error', (error) => verified.destroy(error));
      const name = file.path.replaceAll('/', '_');
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', file.bytes)
        .header('content-disposition', `attachment; filename="${found.state.trialId}_${name}"`)
        .send(verified);
    },
  );
}
