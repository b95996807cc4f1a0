import {
  apiErrorBodySchema,
  cancelSweepBodySchema,
  cancelSweepResponseSchema,
  createSweepResponseSchema,
  isFinishedSweepStatus,
  jobSpecSchema,
  jobToSweepSpec,
  listSweepsQuerySchema,
  listSweepsResponseSchema,
  parseJobSpec,
  parseSpecText,
  parseSweepSpec,
  previewQuerySchema,
  previewResponseSchema,
  sweepDetailSchema,
  sweepSpecSchema,
  updateSweepBodySchema,
  type PreviewResponse,
  type SweepKind,
  type SweepSpec,
} from '@setrain/protocol';
import { plannedTrialCount, preview, SweepError } from '@setrain/sweep';
import { type FastifyRequest, type FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { noteCreatedSweep } from '../audit.js';
import { isAdmin } from '../auth.js';
import { checkDataLocations, checkDataset } from '../dataset-check.js';
import { checkTrialMemory } from '../trial-memory-check.js';
import { checkWarmStartAccess } from '../warm-start-access.js';
import { ApiError } from '../errors.js';
import { sweepDetailJson } from '../sweep-detail-json.js';
import { findSweepView, loadSweepView } from '../sweep-reads.js';
import { type SweepRecord } from '../sweep-record.js';
import { checkSearchSpace } from '../spec-limits.js';
import { toSweepDetail, toSweepSummary } from '../views.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';

export const DEFAULT_CANCEL_REASON = 'cancelled by request';

const sweepIdParams = z.object({ id: z.string().max(100) });

/** Spec bodies are parsed by parseSweepSpec/parseJobSpec (issues with field paths); the schema
 * below only documents them. Other parts go through the zod validator as usual. */
function specBodyValidator<S>(
  route: Parameters<FastifySchemaCompiler<S>>[0],
): ReturnType<FastifySchemaCompiler<S>> {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data });
  // Every other part's schema is a zod schema, as with the app-wide compiler.
  return validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0]);
}

/** What spec bodies may be sent as (YAML parsers are added in app.ts). */
const SPEC_CONTENT_TYPES = ['application/json', 'application/yaml', 'text/yaml', 'text/plain'];
const TEXT_NOTE =
  'Send it as a JSON object, or as YAML/JSON text with content type application/yaml, text/yaml or text/plain. Unknown fields are errors; every problem is reported with its field path.';
/** Documentation of the spec bodies (validation is parseSweepSpec/parseJobSpec, see above). */
const sweepBodySchema = z
  .union([sweepSpecSchema, z.string()])
  .describe(`A sweep spec. ${TEXT_NOTE}`);
const jobBodySchema = z.union([jobSpecSchema, z.string()]).describe(`A job spec. ${TEXT_NOTE}`);

/** A spec body as an object: JSON already parsed by Fastify, or YAML/JSON text. */
function specInput(body: unknown): unknown {
  return typeof body === 'string' ? parseSpecText(body) : body;
}

/** Loads a sweep or answers 404. */
export async function loadSweep(context: RouteContext, sweepId: string): Promise<SweepRecord> {
  const record = await context.store.getSweep(sweepId);
  if (record === undefined) throw new ApiError('SWEEP_NOT_FOUND', { sweepId });
  return record;
}

async function submit(
  context: RouteContext,
  request: FastifyRequest,
  spec: SweepSpec,
  kind: SweepKind,
) {
  checkSearchSpace(spec);
  checkDataLocations(spec, context.dataBuckets);
  context.webhooks.policy.checkSpec(spec);
  checkTrialMemory(spec, context.maxTrialMemoryBytes);
  await checkWarmStartAccess(context.owners, context.principalOf(request), spec);
  const { numClasses } = await checkDataset(context.s3, spec.dataset);
  // Again with the dataset's classes: the classifier has 2049 parameters per class.
  checkTrialMemory(spec, context.maxTrialMemoryBytes, numClasses);
  let record: SweepRecord;
  try {
    record = await context.controller.createSweep({ spec, kind });
  } catch (error) {
    // Only S3 is touched before Redis in createSweep; Redis errors map in the error handler.
    if (isS3Error(error)) throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
    throw error;
  }
  const owner = context.principalOf(request);
  if (owner !== undefined) {
    await context.owners.record(record.id, owner.name, Date.parse(record.createdAt) || Date.now());
  }
  noteCreatedSweep(request, record.id);
  return toSweepDetail(record, await context.store.getTrials(record.id));
}

function isS3Error(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ('$metadata' in error || (error instanceof Error && /S3|NoSuchBucket/.test(error.name)))
  );
}

