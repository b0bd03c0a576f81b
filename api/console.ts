/**
 * The console at `/ui`: static files from the repository's `console/` folder and the browser
 * libraries it imports (preact, htm, uPlot) from node_modules, all served by the engine (no CDN, no
 * external fonts). The files hold no data and need no key; every data request the page makes goes
 * to the API with the key the user typed, under the same roles and audit as any client.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../lib/paths.js';

const CONSOLE_DIR = path.join(PACKAGE_ROOT, 'console');
const MODULES = path.join(PACKAGE_ROOT, 'node_modules');

/** `/ui/vendor/<name>` → the file in node_modules (the import map of console/index.html names these). */
const VENDOR: Readonly<Record<string, string>> = {
  'preact.mjs': 'preact/dist/preact.mjs',
  'hooks.mjs': 'preact/hooks/dist/hooks.mjs',
  'htm.mjs': 'htm/dist/htm.module.js',
  'htm-preact.mjs': 'htm/preact/index.module.js',
  'uPlot.esm.js': 'uplot/dist/uPlot.esm.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * The page's policy: its own scripts, styles, images and API only. The one inline script is the
 * import map, allowed by its hash.
 */
function consolePolicy(html: string): string {
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(importMap).digest('base64');
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const FileParams = Type.Object({ '*': Type.String({ maxLength: 200 }) });
const VendorParams = Type.Object({ name: Type.String({ maxLength: 64 }) });

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: CONSOLE_DIR, serve: false });
  const policy = consolePolicy(readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8'));
  const config = { public: true };
  const schema = { hide: true };

  app.get('/ui', { config, schema }, (_request, reply) => reply.redirect('/ui/', 302));
  app.get('/ui/', { config, schema }, (_request, reply) =>
    reply
      .header('content-security-policy', policy)
      .header('cache-control', 'no-cache')
      .sendFile('index.html'),
  );
  app.get<{ Params: { name: string } }>(
    '/ui/vendor/:name',
    { config, schema: { ...schema, params: VendorParams } },
    (request, reply) => {
      const file = VENDOR[request.params.name];
      if (file === undefined)
        return reply.code(404).send({ error: { code: 'BW_ERR_NOT_FOUND', message: 'no such file' } });
      return reply
        .header('content-security-policy', policy)
        .header('cache-control', 'public, max-age=86400')
        .sendFile(path.basename(file), path.join(MODULES, path.dirname(file)));
    },
  );
  app.get<{ Params: { '*': string } }>(
    '/ui/*',
    { config, schema: { ...schema, params: FileParams } },
    (request, reply) =>
      // sendFile refuses paths that leave the root (404).
      reply
        .header('content-security-policy', policy)
        .header('cache-control', 'no-cache')
        .sendFile(request.params['*']),
  );
}
