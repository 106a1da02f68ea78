import type { FastifyPluginAsync } from 'fastify';
import { assembleClusterView, OriginMediaCache } from './cluster-view';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import type { ClusterView } from './types';
import type { Logger } from '../common/logger';

/**
 * `GET /v1/cluster`: the whole cluster in one read (docs/discovery.md "Cluster view"). Anonymous
 * reads are allowed unless `protectReads`; the answer never carries fencing tokens or credentials.
 */
export const clusterRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, read, readDoc, cachedRead, downOrigins: down } = ctx;
  const media = new OriginMediaCache({ timeoutMs: config.clusterMediaTimeoutMs, cacheMs: config.clusterMediaCacheMs, log: app.log as unknown as Logger });

  app.get(
    '/v1/cluster',
    {
      ...read,
      schema: {
        tags: ['cluster'],
        summary: 'Origins (status, utilisation), edges (viewers per stream and protocol), streams (owner, codec, resolution, ingest bit rate, viewers per edge) and totals in one read; no fencing tokens',
        ...readDoc,
        response: { 200: S.ClusterViewSchema, ...errors(401, 503) },
      },
    },
    async (_request, reply): Promise<ClusterView> => {
      const { value: state } = await cachedRead(reply, 'cluster', async () => {
        const [origins, leases, edges] = await Promise.all([store.listOrigins(), store.listStreams(), store.listEdges()]);
        return { origins, leases, edges };
      });
      down.seen(state.origins);
      const owners = new Set(state.leases.map((l) => l.originId));
      const info = await media.of(state.origins.filter((o) => owners.has(o.id)));
      return assembleClusterView({ now: Date.now(), ...state, down: down.list(), media: info, defaultCapacity: config.defaultCapacity });
    },
  );
};
