import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  apiErrorBodySchema,
  bestQuerySchema,
  bestTrialResponseSchema,
  formatS3Uri,
  isMultiObjective,
  objectivesOf,
  paretoFrontResponseSchema,
  trialIdOf,
  runKeys,
  trialRecordSchema,
  type ArtifactEpoch,
  type BestArtifact,
  type BestTrialSummary,
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
import { frontHypervolumeOf, paretoFrontOf } from '../pareto-front.js';
import { loadSweepView, type SweepView } from '../sweep-reads.js';
import { type SweepRecord } from '../sweep-record.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

const sweepIdParams = z.object({ id: z.string().max(100) });

/** The chosen trial's record and the objects of the chosen weights, checked against trial.json. */
interface BestObjects {
  readonly record: SweepRecord;
  /** The trial /best answers for: the best, or `?trial=N`. */
  readonly chosen: BestTrialSummary;
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

/**
 * The trial /best answers for: trial `trialNumber` when given (any trial with an objective value),
 * else the sweep's best. A multi-objective sweep has no single best: NO_SINGLE_BEST names its front.
 */
function chooseTrial(view: SweepView, trialNumber: number | undefined): BestTrialSummary {
  const { record } = view;
  if (trialNumber !== undefined) {
    const trialId = trialIdOf(record.id, trialNumber);
    const state = view.trials.find((t) => t.trialNumber === trialNumber);
    if (state === undefined) throw new ApiError('TRIAL_NOT_FOUND', { trialId });
    if (state.objectiveValue === null) {
      throw new ApiError('ARTIFACT_NOT_FOUND', {
        detail: `trial ${trialId} is ${state.status} and has no objective value; only completed or early-stopped trials have weights to fetch`,
      });
    }
    return { trialId, params: state.params, objectiveValue: state.objectiveValue };
  }
  if (isMultiObjective(record.spec)) {
    const front = paretoFrontOf(record.spec, view.trials).map((t) => t.trialNumber);
    throw new ApiError('NO_SINGLE_BEST', {
      sweepId: record.id,
      front: front.length > 0 ? front.join(', ') : 'none yet',
    });
  }
  if (record.best === null) throw new ApiError('NO_BEST_TRIAL', { sweepId: record.id });
  return record.best;
}

async function findBestObjects(
  context: RouteContext,
  view: SweepView,
  query: { epoch: ArtifactEpoch; trial?: number | undefined },
): Promise<BestObjects> {
  const weights = query.epoch;
  const { record } = view;
  const best = chooseTrial(view, query.trial);
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
      record,
      chosen: best,
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
          'The best trial (or trial N with ?trial=N): params, objective value, and the URIs, sha256 and presigned GET URLs of trial.json and of the best (default) or last epoch weights. A multi-objective sweep without ?trial= answers its Pareto front instead (objectives, per front trial its values, and the hypervolume of the front with its reference point)',
        params: sweepIdParams,
        querystring: bestQuerySchema,
        response: {
          200: z.union([bestTrialResponseSchema, paretoFrontResponseSchema]),
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const view = await loadSweepView(context, request.params.id);
      if (isMultiObjective(view.record.spec) && request.query.trial === undefined) {
        const front = paretoFrontOf(view.record.spec, view.trials);
        const hypervolume = frontHypervolumeOf(view.record.spec, front);
        if (front.length === 0 || hypervolume === undefined) {
          throw new ApiError('NO_BEST_TRIAL', { sweepId: view.record.id });
        }
        const objectives = [...objectivesOf(view.record.spec)];
        return { sweepId: view.record.id, objectives, front, hypervolume };
      }
      const found = await findBestObjects(context, view, request.query);
      const { record, selection, chosen } = found;
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
        trialId: chosen.trialId,
        params: chosen.params,
        objective: record.spec.objective,
        objectiveValue: chosen.objectiveValue,
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
          "The best trial's (or with ?trial=N, trial N's; a multi-objective sweep needs ?trial=N) trial.json and the files of its best (default) or last epoch weights as a tar stream (<trialId>/trial.json, <trialId>/best/... or <trialId>/final/...), exactly the files /best lists",
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
      const view = await loadSweepView(context, request.params.id);
      const found = await findBestObjects(context, view, request.query);
      const { record } = found;
      const bucket = record.artifactsBucket;
      const trialId = found.chosen.trialId;
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
