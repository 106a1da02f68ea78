import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, LogController } from 'fastify';
import type { Static } from '@sinclair/typebox';
import {
  BadRequestError,
  CascadeError,
  ERROR_CODES,
  ErrorCode,
  LeaseLostError,
  OriginNotFoundError,
  StreamNotFoundError,
  StreamOwnedElsewhereError,
  isErrorCode,
} from '../common/errors';
import { canonicalStreamName, isValidStreamPart } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import type { DiscoveryConfig } from './config';
import * as S from './schemas';
import type { DiscoveryStore, Lease, OriginRecord } from './store/types';
import type { LeaseView, OriginRegistration, OriginView, StreamOwnerView } from './types';

/** What the routes read from the config (the whole `DiscoveryConfig` fits). */
export type DiscoveryRoutesConfig = Pick<DiscoveryConfig, 'originTtlMs' | 'leaseTtlMs' | 'apiTokens' | 'host' | 'port'>;

export interface DiscoveryRoutesOptions {
  store: DiscoveryStore;
  config: DiscoveryRoutesConfig;
}

type StreamParamsT = Static<typeof S.StreamParams>;

/**
 * The discovery REST API as a fastify plugin. Expects the error handling of `buildDiscoveryApp`
 * (errors become `{"code","message"}`); register it there, or in an app that maps `CascadeError`.
 */
