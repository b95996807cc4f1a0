import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import { formatSpecIssue } from '@setrain/protocol';
import { CliError, EXIT_CODES, type ExitCode } from './errors.js';

/** Options of an ApiClient. */
export interface ApiClientOptions {
  /** Base URL of the setrain API, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** Bearer API key; requests without one get the API's 401, worded for the CLI. */
  apiKey: string | undefined;
  /** Per-request timeout in ms. Default 30 s. */
  timeoutMs?: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export const DEFAULT_API_TIMEOUT_MS = 30_000;

interface ApiErrorBody {
  error?: { code?: string; message?: string; issues?: { path: string; message: string }[] };
}

function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT_CODES.unauthorized;
  if (status === 404) return EXIT_CODES.notFound;
  if (status >= 400 && status < 500) return EXIT_CODES.rejected;
  return EXIT_CODES.failure;
}

/** A thin HTTP client of the setrain API that turns every failure into one clear CliError. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_API_TIMEOUT_MS;
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  async getJson<T>(path: string): Promise<T> {
    return (await (await this.request('GET', path)).json()) as T;
  }

  async postJson<T>(path: string, body?: unknown): Promise<T> {
    const response = await this.request(
      'POST',
      path,
      body === undefined ? undefined : JSON.stringify(body),
      'application/json',
    );
    return (await response.json()) as T;
  }

  /** POSTs spec text as-is (YAML or JSON); the API parses it and names bad fields. */
  async postText<T>(path: string, text: string, contentType: string): Promise<T> {
    return (await (await this.request('POST', path, text, contentType)).json()) as T;
  }

  /** GETs a binary body as a Node stream (for downloads). */
  async getStream(path: string): Promise<Readable> {
    const response = await this.request('GET', path, undefined, undefined, 0);
    if (!response.body)
      throw new CliError(`the API sent an empty body for ${path}`, EXIT_CODES.failure);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  private async request(
    method: string,
    path: string,
    body?: string,
    contentType?: string,
    timeoutMs = this.timeoutMs,
  ): Promise<Response> {
    if (!this.options.apiKey) {
      throw new CliError(
        'no API key: pass --api-key, set SETRAIN_API_KEY, or put "apiKey" in the config file',
        EXIT_CODES.unauthorized,
      );
    }
    const url = `${this.options.baseUrl}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}` };
    if (contentType) headers['content-type'] = contentType;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(
        `cannot reach the setrain API at ${this.options.baseUrl} (${why}); is it running? Set --api-url or SETRAIN_API_URL`,
        EXIT_CODES.unreachable,
      );
    }
    if (response.ok) return response;
    let parsed: ApiErrorBody = {};
    try {
      parsed = (await response.json()) as ApiErrorBody;
    } catch {
      // Not JSON (a proxy's error page): fall back to the status line below.
    }
    const code = parsed.error?.code;
    const message = parsed.error?.message ?? `${response.status} ${response.statusText}`;
    const issues = (parsed.error?.issues ?? []).map(formatSpecIssue);
    if (response.status === 401) {
      throw new CliError(
        `the API at ${this.options.baseUrl} rejected the API key (${message}); check --api-key / SETRAIN_API_KEY`,
        EXIT_CODES.unauthorized,
      );
    }
    throw new CliError(
      `${message}${code ? ` [${code}]` : ''}`,
      exitCodeForStatus(response.status),
      issues,
    );
  }
}
