import { request } from 'undici';
import { readBoundedText } from '../common/bounded-body';
import type { Logger } from '../common/logger';
import { LogThrottle } from '../common/limits';
import { apiHostPort, bracket } from './http';
import { originFields } from './views';
import { streamKey, type EdgeRecord, type Lease, type OriginRecord } from './store/types';
import type { ClusterEdgeViewers, ClusterMedia, ClusterOrigin, ClusterStream, ClusterView, DiscoveryEvent, EdgeView, OriginView } from './types';

/**
 * `GET /v1/cluster` (docs/discovery.md "Cluster view"): origins, edges and streams in one answer,
 * assembled from the store (origins, leases), the edge registry (viewers per edge and protocol) and
 * each owner origin's node API (`GET /api/v1/streams`: codec, resolution, ingest rate), fetched with
 * a short timeout and cached briefly. A failing origin only leaves its streams without `media`.
 */

/** What the view knows about one stream from its owner's node API. */
export interface OriginStreamInfo {
  media: ClusterMedia;
  /** Audio + video messages received so far (the node API's `frames`), for the frame rate estimate. */
  frames?: number;
  /** Players at the origin (SRS `clients` minus the publisher; edge pulls included, the view subtracts them). */
  viewers?: number;
}

/** A recently-down origin: shown with status `down` until it comes back or `DOWN_RETENTION_MS` pass. */
export interface DownOrigin {
  view: OriginView;
  at: number;
}

export interface ClusterInput {
  now: number;
  origins: readonly OriginRecord[];
  /** Recently-down origins (not registered any more). */
  down: readonly DownOrigin[];
  leases: readonly Lease[];
  edges: readonly EdgeRecord[];
  /** origin id → its streams' info (`app/name` keys); an origin missing here did not answer. */
  media: ReadonlyMap<string, ReadonlyMap<string, OriginStreamInfo>>;
  /** Weight capacity of origins that register none (config defaultCapacity). */
  defaultCapacity: number;
}

/** How long an origin that went down stays in the view (status `down`). */
export const DOWN_RETENTION_MS = 10 * 60_000;
/** Down origins remembered at most (oldest forgotten first). */
const MAX_DOWN = 1000;
/** Largest node API answer read (10,000 streams of ~700 bytes). */
const MAX_MEDIA_BODY = 8 * 1024 * 1024;