/** `/v1/sweeps...` and `/v1/jobs`. */
export function registerSweepRoutes(app: ApiApp, context: RouteContext): void {
  app.post(
    '/v1/sweeps',
    {
      validatorCompiler: specBodyValidator,
      schema: {
        tags: ['sweeps'],
        summary: 'Submit a hyperparameter sweep',
        consumes: SPEC_CONTENT_TYPES,
        body: sweepBodySchema,
        response: { 201: createSweepResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const spec = parseSweepSpec(specInput(request.body));
      return reply.code(201).send(await submit(context, request, spec, 'sweep'));
    },
  );

  app.post(
    '/v1/jobs',
    {
      validatorCompiler: specBodyValidator,
      schema: {
        tags: ['sweeps'],
        summary: 'Submit one training run (a sweep of one trial)',
        consumes: SPEC_CONTENT_TYPES,
        body: jobBodySchema,
        response: { 201: createSweepResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const spec = jobToSweepSpec(parseJobSpec(specInput(request.body)));
      return reply.code(201).send(await submit(context, request, spec, 'job'));
    },
  );

  /** The key name that submitted a sweep, when recorded (the key's secret is never shown). */
  const submitter = (owner: string | undefined) =>
    owner !== undefined ? { submitter: owner } : {};

  app.get(
    '/v1/sweeps',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'List sweeps, newest first',
        querystring: listSweepsQuerySchema,
        response: { 200: listSweepsResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const principal = context.principalOf(request);
      // Keys without admin list their own sweeps only.
      const { ids, total } =
        principal === undefined || isAdmin(principal)
          ? await context.store.listSweeps(offset, limit)
          : await context.owners.list(principal.name, offset, limit);
      const owners = await context.owners.ownersOf(ids);
      const sweeps = [];
      for (const [index, id] of ids.entries()) {
        const view = await findSweepView(context, id);
        if (view === undefined) continue;
        sweeps.push({ ...toSweepSummary(view.record, view.trials), ...submitter(owners[index]) });
      }
      const next = offset + ids.length;
      return { sweeps, total, ...(next < total ? { nextOffset: next } : {}) };
    },
  );

  app.get(
    '/v1/sweeps/:id',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'A sweep: status, counts, best trial so far, every trial',
        params: sweepIdParams,
        response: { 200: sweepDetailSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const view = await loadSweepView(context, request.params.id);
      const owner = await context.owners.ownerOf(view.record.id);
      // Serialised here: Fastify sends a JSON string as it is, without the response schema's
      // validation (see sweepDetailJson); the type provider types send() by the schema only.
      const json = sweepDetailJson(view.record, view.trials, submitter(owner));
      return reply.type('application/json; charset=utf-8').send(json as never);
    },
  );

  app.post(
    '/v1/sweeps/:id/cancel',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'Cancel a running sweep: queued trials are removed, running ones stopped',
        params: sweepIdParams,
        body: cancelSweepBodySchema,
        response: {
          200: cancelSweepResponseSchema,
          409: apiErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const record = await loadSweep(context, request.params.id);
      if (isFinishedSweepStatus(record.status)) {
        throw new ApiError('SWEEP_FINISHED', { sweepId: record.id, status: record.status });
      }
      const reason = request.body?.reason ?? DEFAULT_CANCEL_REASON;
      const outcome = await context.controller.cancel(record.id, reason);
      const after = outcome?.record ?? record;
      const cancel = outcome?.cancel ?? { state: 'done', stoppedTrials: [], removedTrials: [] };
      return { ...toSweepDetail(after, await context.store.getTrials(record.id)), cancel };
    },
  );

  app.patch(
    '/v1/sweeps/:id',
    {
      schema: {
        tags: ['sweeps'],
        summary: "Change a running or paused sweep's parallelism and/or maxTrials",
        params: sweepIdParams,
        body: updateSweepBodySchema,
        response: { 200: sweepDetailSchema, 409: apiErrorBodySchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const after = await context.controller.update(request.params.id, request.body);
      return toSweepDetail(after, await context.store.getTrials(after.id));
    },
  );

  app.post(
    '/v1/sweeps/:id/pause',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'Pause a sweep: nothing new is enqueued, queued trials wait, running ones finish',
        params: sweepIdParams,
        response: { 200: sweepDetailSchema, 409: apiErrorBodySchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const after = await context.controller.pause(request.params.id);
      return toSweepDetail(after, await context.store.getTrials(after.id));
    },
  );

  app.post(
    '/v1/sweeps/:id/resume',
    {
      schema: {
        tags: ['sweeps'],
        summary: 'Resume a paused sweep',
        params: sweepIdParams,
        response: { 200: sweepDetailSchema, 409: apiErrorBodySchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const after = await context.controller.resume(request.params.id);
      return toSweepDetail(after, await context.store.getTrials(after.id));
    },
  );

  app.post(
    '/v1/sweeps/preview',
    {
      validatorCompiler: specBodyValidator,
      schema: {
        tags: ['sweeps'],
        summary: 'The first n configurations a sweep spec would run; nothing is stored',
        consumes: SPEC_CONTENT_TYPES,
        body: sweepBodySchema,
        querystring: previewQuerySchema,
        response: { 200: previewResponseSchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    // Nothing to await; a Promise so that a throw inside becomes the error response.
    (request) =>
      new Promise<PreviewResponse>((resolve) => {
        resolve(previewOf(request.body, request.query.n, context.maxTrialMemoryBytes));
      }),
  );
}

/** The first n configurations of a spec body (`POST /v1/sweeps/preview`). */
function previewOf(body: unknown, n: number, maxTrialMemoryBytes: number): PreviewResponse {
  const spec = parseSweepSpec(specInput(body));
  checkSearchSpace(spec);
  checkTrialMemory(spec, maxTrialMemoryBytes);
  try {
    return {
      strategy: spec.search.strategy,
      plannedTrials: plannedTrialCount(spec),
      configurations: preview(spec, n),
    };
  } catch (error) {
    // The sampler's own checks (e.g. a TPE option it rejects) are spec problems too.
    if (!(error instanceof SweepError)) throw error;
    throw new ApiError('SPEC_INVALID', { detail: error.message }, [
      { path: 'search', message: error.message },
    ]);
  }
}
