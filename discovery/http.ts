import type { AddressInfo } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError } from '../common/errors';
import { canonicalStreamName, isValidStreamPart } from '../common/stream-name';

/** Small HTTP helpers of the discovery routes: names, URLs, auth, cursors, stale marking. */

/** Validated, canonical (`NAME.flv` → `NAME`) stream parts of a route. */
export function streamOf(params: { app: string; name: string }): { app: string; name: string } {
  const { app, name } = params;
  if (!isValidStreamPart(app)) throw new BadRequestError('app must be a valid stream name part');
  const canonical = canonicalStreamName(name);
  if (!isValidStreamPart(name) || !isValidStreamPart(canonical)) throw new BadRequestError('name must be a valid stream name part');
  return { app, name: canonical };
}

export function parseUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadRequestError(`${what} is not a valid URL`);
  }
  if (url.hostname === '' || url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    throw new BadRequestError(`${what} must look like scheme://host:port`);
  }
  return url;
}

/** `rtmp://h:p/` → `rtmp://h:p` (origins append `/app/name`). */
export function normalizeBaseUrl(text: string, what: 'rtmp' | 'http'): string {
  parseUrl(text, what);
  return text.endsWith('/') ? text.slice(0, -1) : text;
}

export function checkApi(api: string): string {
  apiHostPort(api);
  return api;
}

export function hostAndPort(text: string, defaultPort: number): { host: string; port: number } {
  const url = parseUrl(text, 'URL');
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'rtmp:': 1935 };
  const port = url.port !== '' ? Number(url.port) : (defaults[url.protocol] ?? defaultPort);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port };
}

/** The `api` field: `host:port` or an http(s) URL. */
export function apiHostPort(api: string): { host: string; port: number } {
  return hostAndPort(api.includes('://') ? api : `http://${api}`, 80);
}

export function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const HOST_HEADER = /^[A-Za-z0-9.\-_]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/** host:port by which the caller reached discovery (Host header), else the listening address. */
export function selfHostPort(request: FastifyRequest, config: { host: string; port: number }): string {
  const host = request.host;
  if (host && HOST_HEADER.test(host)) return /(:\d+)$/.test(host) && !host.endsWith(']') ? host : `${host}:80`;
  const address = request.server.server.address() as AddressInfo | null;
  const port = address && typeof address === 'object' ? address.port : config.port;
  const bind = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `${bracket(bind)}:${port}`;
}

// ---- cursors and stale answers -------------------------------------------------------------------

/** The opaque `next` of a stream page: base64url of the last `app/name`. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  const slash = key.indexOf('/');
  if (slash < 0 || !isValidStreamPart(key.slice(0, slash)) || !isValidStreamPart(key.slice(slash + 1)) || encodeCursor(key) !== cursor) {
    throw new BadRequestError('cursor is not one this API returned');
  }
  return key;
}

/** An integer query value (the schema checked the digits) within a range, else 400. */
export function intParam(text: string | undefined, name: string, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadRequestError(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** Marks an answer that comes from the local cache while the store is unreachable. */
export function markStale(reply: FastifyReply, staleMs: number): void {
  void reply.header('x-cascade-stale', '1');
  void reply.header('warning', '110 - "Response is Stale"');
  void reply.header('age', String(Math.floor(staleMs / 1000)));
}
