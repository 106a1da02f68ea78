import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console at `/` (docs/console.md): static files in `discovery/console/` (copied to
 * `dist/discovery/console/` by `npm run build`) plus uPlot and the player libraries (hls.js,
 * mpegts.js) served from node_modules. The page only reads the public JSON API (`/v1/cluster`,
 * `/v1/events`) and calls the admin routes with a token the operator types, so it sees exactly
 * what an operator's scripts see.
 */

/** The console's own files, next to this module (source tree under ts-jest, dist/ when built). */
const CONSOLE_DIR = path.join(__dirname, 'console');

/**
 * Scripts and styles from this origin only, no inline script, style or event handler; media and
 * fetches may go to any http(s) edge or origin (the player plays from them; their URLs are
 * whatever they registered); hls.js starts its worker from a blob: URL and plays through
 * MediaSource (blob: media).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  /** Path relative to CONSOLE_DIR, or a module path for require.resolve. */
  file: string;
  fromModule?: boolean;
  type: string;
  cache: string;
}

/** Our files change with every release and are small: revalidate (ETag). Pinned libraries: a day. */
const REVALIDATE = 'no-cache';
const LIBRARY = 'public, max-age=86400';

const ASSETS: Record<string, Asset> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8', cache: REVALIDATE },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8', cache: REVALIDATE },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8', cache: REVALIDATE },
  '/console/uplot.min.js': { file: 'uplot/dist/uPlot.iife.min.js', fromModule: true, type: 'text/javascript; charset=utf-8', cache: LIBRARY },
  '/console/uplot.min.css': { file: 'uplot/dist/uPlot.min.css', fromModule: true, type: 'text/css; charset=utf-8', cache: LIBRARY },
  '/console/hls.min.js': { file: 'hls.js/dist/hls.min.js', fromModule: true, type: 'text/javascript; charset=utf-8', cache: LIBRARY },
  '/console/mpegts.js': { file: 'mpegts.js/dist/mpegts.js', fromModule: true, type: 'text/javascript; charset=utf-8', cache: LIBRARY },
};

interface Loaded {
  body: Buffer;
  etag: string;
}

function load(asset: Asset): Loaded {
  const body = readFileSync(asset.fromModule ? require.resolve(asset.file) : path.join(CONSOLE_DIR, asset.file));
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export function registerConsole(app: FastifyInstance): void {
  for (const [route, asset] of Object.entries(ASSETS)) {
    let loaded: Loaded | undefined;
    app.get(route, { schema: { hide: true } }, async (req: FastifyRequest, reply: FastifyReply) => {
      // Read once, on first use (a missing file is a 500 INTERNAL with the path in the log).
      loaded ??= load(asset);
      void reply.header('Cache-Control', asset.cache).header('ETag', loaded.etag).header('X-Content-Type-Options', 'nosniff');
      if (route === '/') void reply.header('Content-Security-Policy', CONSOLE_CSP).header('Referrer-Policy', 'no-referrer');
      if (req.headers['if-none-match'] === loaded.etag) return reply.code(304).send();
      return reply.type(asset.type).send(loaded.body);
    });
  }
}
