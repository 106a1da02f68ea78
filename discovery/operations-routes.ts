import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { performance } from 'node:perf_hooks';
import { CascadeError } from '../common/errors';
import { DISCOVERY_EVENT_TYPES, type DiscoveryEventType } from './types';

/** Server-Sent Events of every change, health and metrics. */
export const operationsRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, metrics, hub, auth, read, readDoc } = ctx;

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
      hub.add(reply.raw, types, { tokens: auth.seesTokens(request) });
    },
  );


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
};
