import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { OriginNotFoundError } from '../common/errors';
import { HostAllowlist } from '../common/host-allowlist';
import { DEFAULT_WEIGHT_MODEL } from '../common/weight-model';
import { DiscoveryAuth } from './auth';
import { DownOrigins } from './cluster-view';
import type { DiscoveryConfig } from './config';
import { markStale } from './http';
import type { LivenessChecker } from './liveness';
import type { DiscoveryMetrics } from './metrics';
import type { PlacementOptions } from './placement/place';
import type { OwnerCache, OwnerEntry } from './owner-cache';
import type { ReadCache } from './read-cache';
import * as S from './schemas';
import type { SseHub } from './sse';
import { findStreamOwner } from './store/stream-owner';
import { streamKey, type DiscoveryStore, type Lease } from './store/types';
import type { LeaseView, StreamOwnerView } from './types';
import { ownerView } from './views';

/** What the route plugins are built from (`buildDiscoveryApp` makes them; tests may pass fakes). */
export interface DiscoveryRoutesOptions {
  store: DiscoveryStore;
  config: DiscoveryConfig;
  metrics: DiscoveryMetrics;
  liveness?: LivenessChecker;
  random: () => number;
  cache: ReadCache;
  hub: SseHub;
  /** The owner cache of stream lookups (Redis store; `store` is then its `InvalidatingStore`). */
  owners?: OwnerCache;
}

type OnRequest = { onRequest: DiscoveryAuth['read'] };

/** Everything the route files share: collaborators, auth, and the read helpers. */
export interface RouteContext extends DiscoveryRoutesOptions {
  auth: DiscoveryAuth;
  allowlist: HostAllowlist;
  /** Origins that went down recently (fed by store events; the cluster view shows them as `down`). */
  downOrigins: DownOrigins;
  /** Hosts edges may advertise (`edgeHosts`). */
  edgeAllowlist: HostAllowlist;
  /** Route options of writes and reads (the auth hooks). */
  write: OnRequest;
  read: OnRequest;
  /** OpenAPI `security` of writes and reads (empty when the route is open). */
  writeDoc: { security?: Array<Record<string, string[]>> };
  readDoc: { security?: Array<Record<string, string[]>> };
  /** A view without its fencing token for anonymous callers (docs/security.md). */
  forCaller<T extends { token?: number }>(request: FastifyRequest, view: T): T;
  /** The owner view of a lease, or null if its origin vanished in between (a later read drops the lease). */
  lookupOwner(lease: Lease): Promise<StreamOwnerView | null>;
  /** The claim/renew answer (404 ORIGIN_NOT_FOUND when the origin vanished). */
  leaseView(lease: Lease): Promise<LeaseView>;
  /** A read through the stale cache: fresh from the store, or marked stale while the store is down. */
  cachedRead<T>(reply: FastifyReply, key: string, fn: () => Promise<T>): Promise<{ value: T; stale: boolean }>;
  /** The owner of a stream; `entry` when the answer is (now) in the owner cache (its JSON is kept there). */
  lookupStream(reply: FastifyReply, app: string, name: string): Promise<{ value: StreamOwnerView | null; stale: boolean; entry?: OwnerEntry }>;
  placementOptions: PlacementOptions;
}

/** OpenAPI error responses (every error is `{"code","message"}`; docs/errors.md lists the codes). */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, S.ErrorSchema]));
}

export function routeContext(opts: DiscoveryRoutesOptions): RouteContext {
  const { store, config, metrics, cache } = opts;
  const auth = new DiscoveryAuth(config);
  const bearerDoc = { security: [{ bearer: [] }] };
  const lookupOwner = async (lease: Lease): Promise<StreamOwnerView | null> => {
    const origin = await store.getOrigin(lease.originId);
    return origin ? ownerView(lease, origin) : null;
  };
  const cachedRead = async <T>(reply: FastifyReply, key: string, fn: () => Promise<T>): Promise<{ value: T; stale: boolean }> => {
    const r = await cache.read(key, fn);
    if (r.staleMs === undefined) return { value: r.value, stale: false };
    markStale(reply, r.staleMs);
    metrics.staleReads.inc({ route: reply.request.routeOptions.url ?? 'unmatched' });
    return { value: r.value, stale: true };
  };
  return {
    ...opts,
    auth,
    allowlist: new HostAllowlist(config.originHosts),
    edgeAllowlist: new HostAllowlist(config.edgeHosts),
    downOrigins: new DownOrigins(),
    write: { onRequest: auth.write },
    read: { onRequest: auth.read },
    writeDoc: auth.enabled ? bearerDoc : {},
    readDoc: auth.enabled && config.protectReads ? bearerDoc : {},
    forCaller: <T extends { token?: number }>(request: FastifyRequest, view: T): T => {
      if (auth.seesTokens(request)) return view;
      const rest = { ...view };
      delete rest.token;
      return rest;
    },
    lookupOwner,
    leaseView: async (lease) => {
      const owner = await lookupOwner(lease);
      if (!owner) throw new OriginNotFoundError(lease.originId);
      return { ...owner, token: lease.token, ttlMs: config.leaseTtlMs };
    },
    cachedRead,
    lookupStream: async (reply, app, name) => {
      const key = streamKey(app, name);
      const { owners } = opts;
      const hit = owners?.get(key);
      if (hit) {
        // Keep the degraded-mode copy as fresh as a store read would (docs/discovery.md "Degraded mode").
        cache.put(`stream:${key}`, hit.view);
        return { value: hit.view, stale: false, entry: hit };
      }
      const started = owners?.begin() ?? 0;
      let entry: OwnerEntry | undefined;
      const r = await cachedRead(reply, `stream:${key}`, async () => {
        const found = await findStreamOwner(store, app, name);
        const view = found ? ownerView(found.lease, found.origin) : null;
        // Never served past the lease's or the registration's expiry (a lease not swept yet).
        entry = owners?.fill(key, started, view, found ? Math.min(found.lease.expiresAt, found.origin.expiresAt) : null);
        return view;
      });
      return r.stale || !entry ? r : { ...r, entry };
    },
    placementOptions: {
      highWater: config.highWater,
      strategy: config.placementStrategy,
      regionPolicy: config.regionPolicy,
      // The shared weight model (common/weight-model.ts); the config keeps its published key names.
      ...DEFAULT_WEIGHT_MODEL,
      defaultCapacity: config.defaultCapacity,
      weightPerMbit: config.weightPerMbps,
      viewersPerWeight: config.viewersPerWeight,
      random: opts.random,
    },
  };
}
