import { randomUUID } from 'node:crypto';
import { LogThrottle } from '../common/limits';
import type { Logger } from '../common/logger';
import type { EdgeHeartbeatRequest, EdgeStreamReport, EdgeStreamState, OriginView } from '../discovery/types';
import type { FanoutViewer } from './fanout/hub';
import type { EdgeStreamState as PullState } from './edge-stream';

/**
 * The edge's reports to discovery's edge registry (docs/discovery.md "Edge registry"): every
 * `intervalMs` one `POST /v1/edges/:id/heartbeat` with this edge's URLs, load and, per stream, its
 * viewers by protocol (RTMP, HTTP-FLV, and HLS clients seen polling in the last `HLS_WINDOW_MS`), the
 * bit rate sent to them and the origin it pulls from. Deregisters on drain/stop. Reporting never
 * touches viewers: a failing discovery costs a throttled log line, nothing else.
 */

/** An HLS client counts as watching while it polled (playlist or segment) this recently. */
export const HLS_WINDOW_MS = 10_000;
/** Streams one heartbeat may list (discovery refuses more); the most watched are kept. */
export const MAX_REPORTED_STREAMS = 2000;
/** HLS (stream, client) pairs remembered at most; beyond, new pairs are not counted until old ones age out. */
const MAX_HLS_ENTRIES = 50_000;
/** Discovery's origin list is re-read this often (upstream URL → origin id). */
const ORIGINS_REFRESH_MS = 30_000;
/** …or this soon when an upstream is not in it. */
const ORIGINS_RETRY_MS = 5_000;

/** Distinct HLS clients (by IP) per stream seen in the last window. Bounded. */
export class HlsClients {
  private readonly seenAt = new Map<string, Map<string, number>>();
  private size = 0;

  constructor(private readonly windowMs = HLS_WINDOW_MS, private readonly maxEntries = MAX_HLS_ENTRIES) {}

  seen(key: string, ip: string, now = Date.now()): void {
    let clients = this.seenAt.get(key);
    if (!clients) {
      if (this.size >= this.maxEntries) return;
      this.seenAt.set(key, (clients = new Map()));
    }
    if (!clients.has(ip)) {
      if (this.size >= this.maxEntries) return;
      this.size++;
    }
    clients.set(ip, now);
  }

  /** Clients of `key` seen within the window. */
  count(key: string, now = Date.now()): number {
    const clients = this.seenAt.get(key);
    if (!clients) return 0;
    let n = 0;
    for (const at of clients.values()) if (now - at < this.windowMs) n++;
    return n;
  }

  /** Forgets clients older than the window (each report). */
  prune(now = Date.now()): void {
    for (const [key, clients] of this.seenAt) {
      for (const [ip, at] of clients) {
        if (now - at < this.windowMs) continue;
        clients.delete(ip);
        this.size--;
      }
      if (clients.size === 0) this.seenAt.delete(key);
    }
  }

  keys(): IterableIterator<string> {
    return this.seenAt.keys();
  }
}

/** What the reporter reads of one edge stream (EdgeStream fits). */
export interface ReportedStream {
  readonly app: string;
  readonly name: string;
  readonly state: PullState;
  /** The upstream pull URL (credentials redacted), or null. */
  readonly upstream: string | null;
  readonly hub: { countByKind(): { rtmp: number; flv: number } };
  /** `kbpsIn`: ingest kbit/s. */
  view(): { kbpsIn: number };
}

export interface StreamSample {
  app: string;
  name: string;
  state: PullState;
  upstream: string | null;
  rtmp: number;
  flv: number;
  hls: number;
  /** RTMP + FLV bytes written since start (only grows). */
  bytesOut: number;
  kbpsIn: number;
}

export interface ReportInput {
  urls: { rtmp?: string; http?: string; region?: string };
  state: 'active' | 'draining';
  incarnation: string;
  cpu?: number;
  samples: readonly StreamSample[];
  /** `bytesOut` of each stream at the previous report (app/name keys). */
  previousBytes: ReadonlyMap<string, number>;
  /** ms since the previous report (0 on the first). */
  elapsedMs: number;
  /** Origin rtmp `host:port` → origin id. */
  originIds: ReadonlyMap<string, string>;
}

const STATES: Record<PullState, EdgeStreamState | null> = { idle: 'idle', connecting: 'pulling', live: 'live', reconnecting: 'reconnecting', closed: null };

/** rtmp://host:port/... → host:port (null when not an RTMP URL). */
export function rtmpHostPort(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== 'rtmp:') return null;
    return `${u.hostname}:${u.port || '1935'}`;
  } catch {
    return null;
  }
}

