import assert from 'node:assert/strict';

import { type LocalStack } from './local-stack.js';

/**
 * A JSON call to the stack's API with its key: asserts a 2xx answer (naming the route, status and
 * body otherwise) and returns the parsed body.
 */
export async function stackApi<T>(
  stack: LocalStack,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}
