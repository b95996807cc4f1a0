import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

import { type ApiApp } from '../app.js';
import { ApiError } from '../errors.js';

/** Where `npm run build` puts the dashboard (apps/ui/dist/public), from src/ or dist/ alike. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../ui/dist/public', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};
/** The bundle is flat: a plain file name, never a path, so nothing outside the folder is served. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
/** The page talks only to this origin; downloads are navigations to presigned S3 URLs. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/**
 * `GET /ui/` (the dashboard's index.html) and `GET /ui/<file>` (its bundle), without an API key:
 * the page itself asks for the key and sends it with every /v1 request.
 */
export function registerUiRoutes(app: ApiApp, uiDir: string = DEFAULT_UI_DIR): void {
  const serve = async (name: string): Promise<{ body: Buffer; type: string }> => {
    const type = CONTENT_TYPES[extname(name)];
    if (!ASSET_NAME.test(name) || type === undefined) {
      throw new ApiError('NOT_FOUND', { method: 'GET', url: `/ui/${name}` });
    }
    try {
      return { body: await readFile(join(uiDir, name)), type };
    } catch (error) {
      if (name === 'index.html') {
        throw new ApiError('NOT_READY', {
          detail: `the dashboard is not built (no ${join(uiDir, name)}); run npm run build`,
        });
      }
      throw new ApiError('NOT_FOUND', { method: 'GET', url: `/ui/${name}` }, undefined, {
        cause: error,
      });
    }
  };
  const schema = { hide: true };
  app.get('/ui', { config: { public: true }, schema }, (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { config: { public: true }, schema }, async (_request, reply) => {
    const { body, type } = await serve('index.html');
    return reply
      .header('content-type', type)
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('cache-control', 'no-cache')
      .send(body);
  });
  app.get(
    '/ui/:file',
    { config: { public: true }, schema: { ...schema, params: z.object({ file: z.string() }) } },
    async (request, reply) => {
      const { body, type } = await serve(request.params.file);
      return reply.header('content-type', type).header('cache-control', 'no-cache').send(body);
    },
  );
}
