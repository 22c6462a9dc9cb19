import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The built web client (`make install` builds it); the same path from src/ and dist/. */
export const WEB_CLIENT_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/**
 * Serves the single-page app at `/`. Hashed assets are immutable; index.html is revalidated
 * so a deploy reaches browsers at once. Without a build (tests, API-only installs) `/` is
 * simply not found.
 */
export async function registerWebClient(app: FastifyInstance, root = WEB_CLIENT_DIR) {
  if (!existsSync(root)) {
    app.log.warn({ root }, 'web client not built: run make install to serve it at /');
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    cacheControl: false,
    setHeaders: (response, filePath) => {
      response.setHeader(
        'cache-control',
        filePath.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
