import { type ApiErrorBody, type ApiErrorCode, type ApiIssue } from '@setrain/protocol';

interface CatalogueEntry {
  /** HTTP status the code is answered with. */
  readonly status: number;
  /** Message template; `{name}` placeholders are filled from the error's params. */
  readonly message: string;
}

/**
 * The one error catalogue of the API: every error response carries one of these codes, with this
 * status, and a message built from this template.
 */
export const ERROR_CATALOGUE = {
  BODY_INVALID: { status: 400, message: 'the request body could not be read: {detail}' },
  REQUEST_INVALID: { status: 400, message: 'invalid request: {detail}' },
  SPEC_INVALID: { status: 400, message: 'invalid spec: {detail}' },
  DATASET_INVALID: { status: 400, message: 'invalid dataset {dataset}: {detail}' },
  DATA_BUCKET_NOT_ALLOWED: {
    status: 400,
    message:
      '{field} {uri} is in bucket {bucket}, which this API does not read from; allowed buckets: {allowed} (SETRAIN_DATA_BUCKETS)',
  },
  WEBHOOK_URL_NOT_ALLOWED: {
    status: 400,
    message:
      '{field} points at {address}, a {range} address this API does not send webhooks to; use a public address, or ask its operator to allow that network (SETRAIN_WEBHOOK_ALLOWED_NETWORKS)',
  },
  TRIAL_MEMORY_EXCEEDED: {
    status: 400,
    message:
      'a trial of this spec may need {estimate} bytes, more than the {budget}-byte budget per trial (SETRAIN_MAX_TRIAL_MEMORY_BYTES): {detail}',
  },
  UNAUTHORIZED: {
    status: 401,
    message: 'missing or unknown API key; send "Authorization: Bearer <key>"',
  },
  FORBIDDEN: { status: 403, message: 'key {keyName} may not {action}: {detail}' },
  NOT_FOUND: { status: 404, message: 'no route {method} {url}' },
  SWEEP_NOT_FOUND: { status: 404, message: 'no sweep {sweepId}' },
  TRIAL_NOT_FOUND: { status: 404, message: 'no trial {trialId}' },
  ARTIFACT_NOT_FOUND: { status: 404, message: '{detail}' },
  NO_BEST_TRIAL: {
    status: 409,
    message: 'sweep {sweepId} has no finished trial with an objective value yet',
  },
  NO_SINGLE_BEST: {
    status: 409,
    message:
      'sweep {sweepId} has several objectives, so no single best trial: pick one trial of its Pareto front (trials {front}) with ?trial=N (CLI: fetch-best --trial N)',
  },
  SWEEP_FINISHED: { status: 409, message: 'sweep {sweepId} already ended ({status})' },
  SWEEP_CONFLICT: {
    status: 409,
    message:
      'sweep {sweepId} was changed by another writer each of the {attempts} times this {action} was applied; nothing was changed: read the sweep again and retry',
  },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than {limit} bytes' },
  SPEC_TOO_LARGE: { status: 413, message: '{detail}; send a smaller spec' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message:
      'content type {contentType} is not supported; send application/json, application/yaml, text/yaml or text/plain',
  },
  REDIS_UNAVAILABLE: { status: 503, message: 'Redis is unavailable; retry later' },
  S3_UNAVAILABLE: { status: 503, message: 'S3 is unavailable; retry later' },
  NOT_READY: { status: 503, message: 'not ready: {detail}' },
  SWEEP_BUSY: {
    status: 503,
    message:
      'sweep {sweepId} stayed locked by another API replica for {waitMs} ms; nothing was changed: retry the {action}',
  },
  INTERNAL: { status: 500, message: 'internal error (see the server log, request {requestId})' },
} as const satisfies Record<ApiErrorCode, CatalogueEntry>;

function fill(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** An error the API answers with a catalogued code; `issues` name the offending fields. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    params: Readonly<Record<string, string | number>> = {},
    readonly issues?: readonly ApiIssue[],
    options?: ErrorOptions,
  ) {
    super(fill(ERROR_CATALOGUE[code].message, params), options);
    this.name = 'ApiError';
    this.status = ERROR_CATALOGUE[code].status;
  }

  /** The response body. */
  toBody(): ApiErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.issues !== undefined ? { issues: [...this.issues] } : {}),
      },
    };
  }
}
