import { type IncomingMessage, type ServerResponse } from 'node:http';

import { type S3Client } from '@aws-sdk/client-s3';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  DEFAULT_MAX_TRIAL_MEMORY_BYTES,
  METRICS_PATH,
  formatSpecIssue,
  SpecError,
  SpecTooLargeError,
  TRIALS_QUEUE,
  watchRedisReachability,
  type TrialPayload,
  type TrialResult,
} from '@setrain/protocol';
import { Queue, QueueEvents } from 'bullmq';
import fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { type Redis } from 'ioredis';

import { auditRequest } from './audit.js';
import { adminKeys, allowsMethod, ApiKeyVerifier, type Principal } from './auth.js';
import { createApiMetrics, registerHttpMetrics, registerMetricsRoute } from './metrics.js';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_PRESIGN_EXPIRES_SECONDS } from './config.js';
import { ApiError } from './errors.js';
import { isRedisUnavailable } from './redis-errors.js';
import { registerBestRoutes } from './routes/best.js';
import { registerEventRoutes, type EventRouteOptions } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerSweepRoutes } from './routes/sweeps.js';
import { registerTrialRoutes } from './routes/trials.js';
import { SweepController } from './controller/index.js';
import { checkSweepOwnership, SweepOwners } from './ownership.js';
import { checkRouteIds } from './route-ids.js';
import { registerUiRoutes } from './routes/ui.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { Webhooks, type WebhookSettings } from './webhooks/webhooks.js';
import { SweepArchive } from './sweep-archive.js';
import { SweepStore } from './sweep-store.js';
import { TrialDetailMemo } from './trial-detail-memo.js';
import { BLOCKING_REDIS_OPTIONS, READ_REDIS_OPTIONS } from './api-redis.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without an API key (health, readiness, docs, metrics). */
    public?: boolean;
  }
}

/** Content types a spec may be sent as besides JSON (text/plain is Fastify's own parser). */
export const SPEC_TEXT_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
export const API_VERSION = '0.1.0';

/** What buildApp needs. Connections are the caller's: closing the app does not close them. */
export interface AppDeps {
  /**
   * Command connection, configured to fail fast (`maxRetriesPerRequest` small,
   * `enableOfflineQueue: false`) so a Redis outage answers 503 instead of hanging requests.
   */
  readonly redis: Redis;
  /**
   * Where `redis` connects, as log lines name it (redisTargetOf: no credentials); default
   * "the API's Redis". The read connection's outage warnings carry it.
   */
  readonly redisTarget?: string;
  readonly s3: S3Client;
  /** Prefix of every Redis key, BullMQ's included (default '{setrain}'). */
  readonly keyPrefix: string;
  /** Bucket of runs/<sweepId>/...; trials write their artifacts there. */
  readonly artifactsBucket: string;
  /**
   * Buckets specs may read datasets and backbone weights from (SETRAIN_DATA_BUCKETS); default:
   * the artifacts bucket only.
   */
  readonly dataBuckets?: readonly string[];
  /**
   * Largest estimated memory of one trial a spec may reach (SETRAIN_MAX_TRIAL_MEMORY_BYTES);
   * default DEFAULT_MAX_TRIAL_MEMORY_BYTES.
   */
  readonly maxTrialMemoryBytes?: number;
  /**
   * Bearer token for the detailed /metrics series (SETRAIN_METRICS_TOKEN); without it /metrics
   * carries aggregates only.
   */
  readonly metricsToken?: string | undefined;
  /** Bearer keys accepted on every /v1 route, each an admin (SETRAIN_API_KEYS). */
  readonly apiKeys?: readonly string[];
  /**
   * Keys with names and scopes (SETRAIN_API_KEYS_FILE); main.ts keeps it to reload the file.
   * When given, `apiKeys` is ignored.
   */
  readonly verifier?: ApiKeyVerifier;
  /** Largest request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Period of the controller's reconcile loop; default 5000 ms. */
  readonly reconcileIntervalMs?: number;
  /** Lifetime of presigned artifact URLs; default 3600 s. */
  readonly presignExpiresSeconds?: number;
  /** BullMQ attempts per trial job; default 3. */
  readonly jobAttempts?: number;
  /** First backoff delay between attempts; default 10 s. */
  readonly jobBackoffMs?: number;
  /** Fastify logger options; default off (tests). */
  readonly logger?: FastifyServerOptions['logger'];
  /**
   * A logger to use instead of `logger`'s options: main.ts passes the pino logger it already
   * logged with while it waited for Redis, so the process has one.
   */
  readonly loggerInstance?: FastifyBaseLogger;
  /** Serve Prometheus metrics at /metrics (aggregates without a key; per-sweep series with
   * `metricsToken`) and time every request; default true. */
  readonly metrics?: boolean;
  /** Folder of the built dashboard served at /ui; default apps/ui/dist/public. */
  readonly uiDir?: string;
  /** Poll interval, replay and heartbeat of `GET /v1/sweeps/:id/events`; defaults in events.ts. */
  readonly events?: EventRouteOptions | undefined;
  /**
   * Seconds a finished sweep's Redis keys live after it is archived to S3 (reads then answer from
   * the archive); 0 keeps them. Default DEFAULT_SWEEP_RETENTION_SECONDS (30 days).
   */
  readonly sweepRetentionSeconds?: number;
  /** Webhook URLs, secret and retries (SETRAIN_WEBHOOK_*); without a secret no webhook is sent. */
  readonly webhooks?: WebhookSettings;
}

