import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/process-metrics';
import type { DiscoveryStore } from './store/types';

export type ClaimOutcome = 'won' | 'conflict' | 'owner_dead_broken' | 'origin_not_found' | 'error';
export type RenewFailure = 'lease_lost' | 'store_unavailable' | 'error';

export interface DiscoveryMetricsOptions {
  /** Also export Node process metrics (CPU, memory, event loop). Default false. */
  processMetrics?: boolean;
}

/**
 * Prometheus metrics of one discovery instance, in its own registry (`GET /metrics`). Store-backed
 * gauges are read at scrape time; a store that does not answer leaves them out of that scrape.
 */
export class DiscoveryMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly claims: Counter<'result'>;
  readonly renewFailures: Counter<'reason'>;
  readonly heartbeatLeases: Counter<'status'>;
  readonly sseClients: Gauge;
  readonly staleReads: Counter<'route'>;
  /** Stream lookups answered from the owner cache (hit) or the store (miss). */
  readonly ownerCache: { hit: Counter.Internal; miss: Counter.Internal };

  constructor(store: DiscoveryStore, opts: DiscoveryMetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'cascade_discovery_http_requests_total',
      help: 'HTTP requests by method, route (template) and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'cascade_discovery_http_request_duration_seconds',
      help: 'HTTP request latency by method and route (template).',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.claims = new Counter({
      name: 'cascade_discovery_claims_total',
      help: 'Stream claims by result: won, conflict, owner_dead_broken (liveness check broke a dead owner\'s lease), origin_not_found, error.',
      labelNames: ['result'],
      registers,
    });
    this.renewFailures = new Counter({
      name: 'cascade_discovery_lease_renew_failures_total',
      help: 'Lease renewals that failed: lease_lost (fenced or expired), store_unavailable, error.',
      labelNames: ['reason'],
      registers,
    });
    this.heartbeatLeases = new Counter({
      name: 'cascade_discovery_heartbeat_leases_total',
      help: 'Leases in origin heartbeats by outcome: renewed, reclaimed (the store had lost them), fenced (a live other owner), absent, released (held but no longer listed), restarted (dropped with an older incarnation).',
      labelNames: ['status'],
      registers,
    });
    this.sseClients = new Gauge({ name: 'cascade_discovery_sse_clients', help: 'Open /v1/events streams.', registers });
    const ownerCache = new Counter({
      name: 'cascade_discovery_owner_cache_total',
      help: 'Stream lookups answered from the local owner cache (hit) or read from the store (miss; only counted while the cache is in use).',
      labelNames: ['result'],
      registers,
    });
    this.ownerCache = { hit: ownerCache.labels('hit'), miss: ownerCache.labels('miss') };
    this.ownerCache.hit.inc(0);
    this.ownerCache.miss.inc(0);
    this.staleReads = new Counter({
      name: 'cascade_discovery_stale_reads_total',
      help: 'Reads answered from the local cache while the store was unreachable.',
      labelNames: ['route'],
      registers,
    });
    new Gauge({
      name: 'cascade_discovery_streams',
      help: 'Stream leases held (may briefly include expired ones not swept yet).',
      registers,
      async collect() {
        // A failing store keeps the last value (store_up says why); a throw would fail the whole scrape.
        await store.countStreams().then(
          (n) => this.set(n),
          () => undefined,
        );
      },
    });
    new Gauge({
      name: 'cascade_discovery_origins',
      help: 'Registered origins by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        // As above: a failing store keeps the last values (store_up says why).
        const origins = await store.listOrigins().catch(() => null);
        if (!origins) return;
        this.reset();
        this.set({ state: 'active' }, origins.filter((o) => o.state === 'active').length);
        this.set({ state: 'draining' }, origins.filter((o) => o.state === 'draining').length);
      },
    });
    new Gauge({
      name: 'cascade_discovery_edges',
      help: 'Live edges in the edge registry (POST /v1/edges/:id/heartbeat within edgeTtlMs).',
      registers,
      async collect() {
        const edges = await store.listEdges().catch(() => null);
        if (edges) this.set(edges.length);
      },
    });
    new Gauge({
      name: 'cascade_discovery_store_up',
      help: '1 when the store answers a ping, else 0.',
      labelNames: ['store'],
      registers,
      async collect() {
        const up = await store.ping().then(
          () => 1,
          () => 0,
        );
        this.set({ store: store.kind }, up);
      },
    });
    for (const r of ['won', 'conflict', 'owner_dead_broken', 'origin_not_found', 'error']) this.claims.inc({ result: r }, 0);
    for (const r of ['lease_lost', 'store_unavailable', 'error']) this.renewFailures.inc({ reason: r }, 0);
    if (opts.processMetrics) collectProcessMetrics(this.registry, 'cascade_discovery_');
  }

  /** The exposition text; a store that fails keeps its gauges' last values, never fails the scrape. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
