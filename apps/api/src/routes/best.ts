import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  apiErrorBodySchema,
  bestTrialResponseSchema,
  formatS3Uri,
  runKeys,
  trialRecordSchema,
  type BestArtifact,
  type TrialRecord,
} from '@setrain/protocol';
import {
  getJson,
  listObjects,
  presignGetUrl,
  S3ObjectNotFoundError,
  translateS3Error,
  type ObjectSummary,
} from '@setrain/storage';
import tar from 'tar-stream';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { ApiError } from '../errors.js';
import { type SweepRecord } from '../sweep-record.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';
import { loadSweep } from './sweeps.js';

const sweepIdParams = z.object({ id: z.string().max(100) });

/** The best trial's S3 objects: trial.json and everything under final/. */
interface BestObjects {
  readonly record: SweepRecord & { best: NonNullable<SweepRecord['best']> };
  /** `runs/<sweepId>/trials/<trialId>/` */
  readonly trialPrefix: string;
  readonly trialJsonKey: string;
  readonly trialRecord: TrialRecord;
  readonly trialJsonSize: number;
  readonly finals: readonly ObjectSummary[];
}

async function findBestObjects(context: RouteContext, sweepId: string): Promise<BestObjects> {
  const record = await loadSweep(context, sweepId);
  const best = record.best;
  if (best === null) throw new ApiError('NO_BEST_TRIAL', { sweepId });
  const keys = runKeys(record.id).trial(best.trialId);
  const bucket = record.artifactsBucket;
  try {
    const trialJson = await getJson(context.s3, bucket, keys.trialJson, {
      parse: (value) => trialRecordSchema.parse(value),
    });
    const finals: ObjectSummary[] = [];
    for await (const object of listObjects(context.s3, bucket, keys.final)) finals.push(object);
    if (finals.length === 0) {
      throw new ApiError('ARTIFACT_NOT_FOUND', {
        detail: `the best trial ${best.trialId} has no objects under ${formatS3Uri({ bucket, key: keys.final })}`,
      });
    }
    return {
      record: { ...record, best },
      trialPrefix: keys.prefix,
      trialJsonKey: keys.trialJson,
      trialRecord: trialJson.value,
      trialJsonSize: trialJson.size,
      finals,
    };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof S3ObjectNotFoundError) {
      throw new ApiError('ARTIFACT_NOT_FOUND', {
        detail: `${formatS3Uri({ bucket, key: keys.trialJson })} does not exist (yet)`,
      });
    }
    throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
  }
}

/** `GET /v1/sweeps/:id/best` and `GET /v1/sweeps/:id/best/download`. */
export function registerBestRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/v1/sweeps/:id/best',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'The best trial: params, objective value, artifact URIs and presigned GET URLs',
        params: sweepIdParams,
        response: {
          200: bestTrialResponseSchema,
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const found = await findBestObjects(context, request.params.id);
      const { record } = found;
      const bucket = record.artifactsBucket;
      const sha256Of = new Map(found.trialRecord.artifacts.map((a) => [a.key, a.sha256]));
      const expiresInSeconds = context.presignExpiresSeconds;
      const artifact = async (key: string, bytes: number): Promise<BestArtifact> => {
        const sha256 = sha256Of.get(key);
        return {
          uri: formatS3Uri({ bucket, key }),
          key,
          bytes,
          ...(sha256 !== undefined ? { sha256 } : {}),
          url: await presignGetUrl(context.s3, bucket, key, { expiresInSeconds }),
        };
      };
      return {
        sweepId: record.id,
        trialId: record.best.trialId,
        params: record.best.params,
        objective: record.spec.objective,
        objectiveValue: record.best.objectiveValue,
        bestEpoch: found.trialRecord.bestEpoch,
        trialJson: await artifact(found.trialJsonKey, found.trialJsonSize),
        artifacts: await Promise.all(found.finals.map((o) => artifact(o.key, o.size))),
        urlExpiresInSeconds: expiresInSeconds,
      };
    },
  );

  app.get(
    '/v1/sweeps/:id/best/download',
    {
      schema: {
        tags: ['sweeps'],
        summary:
          "The best trial's trial.json and final/ directory as a tar stream (<trialId>/trial.json, <trialId>/final/...)",
        params: sweepIdParams,
        response: {
          200: z.unknown().describe('application/x-tar stream'),
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const found = await findBestObjects(context, request.params.id);
      const { record } = found;
      const bucket = record.artifactsBucket;
      const trialId = record.best.trialId;
      const entries = [
        { key: found.trialJsonKey, size: found.trialJsonSize },
        ...found.finals.map((o) => ({ key: o.key, size: o.size })),
      ];
      const pack = tar.pack();
      // Objects go into the archive one at a time, straight from S3: nothing is buffered whole.
      const fill = async (): Promise<void> => {
        for (const entry of entries) {
          let body: Readable;
          try {
            const output = await context.s3.send(
              new GetObjectCommand({ Bucket: bucket, Key: entry.key }),
            );
            if (!(output.Body instanceof Readable)) throw new Error('S3 returned no body stream');
            body = output.Body;
          } catch (error) {
            throw translateS3Error(error, bucket, entry.key);
          }
          const name = `${trialId}/${entry.key.slice(found.trialPrefix.length)}`;
          await pipeline(body, pack.entry({ name, size: entry.size, mode: 0o644 }));
        }
        pack.finalize();
      };
      fill().catch((error: unknown) => {
        request.log.error({ err: error, sweepId: record.id }, 'streaming the best trial failed');
        pack.destroy(error instanceof Error ? error : new Error(String(error)));
      });
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-disposition', `attachment; filename="${trialId}.tar"`)
        .send(pack);
    },
  );
}