export type ApiApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What route modules share. */
export interface RouteContext {
  /** The controller's store, on the API's connection: every write goes through it. */
  readonly store: SweepStore;
  /**
   * The read routes' store, on a connection of its own with auto-pipelining (READ_REDIS_OPTIONS).
   * A read after a write the client saw answered finds it: Redis applied the write first.
   */
  readonly reads: SweepStore;
  /** Status documents of the trials read last, reused while their stored JSON is unchanged. */
  readonly trialDetails: TrialDetailMemo;
  readonly controller: SweepController;
  readonly s3: S3Client;
  readonly artifactsBucket: string;
  /** Buckets datasets and backbone weights may come from. */
  readonly dataBuckets: readonly string[];
  /** Budget of one trial's estimated memory; specs that can exceed it answer 400. */
  readonly maxTrialMemoryBytes: number;
  readonly presignExpiresSeconds: number;
  /** Who submitted each sweep. */
  readonly owners: SweepOwners;
  /** The key a request came with (undefined on public routes). */
  readonly principalOf: (request: FastifyRequest) => Principal | undefined;
  /** Finished sweeps' S3 archives, read once their Redis keys expired. */
  readonly archive: SweepArchive;
  /** Webhook delivery attempts by sweep. */
  readonly webhooks: Webhooks;
}

