import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { CascadeError, LeaseLostError, StreamNotFoundError } from '../common/errors';
import { claimWithTakeover } from './claim';
import { decodeCursor, encodeCursor, intParam, streamOf } from './http';
import { streamKey, type Lease } from './store/types';
import type { StreamOwnerView, StreamPage } from './types';
import { ownerView } from './views';

type StreamParamsT = Static<typeof S.StreamParams>;

/** Stream leases: claim (with the takeover of a dead owner), renew, release, avoid; lookup and listing. */
export const streamRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, metrics, liveness, cache, auth, write, read, writeDoc, readDoc, forCaller, leaseView, cachedRead, lookupStream } = ctx;

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
      auth.actAs(request, originId);
      return leaseView(await claimWithTakeover({ store, liveness, metrics, leaseTtlMs: config.leaseTtlMs, log: request.log }, appName, name, originId));
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
      auth.actAs(request, originId);
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
      auth.actAs(request, originId);
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
      auth.actAs(request, originId);
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
      const { value: owner, entry } = await lookupStream(reply, appName, name);
      if (!owner) throw new StreamNotFoundError(appName, name);
      if (!entry) return forCaller(request, owner);
      // From the owner cache: both answers serialized once (with the route's schema), then sent as is.
      const asText = (view: StreamOwnerView): string => {
        const out = reply.serialize(view);
        return typeof out === 'string' ? out : JSON.stringify(view);
      };
      const anonymous = (): StreamOwnerView => {
        const view = { ...owner };
        delete view.token;
        return view;
      };
      const json = (entry.json ??= { full: asText(owner), anonymous: asText(anonymous()) });
      return reply.type('application/json; charset=utf-8').send(auth.seesTokens(request) ? json.full : json.anonymous);
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
      const shown = auth.seesTokens(request) ? page : { ...page, streams: page.streams.map((v) => forCaller(request, v)) };
      return stale ? { ...shown, stale } : shown;
    },
  );
};
