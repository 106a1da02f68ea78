import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, LogController } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Value } from '@sinclair/typebox/value';
import { ERROR_CODES, ErrorCode, CascadeError, isErrorCode } from '../common/errors';
import { HostAllowlist } from '../common/host-allowlist';
import { redactUrl, type Logger } from '../common/logger';
import { DiscoveryConfigSchema, type DiscoveryConfig } from './config';
import { registerConsole } from './console';
import { HttpLiveness, type LivenessChecker } from './liveness';
import { DiscoveryMetrics } from './metrics';
import { ReadCache } from './read-cache';
import { OwnerCache } from './owner-cache';
import { InvalidatingStore } from './owner-cache-store';
import { discoveryRoutes } from './routes';
import { SseHub } from './sse';
import { LogThrottle } from '../common/limits';
import type { DiscoveryStore } from './store/types';

/** Collaborators the app builds itself unless given (tests pass fakes). */
export interface DiscoveryDeps {
  metrics?: DiscoveryMetrics;
  /** Owner liveness probe on conflicting claims; `null` disables it (as does `livenessCheck: false`). */
  liveness?: LivenessChecker | null;
  /** Uniform [0, 1) for power-of-two-choices. */
  random?: () => number;
  cache?: ReadCache;
}

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
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Whether `log` writes lines of `level` (pino's numeric levels; `silent` writes none). */
function levelEnabled(log: FastifyBaseLogger, level: 'debug' | 'info' | 'error'): boolean {
  return LEVEL_VALUES[level] >= (LEVEL_VALUES[log.level] ?? Infinity);
}

class DiscoveryLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (!levelEnabled(request.log, 'debug')) return; // the hot lookups: build nothing to drop it
    // Not fastify's `req` serializer: it logs the URL with its query string.
    request.log.debug({ method: request.method, url: redactUrl(request.url.slice(0, 300)), remoteAddress: request.ip }, 'incoming request');
  }
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const level = error || status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (!levelEnabled(reply.log, level)) return;
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

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by `buildDiscoveryApp` (fastify `decorate`). */
    cascadeDiscovery?: DiscoveryAppParts;
  }
}

/** The metrics, SSE hub and cache of an app made by `buildDiscoveryApp`. */
export function appParts(app: FastifyInstance): DiscoveryAppParts {
  const parts = app.cascadeDiscovery;
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
  const hub = new SseHub({
    heartbeatMs: config.sseHeartbeatMs,
    maxClients: config.maxEventStreams,
    onCount: (n) => metrics.sseClients.set(n),
    onRefused: (n) => sseRefusedLog.warn(app.log, { refused: n, max: config.maxEventStreams }, 'event stream refused: at maxEventStreams'),
  });
  const liveness = deps.liveness === null || !config.livenessCheck ? undefined : (deps.liveness ?? new HttpLiveness({ timeoutMs: config.livenessTimeoutMs, allowlist: new HostAllowlist(config.originHosts) }));
  app.decorate('cascadeDiscovery', { metrics, hub, cache });

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

  // The labelled series of each method/route/status, looked up once (prom-client hashes the label
  // object on every inc/observe otherwise; a lookup is a hot path).
  const series = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const key = `${request.method} ${status} ${route}`;
    let s = series.get(key);
    if (!s) {
      s = {
        requests: metrics.httpRequests.labels({ method: request.method, route, status: String(status) }),
        duration: metrics.httpDuration.labels({ method: request.method, route }),
      };
      // Bounded: methods × statuses × routes (unmatched paths share one route label).
      if (series.size < 10_000) series.set(key, s);
    }
    s.requests.inc();
    s.duration.observe(reply.elapsedTime / 1000);
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
        { name: 'edges', description: 'Edge registry: heartbeats with viewers per stream and protocol' },
        { name: 'cluster', description: 'The whole cluster in one read, and admin actions forwarded to origins' },
        { name: 'placement', description: 'Where a new publisher should go' },
        { name: 'events', description: 'Server-Sent Events of every change' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'srs', description: 'SRS-compatible coworker API' },
      ],
    },
  });
  void app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  // The owner cache needs store events it can trust (`eventEpoch`: the Redis store); the memory
  // store answers from memory anyway.
  const owners =
    config.ownerCacheMs > 0 && store.eventEpoch
      ? new OwnerCache({ maxAgeMs: config.ownerCacheMs, eventEpoch: () => store.eventEpoch?.() ?? null, counters: metrics.ownerCache })
      : undefined;
  const routeStore = owners ? new InvalidatingStore(store, owners) : store;
  if (owners && store.onOwnerHints) {
    const unhint = store.onOwnerHints((hint) => owners.onHint(hint));
    app.addHook('onClose', async () => unhint());
  }
  void app.register(discoveryRoutes, {
    store: routeStore,
    config,
    metrics,
    ...(liveness ? { liveness } : {}),
    random: deps.random ?? Math.random,
    cache,
    hub,
    ...(owners ? { owners } : {}),
  });
  registerConsole(app);
  return app;
}