/** Builds the API (routes, auth, error mapping, OpenAPI) and its sweep controller; not listening. */
export async function buildApp(deps: AppDeps): Promise<ApiApp> {
  const bodyLimit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = fastify({
    ...(deps.loggerInstance !== undefined
      ? { loggerInstance: deps.loggerInstance }
      : { logger: deps.logger ?? false }),
    bodyLimit,
    // Errors carry no stack to clients; the error handler logs them.
    return503OnClosing: true,
    // The router's own errors (a parameter past its length limit, bad percent-encoding) answer in
    // the catalogue's shape too.
    frameworkErrors: (error, request, reply) => {
      const apiError =
        error.code === 'FST_ERR_BAD_URL'
          ? new ApiError('REQUEST_INVALID', { detail: 'the URL is not valid percent-encoding' })
          : new ApiError('NOT_FOUND', { method: request.method, url: request.url.slice(0, 200) });
      // The router's reply is typed for no particular route; this one sends the catalogue body.
      void (reply as FastifyReply).code(apiError.status).send(apiError.toBody());
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.addContentTypeParser(
    SPEC_TEXT_CONTENT_TYPES,
    { parseAs: 'string', bodyLimit },
    (_request, body, done) => {
      done(null, body);
    },
  );

  const store = new SweepStore(deps.redis, deps.keyPrefix);
  const readConnection = deps.redis.duplicate(READ_REDIS_OPTIONS);
  // Throttled, with what to do, like the API's own connection's (main.ts).
  watchRedisReachability(readConnection, {
    target: deps.redisTarget ?? "the API's Redis",
    connection: 'reads',
    log: app.log,
  });
  const queue = new Queue<TrialPayload, TrialResult>(TRIALS_QUEUE, {
    connection: deps.redis,
    prefix: deps.keyPrefix,
  });
  // QueueEvents blocks on XREAD: it needs a connection of its own that waits instead of failing.
  const eventsConnection = deps.redis.duplicate(BLOCKING_REDIS_OPTIONS);
  const queueEvents = new QueueEvents(TRIALS_QUEUE, {
    connection: eventsConnection,
    prefix: deps.keyPrefix,
    autorun: false,
  });
  queueEvents.on('error', (error) => {
    app.log.warn({ err: error }, 'queue events error');
  });
  queue.on('error', (error) => {
    app.log.warn({ err: error }, 'queue error');
  });
  const webhooks = new Webhooks({
    redis: deps.redis,
    prefix: deps.keyPrefix,
    settings: deps.webhooks ?? {},
    logger: app.log,
    now: () => new Date(),
  });
  const archive = new SweepArchive({
    store,
    s3: deps.s3,
    bucket: deps.artifactsBucket,
    deliveries: webhooks.deliveries,
    ...(deps.sweepRetentionSeconds !== undefined
      ? { retentionSeconds: deps.sweepRetentionSeconds }
      : {}),
  });
  const controller = new SweepController({
    ...(webhooks.notifier !== undefined ? { notifier: webhooks.notifier } : {}),
    store,
    archive,
    queue,
    queueEvents,
    s3: deps.s3,
    artifactsBucket: deps.artifactsBucket,
    logger: app.log,
    ...(deps.reconcileIntervalMs !== undefined
      ? { reconcileIntervalMs: deps.reconcileIntervalMs }
      : {}),
    ...(deps.jobAttempts !== undefined ? { jobAttempts: deps.jobAttempts } : {}),
    ...(deps.jobBackoffMs !== undefined ? { jobBackoffMs: deps.jobBackoffMs } : {}),
  });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const context: RouteContext = {
    store,
    reads: new SweepStore(readConnection, deps.keyPrefix),
    trialDetails: new TrialDetailMemo(),
    controller,
    s3: deps.s3,
    artifactsBucket: deps.artifactsBucket,
    dataBuckets: deps.dataBuckets ?? [deps.artifactsBucket],
    maxTrialMemoryBytes: deps.maxTrialMemoryBytes ?? DEFAULT_MAX_TRIAL_MEMORY_BYTES,
    presignExpiresSeconds: deps.presignExpiresSeconds ?? DEFAULT_PRESIGN_EXPIRES_SECONDS,
    owners: new SweepOwners(deps.redis, deps.keyPrefix),
    principalOf: (request) => principals.get(request),
    archive,
    webhooks,
  };

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'setrain API',
        description: 'Submit and watch SE-Inception v3 training jobs and hyperparameter sweeps.',
        version: API_VERSION,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const verifier = deps.verifier ?? new ApiKeyVerifier(adminKeys(deps.apiKeys ?? []));
  app.addHook('onRequest', (request, _reply, done) => {
    const open =
      request.routeOptions.config.public === true ||
      request.url.startsWith('/docs') ||
      request.url === METRICS_PATH;
    if (open) {
      done();
      return;
    }
    const principal = verifier.verify(request.headers.authorization);
    if (principal === undefined) {
      done(new ApiError('UNAUTHORIZED'));
      return;
    }
    principals.set(request, principal);
    if (!allowsMethod(principal, request.method)) {
      done(
        new ApiError('FORBIDDEN', {
          keyName: principal.name,
          action: `${request.method} ${request.routeOptions.url ?? request.url}`,
          detail: `its scopes are ${principal.scopes.join(', ')}; changes need submit or admin`,
        }),
      );
      return;
    }
    done();
  });
  app.addHook('preHandler', (request) =>
    checkSweepOwnership(context.owners, request, principals.get(request)),
  );
  app.addHook('onResponse', (request, reply, done) => {
    auditRequest(request, reply, principals.get(request));
    done();
  });

  app.addHook('preValidation', checkRouteIds);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error, request.id, bodyLimit, request.headers['content-type']);
    if (apiError.code === 'INTERNAL' || apiError.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    return reply.code(apiError.status).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', { method: request.method, url: request.url });
    return reply.code(error.status).send(error.toBody());
  });

  if (deps.metrics ?? true) {
    const metrics = createApiMetrics({
      queues: [queue],
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
    });
    // Before the routes: Fastify hooks apply to routes registered after them.
    registerHttpMetrics(app, metrics);
    registerMetricsRoute(app, metrics, deps.metricsToken);
  }
  registerHealthRoutes(app, context);
  registerSweepRoutes(app, context);
  registerTrialRoutes(app, context);
  registerWebhookRoutes(app, context);
  registerBestRoutes(app, context);
  registerEventRoutes(app, context, deps.events);
  registerUiRoutes(app, deps.uiDir);

  app.addHook('onReady', async () => {
    await connectReads(readConnection, app.log);
    void queueEvents.run().catch((error: unknown) => {
      app.log.warn({ err: error }, 'queue events stopped');
    });
    controller.start();
    webhooks.start();
  });
  app.addHook('onClose', async () => {
    // Each closes even when one before it fails or hangs: QueueEvents' close rejects ('Connection
    // is closed') when Redis was down as the API started, and never settles when its connection
    // was between two reconnect attempts (ioredis' disconnect then emits no 'end', which BullMQ
    // waits for; nothing is left open by then). The rest must still let go.
    const closers: [string, () => Promise<unknown>][] = [
      ['sweep controller', () => controller.close()],
      ['webhooks', () => webhooks.close()],
      ['queue events', () => queueEvents.close()],
      ['queue', () => queue.close()],
    ];
    for (const [what, close] of closers) {
      await settleWithin(close(), CLOSE_PART_TIMEOUT_MS).catch((error: unknown) => {
        app.log.warn({ err: error }, `closing the ${what} failed`);
      });
    }
    eventsConnection.disconnect();
    readConnection.disconnect();
  });
  return app;
}

/** How long closing the API waits for each part (controller, webhooks, queue events, queue). */
const CLOSE_PART_TIMEOUT_MS = 5_000;

/** `work`, or a rejection once `ms` have passed without it settling. */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`did not finish within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects the read routes' connection (lazy, like the API's) before the app serves. When Redis is
 * down it keeps retrying in the background and reads answer 503 meanwhile, as on the API's.
 */
async function connectReads(connection: Redis, log: FastifyBaseLogger): Promise<void> {
  if (connection.status !== 'wait') return;
  try {
    await connection.connect();
  } catch (error) {
    log.warn({ err: error }, 'read connection not ready; retrying in the background');
  }
}

/** Maps anything thrown in a request to a catalogued API error. */
function toApiError(
  error: FastifyError,
  requestId: string,
  bodyLimit: number,
  contentType: string | undefined,
): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof SpecTooLargeError) {
    return new ApiError('SPEC_TOO_LARGE', { detail: error.message });
  }
  if (error instanceof SpecError) {
    return new ApiError('SPEC_INVALID', { detail: error.message }, error.issues);
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const issues = error.validation.map((v) => ({
      path: v.instancePath.replace(/^\//, '').replace(/\//g, '.'),
      message: v.message ?? 'invalid',
    }));
    return new ApiError(
      'REQUEST_INVALID',
      {
        detail: `${where}: ${issues.map(formatSpecIssue).join('; ')}`,
      },
      issues,
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('BODY_TOO_LARGE', { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', { contentType: contentType ?? '(none)' });
    default:
      break;
  }
  if (isRedisUnavailable(error))
    return new ApiError('REDIS_UNAVAILABLE', {}, undefined, { cause: error });
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own 4xx (bad JSON, empty body, ...): its message says what is wrong.
    return new ApiError('BODY_INVALID', { detail: error.message });
  }
  return new ApiError('INTERNAL', { requestId }, undefined, { cause: error });
}