export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app, { store, config }) => {
  const auth = bearerAuth(config.apiTokens);
  const write = auth ? { onRequest: auth } : {};

  const originView = (o: OriginRecord): OriginView => ({
    id: o.id,
    rtmp: o.rtmp,
    http: o.http,
    ...(o.api !== undefined ? { api: o.api } : {}),
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.capacity !== undefined ? { capacity: o.capacity } : {}),
    state: o.state,
    load: o.load,
    updatedAt: o.updatedAt,
  });

  const ownerView = (lease: Lease, origin: OriginRecord): StreamOwnerView => ({
    app: lease.app,
    name: lease.name,
    origin: { id: origin.id, rtmp: origin.rtmp, http: origin.http },
    since: lease.since,
    token: lease.token,
  });

  /** The owner view of a lease, or null if its origin vanished in between (a later read drops the lease). */
  const lookupOwner = async (lease: Lease): Promise<StreamOwnerView | null> => {
    const origin = await store.getOrigin(lease.originId);
    return origin ? ownerView(lease, origin) : null;
  };

  const leaseView = async (lease: Lease): Promise<LeaseView> => {
    const owner = await lookupOwner(lease);
    if (!owner) throw new OriginNotFoundError(lease.originId);
    return { ...owner, ttlMs: config.leaseTtlMs };
  };

  // ---- origins -------------------------------------------------------------------------------

  app.put<{ Params: Static<typeof S.OriginParams>; Body: OriginRegistration }>(
    '/v1/origins/:id',
    {
      ...write,
      schema: {
        params: S.OriginParams,
        body: S.OriginRegistrationSchema,
        response: { 200: S.RegisterOriginResultSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      const record = await store.upsertOrigin(
        {
          id,
          rtmp: normalizeBaseUrl(body.rtmp, 'rtmp'),
          http: normalizeBaseUrl(body.http, 'http'),
          ...(body.api !== undefined ? { api: checkApi(body.api) } : {}),
          ...(body.region !== undefined ? { region: body.region } : {}),
          ...(body.capacity !== undefined ? { capacity: body.capacity } : {}),
          state: body.state ?? 'active',
          load: body.load ?? {},
        },
        config.originTtlMs,
      );
      return { origin: originView(record), ttlMs: config.originTtlMs };
    },
  );

  app.delete<{ Params: Static<typeof S.OriginParams> }>(
    '/v1/origins/:id',
    { ...write, schema: { params: S.OriginParams } },
    async (request, reply) => {
      await store.removeOrigin(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof S.OriginParams> }>(
    '/v1/origins/:id',
    { schema: { params: S.OriginParams, response: { 200: S.OriginViewSchema } } },
    async (request) => {
      const origin = await store.getOrigin(request.params.id);
      if (!origin) throw new OriginNotFoundError(request.params.id);
      return originView(origin);
    },
  );

  app.get('/v1/origins', { schema: { response: { 200: S.OriginListSchema } } }, async () => ({
    origins: (await store.listOrigins()).map(originView),
  }));

  // ---- streams -------------------------------------------------------------------------------

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.ClaimBody> }>(
    '/v1/streams/:app/:name/claim',
    {
      ...write,
      schema: { params: S.StreamParams, body: S.ClaimBody, response: { 200: S.LeaseViewSchema } },
    },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId } = request.body;
      const result = await store.claimStream(appName, name, originId, config.leaseTtlMs);
      if ('conflict' in result) {
        const owner = await lookupOwner(result.conflict);
        if (!owner) throw new CascadeError('STORE_UNAVAILABLE', 'the owner of this stream vanished during the claim; retry');
        throw new StreamOwnedElsewhereError(appName, name, owner);
      }
      return leaseView(result.lease);
    },
  );

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.LeaseBody> }>(
    '/v1/streams/:app/:name/renew',
    {
      ...write,
      schema: { params: S.StreamParams, body: S.LeaseBody, response: { 200: S.LeaseViewSchema } },
    },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId, token } = request.body;
      const lease = await store.renewStream(appName, name, originId, token, config.leaseTtlMs);
      if (!lease) throw new LeaseLostError(appName, name);
      return leaseView(lease);
    },
  );

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.LeaseBody> }>(
    '/v1/streams/:app/:name/release',
    { ...write, schema: { params: S.StreamParams, body: S.LeaseBody } },
    async (request, reply) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId, token } = request.body;
      if (!(await store.releaseStream(appName, name, originId, token))) throw new LeaseLostError(appName, name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: StreamParamsT }>(
    '/v1/streams/:app/:name',
    { schema: { params: S.StreamParams, response: { 200: S.StreamOwnerViewSchema } } },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const lease = await store.getStream(appName, name);
      const owner = lease ? await lookupOwner(lease) : null;
      if (!owner) throw new StreamNotFoundError(appName, name);
      return owner;
    },
  );

  app.get('/v1/streams', { schema: { response: { 200: S.StreamListSchema } } }, async () => {
    const [leases, origins] = await Promise.all([store.listStreams(), store.listOrigins()]);
    const byId = new Map(origins.map((o) => [o.id, o]));
    const streams: StreamOwnerView[] = [];
    for (const lease of leases) {
      const origin = byId.get(lease.originId);
      if (origin) streams.push(ownerView(lease, origin));
    }
    return { streams };
  });

  app.get('/healthz', { schema: { response: { 200: S.HealthSchema } } }, async () => {
    await store.ping();
    return { status: 'ok' as const, store: store.kind };
  });

  // ---- SRS-compatible coworker lookup (DESIGN.md section 3) -----------------------------------

  await app.register(async (srs) => {
    // SRS origins POST with `Content-Type: application/json`, `Content-Length: 0` and no body; the
    // answer depends on the query only, so in this scope any body of any type is read and ignored.
    srs.removeAllContentTypeParsers();
    srs.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
    srs.route<{ Querystring: Static<typeof S.SrsClustersQuery> }>({
      method: ['GET', 'POST'],
      url: '/api/v1/clusters',
      schema: { querystring: S.SrsClustersQuery, response: { 200: S.SrsClustersResponse } },
      handler: async (request) => {
        const q = request.query;
        const query = { ip: q.ip ?? '', vhost: q.vhost ?? '__defaultVhost__', app: q.app, stream: q.stream };
        if (!isValidStreamPart(q.app) || !isValidStreamPart(q.stream)) {
          throw new BadRequestError('app and stream must be valid stream names');
        }
        const name = canonicalStreamName(q.stream);
        const lease = isValidStreamPart(name) ? await store.getStream(q.app, name) : null;
        const origin = lease ? await store.getOrigin(lease.originId) : null;
        if (!origin) return { code: 0 as const, data: { query, origin: null } };
        const rtmp = hostAndPort(origin.rtmp, 1935);
        const api = origin.api !== undefined ? apiHostPort(origin.api) : hostAndPort(origin.http, 80);
        return {
          code: 0 as const,
          data: {
            query,
            origin: {
              ip: rtmp.host,
              port: rtmp.port,
              vhost: query.vhost,
              api: `${bracket(api.host)}:${api.port}`,
              routers: [`${selfHostPort(request, config)}/api/v1/clusters`],
            },
          },
        };
      },
    });
  });
};

/** Validated, canonical (`NAME.flv` → `NAME`) stream parts of a route. */
function streamOf(params: StreamParamsT): { app: string; name: string } {
  const { app, name } = params;
  if (!isValidStreamPart(app)) throw new BadRequestError('app must be a valid stream name part');
  const canonical = canonicalStreamName(name);
  if (!isValidStreamPart(name) || !isValidStreamPart(canonical)) throw new BadRequestError('name must be a valid stream name part');
  return { app, name: canonical };
}

