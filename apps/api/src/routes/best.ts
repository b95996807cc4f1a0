import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  apiErrorBodySchema,
  bestQuerySchema,
  bestTrialResponseSchema,
  formatS3Uri,
  runKeys,
  trialRecordSchema,
  type ArtifactEpoch,
  type BestArtifact,
  type TrialRecord,
} from '@setrain/protocol';
import {
  getObjectBytes,
  listObjects,
  presignGetUrl,
  S3ObjectNotFoundError,
  sha256Hex,
  translateS3Error,
} from '@setrain/storage';
import tar from 'tar-stream';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import {
  ArtifactSelectionError,
  selectArtifacts,
  type ArtifactSelection,
} from '../best-artifacts.js';
import { ApiError } from '../errors.js';
import { loadSweepView } from '../sweep-reads.js';
import { type SweepRecord } from '../sweep-record.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

const sweepIdParams = z.object({ id: z.string().max(100) });

/** The best trial's record and the objects of the chosen weights, checked against trial.json. */
interface BestObjects {
  readonly record: SweepRecord & { best: NonNullable<SweepRecord['best']> };
  /** `runs/<sweepId>/trials/<trialId>/` */
  readonly trialPrefix: string;
  readonly trialJson: { key: string; bytes: number; sha256: string };
  readonly trialRecord: TrialRecord;
  readonly selection: ArtifactSelection;
}

/** Reads and parses a trial.json, with its size and sha256 as read (also the trial artifacts route's). */
export async function readTrialRecord(context: RouteContext, bucket: string, key: string) {
  const object = await getObjectBytes(context.s3, bucket, key);
  let parsed: TrialRecord;
  try {
    parsed = trialRecordSchema.parse(JSON.parse(new TextDecoder().decode(object.bytes)));
  } catch (error) {
    throw new ApiError(
      'ARTIFACT_NOT_FOUND',
      { detail: `${formatS3Uri({ bucket, key })} is not a valid trial record` },
      undefined,
      { cause: error },
    );
  }
  return { key, bytes: object.size, sha256: sha256Hex(object.bytes), record: parsed };
}

/** Every selected artifact must exist with the size trial.json records, so a tar is never short. */
async function checkObjectsPresent(
  context: RouteContext,
  bucket: string,
  dir: string,
  selection: ArtifactSelection,
): Promise<void> {
  const sizes = new Map<string, number>();
  for await (const object of listObjects(context.s3, bucket, dir))
    sizes.set(object.key, object.size);
  for (const artifact of selection.artifacts) {
    const size = sizes.get(artifact.key);
    if (size !== artifact.bytes) {
      throw new ApiError('ARTIFACT_NOT_FOUND', {
        detail:
          size === undefined
            ? `${formatS3Uri({ bucket, key: artifact.key })} is missing`
            : `${formatS3Uri({ bucket, key: artifact.key })} has ${size} bytes, trial.json records ${artifact.bytes}`,
      });
    }
  }
}

async function findBestObjects(
  context: RouteContext,
  sweepId: string,
  weights: ArtifactEpoch,
): Promise<BestObjects> {
  const { record } = await loadSweepView(context, sweepId);
  const best = record.best;
  if (best === null) throw new ApiError('NO_BEST_TRIAL', { sweepId });
  const keys = runKeys(record.id).trial(best.trialId);
  const bucket = record.artifactsBucket;
  try {
    const trialJson = await readTrialRecord(context, bucket, keys.trialJson);
    const selection = selectArtifacts(trialJson.record, weights);
    await checkObjectsPresent(
      context,
      bucket,
      weights === 'best' ? keys.best : keys.final,
      selection,
    );
    return {
      record: { ...record, best },
      trialPrefix: keys.prefix,
      trialJson: { key: trialJson.key, bytes: trialJson.bytes, sha256: trialJson.sha256 },
      trialRecord: trialJson.record,
      selection,
    };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof ArtifactSelectionError) {
      throw new ApiError('ARTIFACT_NOT_FOUND', { detail: error.message });
    }
    if (error instanceof S3ObjectNotFoundError) {
      throw new ApiError('ARTIFACT_NOT_FOUND', {
        detail: `${formatS3Uri({ bucket, key: keys.trialJson })} does not exist (yet)`,
      });
    }
    throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
  }
}

/** Passes bytes through and fails at the end unless they hash to `sha256`. */
export function verifyingStream(sha256: string, what: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const actual = hash.digest('hex');
      callback(
        actual === sha256 ? null : new Error(`${what}: sha256 ${actual}, expected ${sha256}`),
      );
    },
  });
}

/** `GET /v1/sweeps/:id/best` and `GET /v1/sweeps/:id/best/download`. */
export function registerBestRoutes(app: ApiApp, context: RouteContext): void {
  app.get(
    '/v1/sweeps/:id/best',
    {
      schema: {
        tags: ['sweeps'],
        summary:
          'The best trial: params, objective value, and the URIs, sha256 and presigned GET URLs of trial.json and of the best (default) or last epoch weights',
        params: sweepIdParams,
        querystring: bestQuerySchema,
        response: {
          200: bestTrialResponseSchema,
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const found = await findBestObjects(context, request.params.id, request.query.epoch);
      const { record, selection } = found;
      const bucket = record.artifactsBucket;
      const expiresInSeconds = context.presignExpiresSeconds;
      const artifact = async (a: {
        key: string;
        bytes: number;
        sha256: string;
      }): Promise<BestArtifact> => ({
        uri: formatS3Uri({ bucket, key: a.key }),
        key: a.key,
        bytes: a.bytes,
        sha256: a.sha256,
        url: await presignGetUrl(context.s3, bucket, a.key, { expiresInSeconds }),
      });
      return {
        sweepId: record.id,
        trialId: record.best.trialId,
        params: record.best.params,
        objective: record.spec.objective,
        objectiveValue: record.best.objectiveValue,
        bestEpoch: found.trialRecord.bestEpoch,
        weights: selection.weights,
        epoch: selection.epoch,
        trialJson: await artifact(found.trialJson),
        artifacts: await Promise.all(selection.artifacts.map(artifact)),
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
          "The best trial's trial.json and the files of its best (default) or last epoch weights as a tar stream (<trialId>/trial.json, <trialId>/best/... or <trialId>/final/...), exactly the files /best lists",
        params: sweepIdParams,
        querystring: bestQuerySchema,
        response: {
          200: z.unknown().describe('application/x-tar stream'),
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const found = await findBestObjects(context, request.params.id, request.query.epoch);
      const { record } = found;
      const bucket = record.artifactsBucket;
      const trialId = record.best.trialId;
      const entries = [found.trialJson, ...found.selection.artifacts];
      const pack = tar.pack();
      // Objects go into the archive one at a time, straight from S3: nothing is buffered whole. Each
      // is checked against the size and sha256 of the record while it streams; on any failure the
      // stream is destroyed, so the client sees a broken download, never a short file.
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
          await pipeline(
            body,
            verifyingStream(entry.sha256, formatS3Uri({ bucket, key: entry.key })),
            pack.entry({ name, size: entry.bytes, mode: 0o644 }),
          );
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
