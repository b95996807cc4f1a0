/**
 * A typed client of the setrain HTTP API for the dashboard. Request and response types are the
 * protocol package's (inferred from the schemas the API validates with); only types are imported,
 * so the bundle carries no schema code.
 */
import {
  type ArtifactEpoch,
  type ApiErrorBody,
  type ApiIssue,
  type BestTrialResponse,
  type ListSweepsResponse,
  type ParetoFrontResponse,
  type PreviewResponse,
  type SweepDetail,
  type TrialArtifactsResponse,
  type TrialDetail,
  type UpdateSweepBody,
} from '@setrain/protocol';

import { storedApiKey } from './auth.js';

/** A non-2xx answer: the API's error code, message and the fields at fault. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** Called on every 401 so the page can ask for the key again. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export function authHeaders(): Record<string, string> {
  const key = storedApiKey();
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/** Turns an error response into an ApiRequestError (and reports a 401). */
export async function toRequestError(response: Response): Promise<ApiRequestError> {
  if (response.status === 401) onUnauthorized();
  let body: Partial<ApiErrorBody> = {};
  try {
    body = (await response.json()) as ApiErrorBody;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return new ApiRequestError(
    response.status,
    body.error?.code ?? 'HTTP_ERROR',
    body.error?.message ?? `${response.status} ${response.statusText}`,
    body.error?.issues ?? [],
  );
}

async function request<T>(
  method: string,
  path: string,
  body?: BodyInit,
  type?: string,
): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(type !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  if (!response.ok) throw await toRequestError(response);
  return (await response.json()) as T;
}

const json = (value: unknown): [string, string] => [JSON.stringify(value), 'application/json'];

export const api = {
  listSweeps: (offset = 0, limit = 100) =>
    request<ListSweepsResponse>('GET', `/v1/sweeps?offset=${offset}&limit=${limit}`),
  sweep: (id: string) => request<SweepDetail>('GET', `/v1/sweeps/${encodeURIComponent(id)}`),
  trial: (id: string) => request<TrialDetail>('GET', `/v1/trials/${encodeURIComponent(id)}`),
  best: (id: string, epoch: ArtifactEpoch) =>
    request<BestTrialResponse>('GET', `/v1/sweeps/${encodeURIComponent(id)}/best?epoch=${epoch}`),
  /** A multi-objective sweep's Pareto front and hypervolume (GET /best without ?trial=). */
  front: (id: string) =>
    request<ParetoFrontResponse>('GET', `/v1/sweeps/${encodeURIComponent(id)}/best`),
  cancel: (id: string, reason: string) =>
    request<SweepDetail>(
      'POST',
      `/v1/sweeps/${encodeURIComponent(id)}/cancel`,
      ...json({ reason }),
    ),
  pause: (id: string) => request<SweepDetail>('POST', `/v1/sweeps/${encodeURIComponent(id)}/pause`),
  resume: (id: string) =>
    request<SweepDetail>('POST', `/v1/sweeps/${encodeURIComponent(id)}/resume`),
  update: (id: string, body: UpdateSweepBody) =>
    request<SweepDetail>('PATCH', `/v1/sweeps/${encodeURIComponent(id)}`, ...json(body)),
  preview: (yaml: string, n = 10) =>
    request<PreviewResponse>('POST', `/v1/sweeps/preview?n=${n}`, yaml, 'application/yaml'),
  submit: (yaml: string) => request<SweepDetail>('POST', '/v1/sweeps', yaml, 'application/yaml'),
  trialArtifacts: (id: string) =>
    request<TrialArtifactsResponse>('GET', `/v1/trials/${encodeURIComponent(id)}/artifacts`),
  /** The best trial's tar (trial.json + final/), fetched with the key. */
  downloadBestTar: (id: string, epoch: ArtifactEpoch) =>
    download(`/v1/sweeps/${encodeURIComponent(id)}/best/download?epoch=${epoch}`),
  /** One file of a trial, streamed through the API (which checks it against its sha256). */
  downloadTrialFile: (id: string, path: string) =>
    download(
      `/v1/trials/${encodeURIComponent(id)}/artifacts/download?path=${encodeURIComponent(path)}`,
    ),
};

/** A download that needs the key (a plain link cannot send it). */
async function download(path: string): Promise<Blob> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw await toRequestError(response);
  return response.blob();
}

/** Saves a blob as a file through a temporary link; returns the object URL for the caller to revoke. */
export function saveBlob(blob: Blob, name: string): string {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  return url;
}
