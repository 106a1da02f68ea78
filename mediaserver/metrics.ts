/**
 * Prometheus metrics of an origin or an edge: `GET /metrics` on the node's HTTP port, one registry
 * per process (prom-client), default process metrics included. The metric names are fixed by the
 * deploy dashboards and alerts (deploy/metrics.json lists them with their role); do not rename.
 *
 * Gauges and byte counters are read from the node at scrape time; event counters are incremented
 * by the services (`redirects`, `rejections`, `leaseRenewFailures`, edge `streamEvent`, ...).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/process-metrics';
import type { HardeningStats } from './guarded-connection';
import type { NodeMedia } from './node-api';

/** Reasons an origin refuses a publisher or a player (label of cascade_origin_rejections_total). */
export const REJECTION_REASONS = [
  'unauthorized',
  'hook_denied',
  'hook_unavailable',
  'duplicate',
  'owned_elsewhere',
  'discovery_unavailable',
  'play_unauthorized',
  'play_hook_denied',
  'play_hook_unavailable',
  'overloaded',
  'draining',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** A live stream as the metrics see it: its ingest rate, and at edges the promise of its first media. */
export interface MetricsStream {
  app: string;
  name: string;
  /** Ingest kbit/s; else read from `view().kbpsIn`. */
  kbpsIn?: number;
  view?: () => { kbpsIn?: number };
  /** Edge streams: resolves when upstream media flows (the TTFF proxy). */
  ready?: Promise<unknown>;
  /** Players of the stream (used when no `media` is given). */
  viewers?: number;
}

export interface NodeMetricsOptions {
  /**
   * Sessions and prePlay events (viewer count, TTFF). Absent: viewers are summed from `streams()`.
   * A media server with `stats()` (NmsHost) also has its hardening counters exported at origins.
   */
  media?: Pick<NodeMedia, 'sessions' | 'on'> & { stats?(): HardeningStats };
  streams: () => Iterable<MetricsStream>;
  /** Export Node's default process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
  /** Connections refused by the connection caps since start, per listener and reason. */
  connectionsRefused?: () => Iterable<{ listener: string; reason: string; count: number }>;
  /** LL-HLS requests waiting now (blocking playlist reloads and parts being written; docs/hls.md). */
  hlsBlocked?: () => number;
}

export interface OriginMetricsOptions extends NodeMetricsOptions {
  publishers: () => number;
  /** Weight load / capacity (0..1). */
  utilisation: () => number;
  highWater: number;
  /** Bytes received / sent by every client since start (only grows). */
  bytes: () => { in: number; out: number };
  /** Webhook notifications queued or retrying now. */
  webhookPending?: () => number;
}

/** Players (not publishers) connected from the network: edge pulls count at origins. */
export function countViewers(media: Pick<NodeMedia, 'sessions'>): number {
  let n = 0;
  for (const s of media.sessions()) if (s.ip !== '' && !s.isPublisher && s.streamApp !== '') n++;
  return n;
}

function viewersOf(opts: NodeMetricsOptions): number {
  if (opts.media) return countViewers(opts.media);
  let n = 0;
  for (const s of opts.streams()) n += s.viewers ?? 0;
  return n;
}

function kbpsOf(s: MetricsStream): number {
  return s.kbpsIn ?? s.view?.().kbpsIn ?? 0;
}

abstract class NodeMetrics {
  readonly registry = new Registry();

  constructor(protected readonly opts: NodeMetricsOptions) {
    const registers = [this.registry];
    new Gauge({
      name: 'cascade_stream_bitrate_kbps',
      help: 'Ingest bit rate of each live stream on this node, kbit/s.',
      labelNames: ['app', 'name'],
      registers,
      collect() {
        this.reset();
        for (const s of opts.streams()) this.set({ app: s.app, name: s.name }, kbpsOf(s));
      },
    });
    new Counter({
      name: 'cascade_connections_refused_total',
      help: 'Connections refused by maxConnections / maxConnectionsPerIp, by listener (rtmp, http) and reason.',
      labelNames: ['listener', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const r of opts.connectionsRefused?.() ?? []) this.inc({ listener: r.listener, reason: r.reason }, r.count);
      },
    });
    new Gauge({
      name: 'cascade_hls_blocked_requests',
      help: 'LL-HLS requests waiting now: blocking playlist reloads and parts being written (docs/hls.md).',
      registers,
      collect() {
        this.set(opts.hlsBlocked?.() ?? 0);
      },
    });
    if (opts.processMetrics !== false) collectProcessMetrics(this.registry);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves `GET /metrics` on `app`. */
  register(app: FastifyInstance): this {
    app.get('/metrics', async (_req, reply) => reply.header('content-type', this.registry.contentType).send(await this.render()));
    return this;
  }
}

export class OriginMetrics extends NodeMetrics {
  readonly redirects: Counter;
  readonly rejections: Counter<'reason'>;
  readonly leaseRenewFailures: Counter;
  readonly sheds: Counter;
  readonly webhookDrops: Counter<'action'>;
  readonly webhookTooLarge: Counter<'action'>;

  constructor(opts: OriginMetricsOptions) {
    super(opts);
    const registers = [this.registry];
    new Gauge({ name: 'cascade_origin_publishers', help: 'Publishers (live streams) on this origin.', registers, collect() { this.set(opts.publishers()); } });
    new Gauge({ name: 'cascade_origin_viewers', help: 'Players on this origin, edge pulls included.', registers, collect() { this.set(viewersOf(opts)); } });
    new Gauge({ name: 'cascade_origin_utilisation', help: 'Weight load divided by weight capacity (0..1, docs/design.md section 4).', registers, collect() { this.set(opts.utilisation()); } });
    new Gauge({ name: 'cascade_origin_high_water', help: 'Utilisation at which this origin stops admitting publishers and starts shedding (0..1).', registers }).set(opts.highWater);
    this.redirects = new Counter({ name: 'cascade_origin_redirects_total', help: "RTMP and HTTP 302 redirects to a stream's owner.", registers });
    this.rejections = new Counter({ name: 'cascade_origin_rejections_total', help: 'Publishers and players refused, by reason.', labelNames: ['reason'], registers });
    for (const reason of REJECTION_REASONS) this.rejections.inc({ reason }, 0);
    this.leaseRenewFailures = new Counter({ name: 'cascade_lease_renew_failures_total', help: 'Stream lease renewals that failed (lease lost or discovery unavailable).', registers });
    this.sheds = new Counter({ name: 'cascade_origin_sheds_total', help: 'Publishers moved off this origin by shedding.', registers });
    this.webhookDrops = new Counter({ name: 'cascade_origin_webhook_notifications_dropped_total', help: 'on_unpublish / on_stop notifications dropped because webhookMaxPending were already queued or retrying.', labelNames: ['action'], registers });
    this.webhookTooLarge = new Counter({ name: 'cascade_origin_webhook_answers_too_large_total', help: 'Webhook answers larger than webhookMaxResponseBytes (on_publish / on_play: denied).', labelNames: ['action'], registers });
    for (const action of ['on_unpublish', 'on_stop']) this.webhookDrops.inc({ action }, 0);
    for (const action of ['on_publish', 'on_play']) this.webhookTooLarge.inc({ action }, 0);
    const media = opts.media;
    if (media?.stats) {
      const stats = media.stats.bind(media);
      new Counter({
        name: 'cascade_origin_hardening_events_total',
        help: 'What the RTMP guard and the viewer queues did since start, by event: rtmp_connections, rtmp_connections_refused, rtmp_rejected (hostile input), rtmp_timeouts, rtmp_dropped (messages not passed to NMS), nms_errors, viewer_gops_dropped, viewer_frames_dropped, viewer_bytes_dropped, viewer_lag_disconnects, viewers_ended (docs/hardening.md).',
        labelNames: ['event'],
        registers,
        collect() {
          this.reset();
          for (const [key, n] of Object.entries(stats())) this.inc({ event: snakeCase(key) }, n);
        },
      });
    }
    new Gauge({ name: 'cascade_origin_webhook_notifications_pending', help: 'on_unpublish / on_stop notifications queued or retrying.', registers, collect() { this.set(opts.webhookPending?.() ?? 0); } });
    const reported = { in: 0, out: 0 };
    const grow = (key: 'in' | 'out', counter: Counter): void => {
      const now = opts.bytes()[key];
      if (now > reported[key]) {
        counter.inc(now - reported[key]);
        reported[key] = now;
      }
    };
    new Counter({ name: 'cascade_origin_bytes_in_total', help: 'Bytes received from clients (publishers and players).', registers, collect() { grow('in', this); } });
    new Counter({ name: 'cascade_origin_bytes_out_total', help: 'Bytes sent to clients (players and edge pulls).', registers, collect() { grow('out', this); } });
  }

  reject(reason: RejectionReason): void {
    this.rejections.inc({ reason });
  }
}

export class EdgeMetrics extends NodeMetrics {
  readonly upstreamReconnects: Counter;
  readonly redirectsFollowed: Counter;
  readonly drops: Counter;
  readonly pullsRefused: Counter<'reason'>;
  readonly ttff: Histogram;

  constructor(opts: NodeMetricsOptions) {
    super(opts);
    const registers = [this.registry];
    new Gauge({ name: 'cascade_edge_viewers', help: 'Players on this edge (RTMP, HTTP-FLV). The edge autoscaler\'s custom metric.', registers, collect() { this.set(viewersOf(opts)); } });
    this.upstreamReconnects = new Counter({ name: 'cascade_edge_upstream_reconnects_total', help: 'Upstream pulls restarted after the upstream ended (shed, drain, origin death).', registers });
    this.redirectsFollowed = new Counter({ name: 'cascade_edge_redirects_followed_total', help: 'RTMP 302 redirects followed by upstream pulls.', registers });
    this.drops = new Counter({ name: 'cascade_edge_drops_total', help: 'Media messages dropped for slow viewers (whole GOPs).', registers });
    this.pullsRefused = new Counter({
      name: 'cascade_edge_pulls_refused_total',
      help: 'Plays of streams not already pulled here that were refused before any pull: per-IP pull rate (rate) or the concurrent pull cap (concurrency).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['rate', 'concurrency']) this.pullsRefused.inc({ reason }, 0);
    this.ttff = new Histogram({
      name: 'cascade_edge_ttff_seconds',
      help: "Time from a viewer's request to the stream's first media at this edge (prePlay to upstream ready).",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
      registers,
    });
    // Runs after the edge's own prePlay handler (which starts or joins the pull) whatever the order.
    opts.media?.on('prePlay', (session) => {
      const t0 = performance.now();
      queueMicrotask(() => {
        for (const s of opts.streams()) {
          if (s.app !== session.streamApp || s.name !== session.streamName || !s.ready) continue;
          s.ready.then(
            () => this.observeTtff((performance.now() - t0) / 1000),
            () => undefined, // the pull failed: no first frame to time; EdgeStream logged why
          );
          return;
        }
      });
    });
  }

  /** A viewer's time to first media, in seconds (for viewers the media server does not announce via prePlay). */
  observeTtff(seconds: number): void {
    this.ttff.observe(seconds);
  }

  /** EdgeStream's `onEvent` dep: `onEvent: (e, n) => metrics.streamEvent(e, n)`. */
  streamEvent(event: 'reconnect' | 'redirects', n: number): void {
    if (event === 'reconnect') this.upstreamReconnects.inc(n);
    else this.redirectsFollowed.inc(n);
  }
}

/** Origin metrics on `GET /metrics`. */
export function registerOriginMetrics(app: FastifyInstance, opts: OriginMetricsOptions): OriginMetrics {
  return new OriginMetrics(opts).register(app);
}

/** Edge metrics on `GET /metrics` (one line in EdgeService's constructor). */
export function registerEdgeMetrics(app: FastifyInstance, opts: NodeMetricsOptions): EdgeMetrics {
  return new EdgeMetrics(opts).register(app);
}

/** `viewerGopsDropped` → `viewer_gops_dropped`. */
function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