const byKey = (a: { app: string; name: string }, b: { app: string; name: string }): number => {
  const ka = streamKey(a.app, a.name);
  const kb = streamKey(b.app, b.name);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function nonNegative(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/** The pure assembly of the cluster view (unit-tested table-driven; no I/O, no clock). */
export function assembleClusterView(input: ClusterInput): ClusterView {
  const { view: edges, byStream } = edgeViews(input.edges);
  const origins: ClusterOrigin[] = [
    ...input.origins.map((o) => clusterOrigin(o, o.state, input.defaultCapacity)),
    ...input.down.filter((d) => !input.origins.some((o) => o.id === d.view.id)).map((d) => clusterOrigin(d.view, 'down', input.defaultCapacity)),
  ].sort(byId);
  const originById = new Map(input.origins.map((o) => [o.id, o]));

  const streams = new Map<string, ClusterStream>();
  for (const lease of input.leases) {
    const o = originById.get(lease.originId);
    streams.set(streamKey(lease.app, lease.name), {
      app: lease.app,
      name: lease.name,
      owner: o ? { id: o.id, rtmp: o.rtmp, http: o.http } : null,
      since: lease.since,
      viewers: { total: 0, atOrigins: 0, byEdge: [] },
    });
  }
  // Streams edges serve that no origin holds (the owner just went away; the edge is re-pulling).
  for (const [key, reports] of byStream) {
    if (!streams.has(key)) streams.set(key, { app: reports[0].app, name: reports[0].name, owner: null, viewers: { total: 0, atOrigins: 0, byEdge: [] } });
  }

  for (const [key, s] of streams) {
    const reports = byStream.get(key) ?? [];
    s.viewers.byEdge = reports.map((r) => r.viewers).sort((a, b) => (a.edge < b.edge ? -1 : a.edge > b.edge ? 1 : 0));
    const info = s.owner ? input.media.get(s.owner.id)?.get(key) : undefined;
    if (info) {
      s.media = info.media;
      // The owner counts every edge pulling from it as a player.
      const pulls = reports.filter((r) => r.pulling).length;
      s.viewers.atOrigins = Math.max(0, nonNegative(info.viewers) - pulls);
    }
    s.viewers.total = s.viewers.atOrigins + s.viewers.byEdge.reduce((n, v) => n + v.rtmp + v.flv + v.hls, 0);
  }

  const list = [...streams.values()].sort(byKey);
  const live = input.origins;
  return {
    generatedAt: input.now,
    origins,
    edges,
    streams: list,
    totals: {
      origins: live.length,
      edges: edges.length,
      streams: list.length,
      publishers: live.reduce((n, o) => n + nonNegative(o.load.publishers), 0),
      viewers: list.reduce((n, s) => n + s.viewers.total, 0),
      ingressBps: live.reduce((n, o) => n + nonNegative(o.load.ingressBps), 0),
      egressBps: live.reduce((n, o) => n + nonNegative(o.load.egressBps), 0) + edges.reduce((n, e) => n + nonNegative(e.load.egressBps), 0),
    },
  };
}

function clusterOrigin(o: OriginView, status: ClusterOrigin['status'], defaultCapacity: number): ClusterOrigin {
  // A down origin carries no load any more.
  const view: OriginView = { ...originFields(o), load: status === 'down' ? {} : { ...o.load }, updatedAt: o.updatedAt };

  const capacity = o.capacity ?? defaultCapacity;
  const utilisation = status === 'down' || capacity <= 0 ? 0 : Math.round((nonNegative(o.load.weight) / capacity) * 1000) / 1000;
  return { ...view, status, utilisation };
}

interface EdgeStreamEntry {
  app: string;
  name: string;
  viewers: ClusterEdgeViewers;
  /** The edge holds an upstream connection to the owner for it. */
  pulling: boolean;
}

function edgeViews(edges: readonly EdgeRecord[]): { view: EdgeView[]; byStream: Map<string, EdgeStreamEntry[]> } {
  const byStream = new Map<string, EdgeStreamEntry[]>();
  const view: EdgeView[] = [];
  for (const e of [...edges].sort(byId)) {
    const { expiresAt: _expiresAt, ...rest } = e;
    void _expiresAt;
    view.push(rest);
    for (const s of e.streams) {
      const key = streamKey(s.app, s.name);
      let list = byStream.get(key);
      if (!list) byStream.set(key, (list = []));
      list.push({
        app: s.app,
        name: s.name,
        viewers: { edge: e.id, rtmp: s.viewers.rtmp, flv: s.viewers.flv, hls: s.viewers.hls, egressBps: s.egressBps },
        pulling: s.state === 'live' || s.state === 'reconnecting',
      });
    }
  }
  return { view, byStream };
}

// ---- the owner origins' node API -------------------------------------------------------------------

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 64 ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * `GET /api/v1/streams` of a node (docs/origin-api.md: SRS's shape) → info per `app/name`. Tolerant:
 * anything malformed is left out, never thrown.
 */
export function parseNodeStreams(body: unknown): Map<string, OriginStreamInfo> {
  const out = new Map<string, OriginStreamInfo>();
  const streams = (body as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams)) return out;
  for (const raw of streams) {
    if (raw === null || typeof raw !== 'object') continue;
    const s = raw as Record<string, unknown>;
    const app = str(s.app);
    const name = str(s.name);
    if (app === undefined || name === undefined) continue;
    const media: ClusterMedia = {};
    const v = s.video as Record<string, unknown> | null | undefined;
    if (v && typeof v === 'object' && str(v.codec) !== undefined) {
      const fps = num(v.fps);
      media.video = {
        codec: str(v.codec) as string,
        profile: typeof v.profile === 'string' ? v.profile.slice(0, 32) : null,
        width: num(v.width) ?? 0,
        height: num(v.height) ?? 0,
        ...(fps !== undefined ? { fps } : {}),
      };
    }
    const a = s.audio as Record<string, unknown> | null | undefined;
    if (a && typeof a === 'object' && str(a.codec) !== undefined) {
      media.audio = { codec: str(a.codec) as string, sampleRate: num(a.sample_rate) ?? 0, channels: num(a.channel) ?? 0 };
    }
    const kbps = num((s.kbps as Record<string, unknown> | undefined)?.recv_30s);
    if (kbps !== undefined) media.ingressBps = Math.round(kbps * 1000);
    // SRS `clients` = players (edge pulls included) + the publisher when it publishes there.
    const clients = num(s.clients);
    const publishing = typeof (s.publish as { cid?: unknown } | undefined)?.cid === 'string';
    const viewers = clients !== undefined ? Math.max(0, clients - (publishing ? 1 : 0)) : num(s.viewers);
    const frames = num(s.frames);
    out.set(streamKey(app, name), { media, ...(viewers !== undefined ? { viewers } : {}), ...(frames !== undefined ? { frames } : {}) });
  }
  return out;
}

/**
 * Video frames per second from two readings of a stream's `frames` (audio + video messages the origin
 * received, docs/origin-api.md) at least a second apart. Each FLV audio tag carries one AAC frame of
 * 1024 samples (ISO/IEC 14496-3 1.6.2.1, frameLengthFlag 0; FLV spec v10 E.4.2.2), so AAC adds
 * sampleRate / 1024 messages per second; without audio every message is video. Other audio codecs:
 * unknown (no estimate). Rounded to a whole number; undefined when implausible (a restart, a stall).
 */
export function estimateFps(prev: { frames: number; at: number }, cur: { frames: number; at: number }, audio: ClusterMedia['audio']): number | undefined {
  const dt = cur.at - prev.at;
  if (dt < 1000 || cur.frames < prev.frames) return undefined;
  if (audio && (audio.codec !== 'AAC' || audio.sampleRate <= 0)) return undefined;
  const perSecond = ((cur.frames - prev.frames) * 1000) / dt - (audio ? audio.sampleRate / 1024 : 0);
  const fps = Math.round(perSecond);
  return fps >= 1 && fps <= 240 ? fps : undefined;
}

/** The node API base URL of an origin (`api` when registered, else its `http` host:port). */
export function originApiBase(o: Pick<OriginView, 'api' | 'http'>): string {
  if (o.api !== undefined && o.api.includes('://')) return o.api.replace(/\/+$/, '');
  const { host, port } = apiHostPort(o.api ?? o.http);
  return `http://${bracket(host)}:${port}`;
}

export type NodeStreamsFetcher = (origin: OriginView, timeoutMs: number) => Promise<unknown>;

/** GET <api>/api/v1/streams as JSON (bounded body, timeout). */
export const fetchNodeStreams: NodeStreamsFetcher = async (origin, timeoutMs) => {
  const res = await request(`${originApiBase(origin)}/api/v1/streams`, {
    method: 'GET',
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`node API answered ${res.statusCode}`);
  }
  const text = await readBoundedText(res.body, MAX_MEDIA_BODY);
  if (text === null) throw new Error('node API answer too large');
  return JSON.parse(text) as unknown;
};

export interface OriginMediaCacheOptions {
  timeoutMs: number;
  cacheMs: number;
  log: Logger;
  fetch?: NodeStreamsFetcher;
  now?: () => number;
}

/**
 * The owner origins' stream info, cached `cacheMs` per origin (incarnation-aware), one request in
 * flight per origin. A failure is cached too (briefly), so a dead origin costs one timeout per period.
 */
export class OriginMediaCache {
  private readonly cache = new Map<string, { at: number; key: string; value: Map<string, OriginStreamInfo> | null }>();
  /** Per origin: the previous `frames` reading of each stream (frame rate estimate). */
  private readonly frames = new Map<string, { key: string; at: number; byStream: Map<string, number> }>();
  private readonly inflight = new Map<string, Promise<Map<string, OriginStreamInfo> | null>>();
  private readonly fetch: NodeStreamsFetcher;
  private readonly now: () => number;
  private readonly failLog = new LogThrottle();

  constructor(private readonly opts: OriginMediaCacheOptions) {
    this.fetch = opts.fetch ?? fetchNodeStreams;
    this.now = opts.now ?? Date.now;
  }

  /** Info of every given origin that answered (in time). Never throws. */
  async of(origins: readonly OriginView[]): Promise<Map<string, Map<string, OriginStreamInfo>>> {
    const out = new Map<string, Map<string, OriginStreamInfo>>();
    const alive = new Set(origins.map((o) => o.id));
    for (const id of [...this.cache.keys()]) if (!alive.has(id)) this.cache.delete(id);
    for (const id of [...this.frames.keys()]) if (!alive.has(id)) this.frames.delete(id);
    await Promise.all(
      origins.map(async (o) => {
        const info = await this.one(o);
        if (info) out.set(o.id, info);
      }),
    );
    return out;
  }

  private one(o: OriginView): Promise<Map<string, OriginStreamInfo> | null> {
    const key = `${originApiBase(o)} ${o.incarnation ?? ''}`;
    const hit = this.cache.get(o.id);
    if (hit && hit.key === key && this.now() - hit.at < this.opts.cacheMs) return Promise.resolve(hit.value);
    let p = this.inflight.get(o.id);
    if (!p) {
      p = this.fetch(o, this.opts.timeoutMs)
        .then(
          (body) => parseNodeStreams(body),
          (err: unknown) => {
            this.failLog.warn(this.opts.log, { origin: o.id, err: err instanceof Error ? err.message : String(err) }, 'cluster view: origin node API did not answer; its streams are shown without media');
            return null;
          },
        )
        .then((value) => {
          const at = this.now();
          if (value) this.withFps(o.id, key, at, value);
          this.cache.set(o.id, { at, key, value });
          return value;
        })
        .finally(() => this.inflight.delete(o.id));
      this.inflight.set(o.id, p);
    }
    return p;
  }

  /** Sets video.fps from the previous reading of the same origin process (kept until a later one is a second apart). */
  private withFps(originId: string, key: string, at: number, value: Map<string, OriginStreamInfo>): void {
    const prev = this.frames.get(originId);
    const usable = prev && prev.key === key ? prev : undefined;
    for (const [stream, info] of value) {
      const before = usable?.byStream.get(stream);
      if (before === undefined || info.frames === undefined || !info.media.video || !usable) continue;
      const fps = estimateFps({ frames: before, at: usable.at }, { frames: info.frames, at }, info.media.audio);
      if (fps !== undefined) info.media.video.fps = fps;
    }
    // A reading less than a second after the kept one would give a noisy rate: keep the older one.
    if (usable && at - usable.at < 1000) return;
    const byStream = new Map<string, number>();
    for (const [stream, info] of value) if (info.frames !== undefined) byStream.set(stream, info.frames);
    this.frames.set(originId, { key, at, byStream });
  }
}

/** Remembers origins that went down (from store events) so the view can show them as `down` for a while. */
export class DownOrigins {
  private readonly lastSeen = new Map<string, OriginView>();
  private readonly down = new Map<string, DownOrigin>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Every cluster read refreshes what the origins looked like last. */
  seen(origins: readonly OriginView[]): void {
    for (const o of origins) {
      this.lastSeen.delete(o.id);
      this.lastSeen.set(o.id, o);
      this.down.delete(o.id);
    }
    while (this.lastSeen.size > MAX_DOWN * 2) this.lastSeen.delete(this.lastSeen.keys().next().value as string);
  }

  onEvent(e: DiscoveryEvent): void {
    if (e.type === 'origin.up' || e.type === 'origin.draining') {
      this.down.delete(e.data.id);
      this.lastSeen.set(e.data.id, e.data);
    } else if (e.type === 'origin.down' && e.data.reason !== 'restarted') {
      const view = this.lastSeen.get(e.data.id);
      if (!view) return;
      this.down.delete(e.data.id);
      this.down.set(e.data.id, { view, at: this.now() });
      while (this.down.size > MAX_DOWN) this.down.delete(this.down.keys().next().value as string);
    }
  }

  list(): DownOrigin[] {
    const cutoff = this.now() - DOWN_RETENTION_MS;
    for (const [id, d] of [...this.down]) if (d.at < cutoff) this.down.delete(id);
    return [...this.down.values()];
  }
}