/**
 * The heartbeat body from samples (pure). Egress per stream: RTMP/FLV bytes written since the last
 * report, plus for HLS clients the ingest rate each (segments are the stream's bytes).
 */
export function buildEdgeReport(input: ReportInput): EdgeHeartbeatRequest {
  const streams: EdgeStreamReport[] = [];
  for (const s of input.samples) {
    const state = STATES[s.state];
    if (state === null) continue;
    const key = `${s.app}/${s.name}`;
    const before = input.previousBytes.get(key);
    const sent = before !== undefined && input.elapsedMs > 0 ? Math.max(0, s.bytesOut - before) : 0;
    const egressBps = Math.round((sent * 8 * 1000) / Math.max(1, input.elapsedMs)) + s.hls * Math.max(0, s.kbpsIn) * 1000;
    const hostPort = s.upstream ? rtmpHostPort(s.upstream) : null;
    const upstream = hostPort ? input.originIds.get(hostPort) : undefined;
    streams.push({ app: s.app, name: s.name, viewers: { rtmp: s.rtmp, flv: s.flv, hls: s.hls }, egressBps: input.elapsedMs > 0 ? egressBps : 0, ...(upstream ? { upstream } : {}), state });
  }
  const viewers = (r: EdgeStreamReport): number => r.viewers.rtmp + r.viewers.flv + r.viewers.hls;
  const kept = streams.length > MAX_REPORTED_STREAMS ? [...streams].sort((a, b) => viewers(b) - viewers(a)).slice(0, MAX_REPORTED_STREAMS) : streams;
  return {
    ...(input.urls.rtmp ? { rtmp: input.urls.rtmp } : {}),
    ...(input.urls.http ? { http: input.urls.http } : {}),
    ...(input.urls.region ? { region: input.urls.region } : {}),
    state: input.state,
    incarnation: input.incarnation,
    load: {
      viewers: streams.reduce((n, r) => n + viewers(r), 0),
      egressBps: streams.reduce((n, r) => n + r.egressBps, 0),
      ...(input.cpu !== undefined ? { cpu: input.cpu } : {}),
    },
    streams: kept,
  };
}

/** What the reporter needs of the discovery client (HttpDiscoveryClient fits). */
export interface ReporterDiscovery {
  edgeHeartbeat(id: string, req: EdgeHeartbeatRequest): Promise<unknown>;
  deregisterEdge(id: string): Promise<void>;
  listOrigins(): Promise<OriginView[]>;
}

export interface EdgeReporterOptions {
  id: string;
  discovery: ReporterDiscovery;
  streams: () => Iterable<ReportedStream>;
  urls: { rtmp?: string; http?: string; region?: string };
  intervalMs: number;
  log: Logger;
  /** Injectable clock (ms epoch) for tests. */
  now?: () => number;
}

export class EdgeReporter {
  readonly hls = new HlsClients();
  private readonly incarnation = randomUUID();
  private readonly bytesOut = new Map<string, number>();
  private previousBytes = new Map<string, number>();
  private lastReport = 0;
  private originIds = new Map<string, string>();
  private originsAt = -Infinity;
  private cpu = { at: performance.now(), usage: process.cpuUsage() };
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  private stopped = false;
  private failing = false;
  private readonly failLog = new LogThrottle(30_000);
  private readonly log: Logger;

  constructor(private readonly opts: EdgeReporterOptions) {
    this.log = opts.log.child({ component: 'edge-reporter' });
  }

  start(): void {
    if (this.stopped || this.timer || this.opts.intervalMs <= 0) return;
    this.tick();
  }

  /** A viewer whose written bytes count towards its stream's egress. */
  counted(app: string, name: string, viewer: FanoutViewer): FanoutViewer {
    const key = `${app}/${name}`;
    const counts = this.bytesOut;
    return {
      kind: viewer.kind,
      get backlog() {
        return viewer.backlog;
      },
      // The node API lists the connection behind it (edge/clients.ts).
      get client() {
        return viewer.client;
      },
      write: (buf) => {
        counts.set(key, (counts.get(key) ?? 0) + buf.length);
        viewer.write(buf);
      },
      end: (reason) => viewer.end(reason),
      kick: (reason) => viewer.kick(reason),
    };
  }

  /** Passes an HLS play verdict through, counting the client of an admitted request as watching. */
  hlsPoll<V extends { ok: boolean }>(path: { app: string; name: string }, ip: string, verdict: V): V {
    if (verdict.ok && ip) this.hls.seen(`${path.app}/${path.name}`, ip, (this.opts.now ?? Date.now)());
    return verdict;
  }

