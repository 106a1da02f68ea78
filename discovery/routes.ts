import type { FastifyPluginAsync } from 'fastify';
import { adminRoutes } from './admin-routes';
import { clusterRoutes } from './cluster-routes';
import { edgeRoutes } from './edge-routes';
import { operationsRoutes } from './operations-routes';
import { originRoutes } from './origin-routes';
import { placementRoutes } from './placement-routes';
import { routeContext, type DiscoveryRoutesOptions } from './route-context';
import { srsRoutes } from './srs-routes';
import { streamRoutes } from './stream-routes';

export type { DiscoveryRoutesOptions } from './route-context';

/**
 * The discovery REST API as a fastify plugin: one file per group of routes, sharing one
 * `RouteContext` (auth, stale-cache reads, views). Expects the error handling of
 * `buildDiscoveryApp` (discovery/app.ts: errors become `{"code","message"}`).
 */
export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app, opts) => {
  const ctx = routeContext(opts);
  // Events of every replica (Redis pub/sub or the in-process emitter) go to the SSE clients.
  // The owner cache hears them first: an SSE client that reacts with a lookup gets the new owner.
  const unsubscribe = await opts.store.subscribe((event) => {
    opts.owners?.onEvent(event);
    ctx.downOrigins.onEvent(event);
    opts.hub.broadcast(event);
  });
  app.addHook('preClose', async () => opts.hub.closeAll());
  app.addHook('onClose', async () => unsubscribe());
  await app.register(originRoutes, { ctx });
  await app.register(streamRoutes, { ctx });
  await app.register(placementRoutes, { ctx });
  await app.register(operationsRoutes, { ctx });
  await app.register(srsRoutes, { ctx });
  await app.register(edgeRoutes, { ctx });
  await app.register(clusterRoutes, { ctx });
  await app.register(adminRoutes, { ctx });
};
