import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { OriginNotFoundError } from '../common/errors';
import { heartbeatRoute, registrationInput } from './heartbeat-route';
import type { OriginRegistration } from './types';
import { originView } from './views';

/** Origins: registration (and the leases v2 heartbeat), deregistration, reads. */
export const originRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, metrics, auth, allowlist, write, read, writeDoc, readDoc, cachedRead } = ctx;

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
      auth.actAs(request, request.params.id);
      const record = await store.upsertOrigin(registrationInput(request.params.id, request.body, allowlist), config.originTtlMs);
      return { origin: originView(record), ttlMs: config.originTtlMs };
    },
  );

  await app.register(heartbeatRoute, { store, config, metrics, auth, allowlist });

  app.delete<{ Params: Static<typeof S.OriginParams> }>(
    '/v1/origins/:id',
    { ...write, schema: { tags: ['origins'], summary: 'Deregister an origin (drops its leases)', ...writeDoc, params: S.OriginParams, response: errors(400, 401, 403, 503) } },
    async (request, reply) => {
      auth.actAs(request, request.params.id);
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
};
