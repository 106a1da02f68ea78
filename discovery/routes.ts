import { registerConsole } from './console';
import { performance } from 'node:perf_hooks';
import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, LogController } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Value } from '@sinclair/typebox/value';
import type { Static, TSchema } from '@sinclair/typebox';
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
import { DiscoveryConfigSchema, type DiscoveryConfig } from './config';
import {
  apiHostPort,
  authHooks,
  bracket,
  decodeCursor,
  encodeCursor,
  hostAndPort,
  intParam,
  markStale,
  selfHostPort,
  streamOf,
  type AuthHook,
} from './http';
import { heartbeatRoute, registrationInput } from './heartbeat-route';
import { HttpLiveness, type LivenessChecker } from './liveness';
import { DiscoveryMetrics } from './metrics';
import { placeStream, type PlacementOptions } from './placement/place';
import { ReadCache } from './read-cache';
import * as S from './schemas';
import { SseHub } from './sse';
import { LogThrottle } from '../common/limits';
import { originView, ownerView } from './views';
import { streamKey, type DiscoveryStore, type Lease, type OriginRecord } from './store/types';
import { DISCOVERY_EVENT_TYPES, type DiscoveryEventType, type LeaseView, type OriginRegistration, type StreamOwnerView, type StreamPage } from './types';

/** What the routes read from the config (the whole `DiscoveryConfig`; missing keys take the schema defaults). */
export type DiscoveryRoutesConfig = DiscoveryConfig;

/** Collaborators the app builds itself unless given (tests pass fakes). */
export interface DiscoveryDeps {
  metrics?: DiscoveryMetrics;
  /** Owner liveness probe on conflicting claims; `null` disables it (as does `livenessCheck: false`). */
  liveness?: LivenessChecker | null;
  /** Uniform [0, 1) for power-of-two-choices. */
  random?: () => number;
  cache?: ReadCache;
}

export interface DiscoveryRoutesOptions {
  store: DiscoveryStore;
  config: DiscoveryConfig;
  metrics: DiscoveryMetrics;
  liveness?: LivenessChecker;
  random: () => number;
  cache: ReadCache;
  hub: SseHub;
}

type StreamParamsT = Static<typeof S.StreamParams>;

/** OpenAPI error responses (every error is `{"code","message"}`; docs/errors.md lists the codes). */
function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, S.ErrorSchema]));
}

/**
 * The discovery REST API as a fastify plugin. Expects the error handling of `buildDiscoveryApp`
 * (errors become `{"code","message"}`); register it there, or in an app that maps `CascadeError`.
 */