function parseUrl(text: string, what: string): URL {
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
function normalizeBaseUrl(text: string, what: 'rtmp' | 'http'): string {
  parseUrl(text, what);
  return text.endsWith('/') ? text.slice(0, -1) : text;
}

function checkApi(api: string): string {
  apiHostPort(api);
  return api;
}

function hostAndPort(text: string, defaultPort: number): { host: string; port: number } {
  const url = parseUrl(text, 'URL');
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'rtmp:': 1935 };
  const port = url.port !== '' ? Number(url.port) : (defaults[url.protocol] ?? defaultPort);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port };
}

/** The `api` field: `host:port` or an http(s) URL. */
function apiHostPort(api: string): { host: string; port: number } {
  return hostAndPort(api.includes('://') ? api : `http://${api}`, 80);
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const HOST_HEADER = /^[A-Za-z0-9.\-_]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/** host:port by which the caller reached discovery (Host header), else the listening address. */
function selfHostPort(request: FastifyRequest, config: DiscoveryRoutesConfig): string {
  const host = request.host;
  if (host && HOST_HEADER.test(host)) return /(:\d+)$/.test(host) && !host.endsWith(']') ? host : `${host}:80`;
  const address = request.server.server.address() as AddressInfo | null;
  const port = address && typeof address === 'object' ? address.port : config.port;
  const bind = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `${bracket(bind)}:${port}`;
}

/** `onRequest` hook demanding `Authorization: Bearer <token>`; undefined when no tokens are configured. */
function bearerAuth(tokens: readonly string[]): ((request: FastifyRequest) => Promise<void>) | undefined {
  if (tokens.length === 0) return undefined;
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return async (request) => {
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (m) {
      const given = createHash('sha256').update(m[1]).digest();
      let ok = false;
      for (const d of digests) ok = timingSafeEqual(given, d) || ok;
      if (ok) return;
    }
    throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <token>');
  };
}

// ---- the app: errors, 404, body parsing, logging -------------------------------------------------

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Any thrown value → status and `{"code","message",...}`. Unknown errors are 500 INTERNAL without details. */
export function errorResponse(err: unknown): { status: number; body: { code: ErrorCode; message: string } & Record<string, unknown> } {
  if (err instanceof CascadeError) return { status: err.status, body: err.toJSON() };
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : 'bad request';
  if (e.validation !== undefined) return { status: 400, body: { code: 'BAD_REQUEST', message } };
  const mapped = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return { status: ERROR_CODES[mapped].status, body: { code: mapped, message } };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = STATUS_CODES[e.statusCode] ?? 'BAD_REQUEST';
    return { status: ERROR_CODES[code].status, body: { code, message } };
  }
  if (typeof e.code === 'string' && isErrorCode(e.code)) {
    return { status: ERROR_CODES[e.code].status, body: { code: e.code, message } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error (logged)' } };
}

/** Request lines at debug (heartbeats every 2 s per origin would drown the log); 4xx at info, 5xx at error. */
class DiscoveryLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const level = error || status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    // Path only: query strings may carry credentials one day; headers (authorization) never logged.
    const path = request.url.split('?')[0].slice(0, 300);
    reply.log[level]({ method: request.method, path, res: reply, responseTime: reply.elapsedTime, ...(error ? { err: error } : {}) }, 'request completed');
  }
}

/**
 * A fastify instance serving the discovery API (not listening: call `listen()` or use `inject()`).
 * The logger is used through a child that redacts the authorization header.
 */
export function buildDiscoveryApp(
  store: DiscoveryStore,
  config: DiscoveryRoutesConfig & { bodyLimit?: number },
  logger: Logger,
): FastifyInstance {
  const log = logger.child(
    { component: 'http' },
    { redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' } },
  );
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new DiscoveryLogController(),
    bodyLimit: config.bodyLimit ?? 65536,
    // Names may be 128 chars; longer params must reach the schema (400), not the router (414).
    routerOptions: { maxParamLength: 1024 },
    requestTimeout: 30_000,
    // Requests already on a connection when stop() begins are served normally (fastify would answer
    // its own 503 body without our `code`); the store closes only after the listener.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
    frameworkErrors: (error, _request, reply) => {
      // Bad percent-encoding, over-long params, ...: the request never reached a route.
      void (reply as unknown as FastifyReply).code(400).send({ code: 'BAD_REQUEST', message: error.message });
    },
  });

  // JSON only. An empty body parses as "no body" (routes with a body schema then answer 400);
  // malformed JSON is 400; other media types are 415 (the text/plain default parser is removed).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    if (body.code === 'UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}` }),
  );

  void app.register(discoveryRoutes, { store, config });
  return app;
}