  /** Stops reporting and deregisters (drain and stop; idempotent). Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight;
    if (this.lastReport === 0) return;
    await this.opts.discovery.deregisterEdge(this.opts.id).then(
      () => this.log.info('deregistered from discovery'),
      (err: unknown) => this.log.info({ err: errText(err) }, 'deregistering from discovery failed (it forgets this edge after edgeTtlMs)'),
    );
  }

  private tick(): void {
    this.inflight = this.report().finally(() => {
      this.inflight = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => this.tick(), this.opts.intervalMs);
      this.timer.unref();
    });
  }

  /** One heartbeat; failures are logged (throttled), never thrown. */
  async report(): Promise<void> {
    try {
      const now = (this.opts.now ?? Date.now)();
      const samples = this.sample(now);
      await this.refreshOrigins(samples, now);
      const body = buildEdgeReport({
        urls: this.opts.urls,
        state: 'active',
        incarnation: this.incarnation,
        cpu: this.cpuPercent(),
        samples,
        previousBytes: this.previousBytes,
        elapsedMs: this.lastReport === 0 ? 0 : now - this.lastReport,
        originIds: this.originIds,
      });
      this.previousBytes = new Map(samples.map((s) => [`${s.app}/${s.name}`, s.bytesOut]));
      this.lastReport = now;
      if (this.stopped) return;
      await this.opts.discovery.edgeHeartbeat(this.opts.id, body);
      if (this.failing) this.log.info('discovery takes edge reports again');
      this.failing = false;
    } catch (err) {
      this.failing = true;
      this.failLog.warn(this.log, { err: errText(err) }, 'edge report to discovery failed; viewers are not affected (retrying)');
    }
  }

  private sample(now: number): StreamSample[] {
    this.hls.prune(now);
    const out: StreamSample[] = [];
    const live = new Set<string>();
    for (const s of this.opts.streams()) {
      const key = `${s.app}/${s.name}`;
      live.add(key);
      const { rtmp, flv } = s.hub.countByKind();
      out.push({ app: s.app, name: s.name, state: s.state, upstream: s.upstream, rtmp, flv, hls: this.hls.count(key, now), bytesOut: this.bytesOut.get(key) ?? 0, kbpsIn: s.view().kbpsIn });
    }
    // Counters of streams that closed go with them (bounded by the streams this edge serves).
    for (const key of [...this.bytesOut.keys()]) if (!live.has(key)) this.bytesOut.delete(key);
    return out;
  }

  /** Upstream URL → origin id needs discovery's origin list: re-read every 30 s, sooner for an unknown upstream. */
  private async refreshOrigins(samples: readonly StreamSample[], now: number): Promise<void> {
    const unknown = samples.some((s) => {
      const hp = s.upstream ? rtmpHostPort(s.upstream) : null;
      return hp !== null && !this.originIds.has(hp);
    });
    const age = now - this.originsAt;
    if (age < ORIGINS_REFRESH_MS && !(unknown && age >= ORIGINS_RETRY_MS)) return;
    this.originsAt = now;
    try {
      const origins = await this.opts.discovery.listOrigins();
      const ids = new Map<string, string>();
      for (const o of origins) {
        const hp = rtmpHostPort(o.rtmp);
        if (hp) ids.set(hp, o.id);
      }
      this.originIds = ids;
    } catch {
      // The heartbeat below reports the failure; upstream ids stay as they were.
    }
  }

  private cpuPercent(): number {
    const now = performance.now();
    const usage = process.cpuUsage();
    const wallUs = (now - this.cpu.at) * 1000;
    const usedUs = usage.user - this.cpu.usage.user + (usage.system - this.cpu.usage.system);
    this.cpu = { at: now, usage };
    return wallUs > 0 ? Math.round((usedUs / wallUs) * 1000) / 10 : 0;
  }
}

/** The URLs an edge reports: its listeners at `publicHost` (else `host`; a wildcard bind shows as 127.0.0.1). */
export function reportedUrls(config: { host: string; publicHost: string; rtmpPort: number; httpPort: number; region: string }): { rtmp: string; http: string; region?: string } {
  const wildcard = config.host === '0.0.0.0' || config.host === '::' || config.host === '';
  const host = config.publicHost || (wildcard ? '127.0.0.1' : config.host);
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { rtmp: `rtmp://${shown}:${config.rtmpPort}`, http: `http://${shown}:${config.httpPort}`, ...(config.region ? { region: config.region } : {}) };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