export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app, opts) => {
  const { store, config, metrics, liveness, cache, hub } = opts;
  const auth = authHooks(config);
  const security = (hook: AuthHook | undefined): { security?: Array<Record<string, string[]>> } => (hook ? { security: [{ bearer: [] }] } : {});
  const write = auth.write ? { onRequest: auth.write } : {};
  const read = auth.read ? { onRequest: auth.read } : {};
  const writeDoc = security(auth.write);
  const readDoc = security(auth.read);

  const placementOptions: PlacementOptions = {
    highWater: config.highWater,
    strategy: config.placementStrategy,
    regionPolicy: config.regionPolicy,
    defaultCapacity: config.defaultCapacity,
    weightPerMbps: config.weightPerMbps,
    viewersPerWeight: config.viewersPerWeight,
    random: opts.random,
  };

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

  /** A read through the stale cache: fresh from the store, or marked stale while the store is down. */
  const cachedRead = async <T>(reply: FastifyReply, key: string, fn: () => Promise<T>): Promise<{ value: T; stale: boolean }> => {
    const r = await cache.read(key, fn);
    if (r.staleMs === undefined) return { value: r.value, stale: false };
    markStale(reply, r.staleMs);
    metrics.staleReads.inc({ route: reply.request.routeOptions.url ?? 'unmatched' });
    return { value: r.value, stale: true };
  };

  const lookupStream = (reply: FastifyReply, app: string, name: string): Promise<{ value: StreamOwnerView | null; stale: boolean }> =>
    cachedRead(reply, `stream:${streamKey(app, name)}`, async () => {
      const lease = await store.getStream(app, name);
      return lease ? lookupOwner(lease) : null;
    });

  // Events of every replica (Redis pub/sub or the in-process emitter) go to the SSE clients.
  const unsubscribe = await store.subscribe((event) => hub.broadcast(event));
  app.addHook('preClose', async () => hub.closeAll());
  app.addHook('onClose', async () => unsubscribe());

  // ---- origins -------------------------------------------------------------------------------

  app.put<{ Params: Static<typeof S.OriginParams>; Body: OriginRegistration }>(
    '/v1/origins/:id',
    {
      ...write,
      schema: {
        tags: ['origins'],
        summary: 'Register an origin (legacy heartbeat without leases; origins use POST /v1/origins/:id/heartbeat)',
        ...writeDoc,
        params: S.OriginParams,
        body: S.OriginRegistrationSchema,
        response: { 200: S.RegisterOriginResultSchema, ...errors(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const record = await store.upsertOrigin(registrationInput(request.params.id, request.body), config.originTtlMs);
      return { origin: originView(record), ttlMs: config.originTtlMs };
    },
  );

  await app.register(heartbeatRoute, { store, config, metrics, ...(auth.write ? { write: auth.write } : {}) });

  app.delete<{ Params: Static<typeof S.OriginParams> }>(
    '/v1/origins/:id',
    { ...write, schema: { tags: ['origins'], summary: 'Deregister an origin (drops its leases)', ...writeDoc, params: S.OriginParams, response: errors(400, 401, 403, 503) } },
    async (request, reply) => {
      await store.removeOrigin(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof S.OriginParams> }>(
    '/v1/origins/:id',
    {
      ...read,
      schema: { tags: ['origins'], summary: 'One origin', ...readDoc, params: S.OriginParams, response: { 200: S.OriginViewSchema, ...errors(400, 401, 404, 503) } },
    },
    async (request, reply) => {
      const { value: origin } = await cachedRead(reply, `origin:${request.params.id}`, async () => {
        const o = await store.getOrigin(request.params.id);
        return o ? originView(o) : null;
      });
      if (!origin) throw new OriginNotFoundError(request.params.id);
      return origin;
    },
  );

  app.get(
    '/v1/origins',
    { ...read, schema: { tags: ['origins'], summary: 'Every registered origin', ...readDoc, response: { 200: S.OriginListPageSchema, ...errors(401, 503) } } },
    async (_request, reply) => {
      const { value: origins, stale } = await cachedRead(reply, 'origins', async () => (await store.listOrigins()).map(originView));
      return stale ? { origins, stale } : { origins };
    },
  );

  // ---- streams -------------------------------------------------------------------------------

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.ClaimBody> }>(
    '/v1/streams/:app/:name/claim',
    {
      ...write,
      schema: {
        tags: ['streams'],
        summary: 'Claim a stream lease (fencing token); a dead owner (no /healthz answer) loses it at once',
        ...writeDoc,
        params: S.StreamParams,
        body: S.ClaimBody,
        response: { 200: S.LeaseViewSchema, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId } = request.body;
      try {
        let result = await store.claimStream(appName, name, originId, config.leaseTtlMs);
        for (let attempt = 0; 'conflict' in result; attempt++) {
          const held = result.conflict;
          const owner = await store.getOrigin(held.originId);
          if (owner && (attempt > 0 || !liveness || !(await liveness.isDead(owner)))) {
            metrics.claims.inc({ result: 'conflict' });
            throw new StreamOwnedElsewhereError(appName, name, ownerView(held, owner));
          }
          if (attempt > 1) throw new CascadeError('STORE_UNAVAILABLE', 'the owner of this stream keeps changing; retry');
          // The owner is dead (or its registration vanished in between): take over exactly the lease we saw.
          if (owner) request.log.info({ stream: `${appName}/${name}`, owner: held.originId, token: held.token, claimant: originId }, 'owner does not answer /healthz: breaking its lease');
          result = await store.claimStream(appName, name, originId, config.leaseTtlMs, owner ? { breakToken: held.token } : {});
        }
        metrics.claims.inc({ result: result.moved?.reason === 'owner-dead' ? 'owner_dead_broken' : 'won' });
        return await leaseView(result.lease);
      } catch (err) {
        if (err instanceof OriginNotFoundError) metrics.claims.inc({ result: 'origin_not_found' });
        else if (!(err instanceof StreamOwnedElsewhereError)) metrics.claims.inc({ result: 'error' });
        throw err;
      }
    },
  );

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.LeaseBody> }>(
    '/v1/streams/:app/:name/renew',
    {
      ...write,
      schema: {
        tags: ['streams'],
        summary: 'Renew a lease (token must be current)',
        ...writeDoc,
        params: S.StreamParams,
        body: S.LeaseBody,
        response: { 200: S.LeaseViewSchema, ...errors(400, 401, 403, 409, 503) },
      },
    },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId, token } = request.body;
      let lease: Lease | null;
      try {
        lease = await store.renewStream(appName, name, originId, token, config.leaseTtlMs);
      } catch (err) {
        metrics.renewFailures.inc({ reason: err instanceof CascadeError && err.code === 'STORE_UNAVAILABLE' ? 'store_unavailable' : 'error' });
        throw err;
      }
      if (!lease) {
        metrics.renewFailures.inc({ reason: 'lease_lost' });
        throw new LeaseLostError(appName, name);
      }
      return leaseView(lease);
    },
  );

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.LeaseBody> }>(
    '/v1/streams/:app/:name/release',
    {
      ...write,
      schema: { tags: ['streams'], summary: 'Release a lease', ...writeDoc, params: S.StreamParams, body: S.LeaseBody, response: errors(400, 401, 403, 409, 503) },
    },
    async (request, reply) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId, token } = request.body;
      if (!(await store.releaseStream(appName, name, originId, token))) throw new LeaseLostError(appName, name);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: StreamParamsT; Body: Static<typeof S.AvoidBody> }>(
    '/v1/streams/:app/:name/avoid',
    {
      ...write,
      schema: {
        tags: ['placement'],
        summary: 'Placement must not send this stream to originId for ms (after shedding it)',
        ...writeDoc,
        params: S.StreamParams,
        body: S.AvoidBody,
        response: { 200: S.AvoidResultSchema, ...errors(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { app: appName, name } = streamOf(request.params);
      const { originId, ms } = request.body;
      const until = await store.avoidOrigin(appName, name, originId, ms);
      return { app: appName, name, originId, until };
    },
  );

  app.get<{ Params: StreamParamsT }>(
    '/v1/streams/:app/:name',
    {
      ...read,
      schema: { tags: ['streams'], summary: 'Who owns a stream (contract)', ...readDoc, params: S.StreamParams, response: { 200: S.StreamOwnerViewSchema, ...errors(400, 401, 404, 503) } },
    },
    async (request, reply) => {
      const { app: appName, name } = streamOf(request.params);
      const { value: owner } = await lookupStream(reply, appName, name);
      if (!owner) throw new StreamNotFoundError(appName, name);
      return owner;
    },
  );

  app.get<{ Querystring: Static<typeof S.StreamListQuery> }>(
    '/v1/streams',
    {
      ...read,
      schema: {
        tags: ['streams'],
        summary: 'Live streams in app/name order, filtered and paged (follow `next`)',
        ...readDoc,
        querystring: S.StreamListQuery,
        response: { 200: S.StreamPageSchema, ...errors(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const limit = intParam(q.limit, 'limit', 100, 1, 1000);
      const offset = intParam(q.offset, 'offset', 0, 0, 10_000);
      const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
      const query = {
        limit,
        offset,
        ...(q.app !== undefined ? { app: q.app } : {}),
        ...(q.origin !== undefined ? { originId: q.origin } : {}),
        ...(after !== undefined ? { after } : {}),
      };
      const { value: page, stale } = await cachedRead(reply, `streams:${JSON.stringify(query)}`, async (): Promise<StreamPage> => {
        const [result, origins] = await Promise.all([store.pageStreams(query), store.listOrigins()]);
        const byId = new Map(origins.map((o) => [o.id, o]));
        const streams: StreamOwnerView[] = [];
        for (const lease of result.leases) {
          const origin = byId.get(lease.originId);
          if (!origin) continue;
          const view = ownerView(lease, origin);
          streams.push(view);
          cache.put(`stream:${streamKey(lease.app, lease.name)}`, view);
        }
        return result.next !== undefined ? { streams, next: encodeCursor(result.next) } : { streams };
      });
      return stale ? { ...page, stale } : page;
    },
  );

  // ---- placement -----------------------------------------------------------------------------

  app.post<{ Body: Static<typeof S.PlacementBody> }>(
    '/v1/placement',
    {
      ...read,
      schema: {
        tags: ['placement'],
        summary: 'Pick the origin a new publisher should go to (the owner if the stream is live), with the reasoning',
        ...readDoc,
        body: S.PlacementBody,
        response: { 200: S.PlacementResultSchema, ...errors(400, 401, 503) },
      },
    },
    async (request) => {
      const { app: appName, name } = streamOf({ app: request.body.app, name: request.body.stream });
      const { bitrateKbps, viewers, region } = request.body;
      return placeStream(store, appName, name, { bitrateKbps, viewers, region }, placementOptions);
    },
  );

  app.get<{ Params: StreamParamsT; Querystring: Static<typeof S.PublishUrlQuery> }>(
    '/v1/publish-url/:app/:name',
    {
      ...read,
      schema: {
        tags: ['placement'],
        summary: 'The RTMP URL to publish to, as text/plain (ffmpeg … -f flv "$(curl -s …)")',
        ...readDoc,
        params: S.StreamParams,
        querystring: S.PublishUrlQuery,
        response: {
          200: { description: 'rtmp://host:port/app/name', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors(400, 401, 503),
        },
      },
    },
    async (request, reply) => {
      const { app: appName, name } = streamOf(request.params);
      const bitrateKbps = request.query.bitrateKbps !== undefined ? intParam(request.query.bitrateKbps, 'bitrateKbps', 0, 0, 10_000_000) : undefined;
      const placed = await placeStream(store, appName, name, { bitrateKbps, region: request.query.region }, placementOptions);
      return reply.type('text/plain; charset=utf-8').send(placed.publishUrl);
    },
  );

  // ---- events --------------------------------------------------------------------------------

  app.get<{ Querystring: Static<typeof S.EventsQuery> }>(
    '/v1/events',
    {
      ...read,
      schema: {
        tags: ['events'],
        summary: `Server-Sent Events: ${DISCOVERY_EVENT_TYPES.join(', ')} (data: JSON); a heartbeat comment every ${Math.round(config.sseHeartbeatMs / 1000)} s`,
        ...readDoc,
        querystring: S.EventsQuery,
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(400, 401, 503) },
      },
    },
    (request, reply) => {
      const types = request.query.types ? new Set(request.query.types.split(',') as DiscoveryEventType[]) : undefined;
      reply.hijack();
      hub.add(reply.raw, types);
    },
  );

  // ---- operations ----------------------------------------------------------------------------

  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness and store reachability (503 when the store is down)', response: { 200: S.HealthSchema, ...errors(503) } } },
    async () => {
      const t0 = performance.now();
      try {
        await store.ping();
      } catch (err) {
        if (!(err instanceof CascadeError)) throw err;
        throw new CascadeError(err.code, err.message, { store: store.kind, ...(store.kind === 'redis' ? { redis: { reachable: false } } : {}) });
      }
      const latencyMs = Math.round((performance.now() - t0) * 100) / 100;
      return { status: 'ok' as const, store: store.kind, ...(store.kind === 'redis' ? { redis: { reachable: true, latencyMs } } : {}) };
    },
  );

  app.get(
    '/metrics',
    { ...read, schema: { tags: ['operations'], summary: 'Prometheus metrics', ...readDoc } },
    async (_request, reply) => {
      const text = await metrics.render();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  // ---- SRS-compatible coworker lookup (DESIGN.md section 3) -----------------------------------

  await app.register(async (srs) => {
    // SRS origins POST with `Content-Type: application/json`, `Content-Length: 0` and no body; the
    // answer depends on the query only, so in this scope any body of any type is read and ignored.
    srs.removeAllContentTypeParsers();
    srs.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
    srs.route<{ Querystring: Static<typeof S.SrsClustersQuery> }>({
      method: ['GET', 'POST'],
      url: '/api/v1/clusters',
      ...read,
      schema: { tags: ['srs'], summary: 'SRS coworker lookup (contract)', ...readDoc, querystring: S.SrsClustersQuery, response: { 200: S.SrsClustersResponse, ...errors(400, 401, 503) } },
      handler: async (request, reply) => {
        const q = request.query;
        const query = { ip: q.ip ?? '', vhost: q.vhost ?? '__defaultVhost__', app: q.app, stream: q.stream };
        if (!isValidStreamPart(q.app) || !isValidStreamPart(q.stream)) {
          throw new BadRequestError('app and stream must be valid stream names');
        }
        const name = canonicalStreamName(q.stream);
        const found = isValidStreamPart(name) ? (await lookupStream(reply, q.app, name)).value : null;
        const origin = found ? await srsOrigin(found.origin.id, found.origin) : null;
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

  /** The owner's record for the SRS answer (`api`); its ref from the (possibly stale) lookup when the store is down. */
  async function srsOrigin(id: string, ref: { rtmp: string; http: string }): Promise<Pick<OriginRecord, 'rtmp' | 'http' | 'api'> | null> {
    try {
      return await store.getOrigin(id);
    } catch (err) {
      if (err instanceof CascadeError && err.code === 'STORE_UNAVAILABLE') {
        const cached = cache.get<ReturnType<typeof originView> | null>(`origin:${id}`);
        return cached?.value ?? ref;
      }
      throw err;
    }
  }
};

// ---- the app: errors, 404, body parsing, logging, docs, metrics ------------------------------------

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
  403: 'FORBIDDEN',
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

/** The config with schema defaults for missing keys (callers may pass a partial config). */
export function withDefaults(config: Partial<DiscoveryConfig>): DiscoveryConfig {
  return { ...(Value.Default(DiscoveryConfigSchema, {}) as DiscoveryConfig), ...config };
}

/** What `buildDiscoveryApp` made, for the service (stop order) and tests. */
export interface DiscoveryAppParts {
  metrics: DiscoveryMetrics;
  hub: SseHub;
  cache: ReadCache;
}

const PARTS = Symbol('cascade.discovery.parts');

/** The metrics, SSE hub and cache of an app made by `buildDiscoveryApp`. */
export function appParts(app: FastifyInstance): DiscoveryAppParts {
  const parts = (app as unknown as Record<symbol, DiscoveryAppParts | undefined>)[PARTS];
  if (!parts) throw new Error('not an app made by buildDiscoveryApp');
  return parts;
}

/**
 * A fastify instance serving the discovery API (not listening: call `listen()` or use `inject()`),
 * with the OpenAPI document and UI at `/docs` and Prometheus metrics at `/metrics`. The logger is
 * used through a child that redacts the authorization header.
 */
export function buildDiscoveryApp(store: DiscoveryStore, partialConfig: Partial<DiscoveryConfig>, logger: Logger, deps: DiscoveryDeps = {}): FastifyInstance {
  const config = withDefaults(partialConfig);
  const log = logger.child(
    { component: 'http' },
    { redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' } },
  );
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new DiscoveryLogController(),
    bodyLimit: config.bodyLimit,
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

  const metrics = deps.metrics ?? new DiscoveryMetrics(store);
  const cache = deps.cache ?? new ReadCache(config.staleCacheMs);
  const sseRefusedLog = new LogThrottle();
  const hub = new SseHub({ heartbeatMs: config.sseHeartbeatMs, maxClients: config.maxEventStreams, onCount: (n) => metrics.sseClients.set(n), onRefused: (n) => sseRefusedLog.warn(app.log, { refused: n, max: config.maxEventStreams }, 'event stream refused: at maxEventStreams') });
  const liveness = deps.liveness === null || !config.livenessCheck ? undefined : (deps.liveness ?? new HttpLiveness({ timeoutMs: config.livenessTimeoutMs }));
  (app as unknown as Record<symbol, DiscoveryAppParts>)[PARTS] = { metrics, hub, cache };

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
    if (status >= 500 && body.code === 'INTERNAL') request.log.error({ err }, 'request failed');
    if (body.code === 'UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}` }),
  );

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Cascade discovery',
        version: '1',
        description:
          'Who owns which stream: origin registration and heartbeats, fenced stream leases, placement, events. ' +
          'Errors are `{"code","message"}` (docs/errors.md). Writes need a bearer token when apiTokens is set.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'origins', description: 'Origin registration and heartbeats' },
        { name: 'streams', description: 'Stream leases with fencing tokens, lookup and listing' },
        { name: 'placement', description: 'Where a new publisher should go' },
        { name: 'events', description: 'Server-Sent Events of every change' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'srs', description: 'SRS-compatible coworker API' },
      ],
    },
  });
  void app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  void app.register(discoveryRoutes, { store, config, metrics, ...(liveness ? { liveness } : {}), random: deps.random ?? Math.random, cache, hub });
  registerConsole(app);
  return app;
}
