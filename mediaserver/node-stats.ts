/**
 * Byte counters, 30 s rates and CPU use of a node's streams and client sessions, sampled on a timer;
 * read by the node API (mediaserver/node-api.ts) and /metrics.
 */
import { isRemote, type NodeMedia, type NodeSession, type NodeStreamSource } from './node-media';
import { round, systemCpuTimes } from './system-stats';

const RATE_WINDOW_MS = 30_000;

/** kbit/s over (about) the last 30 s from byte counters sampled every few seconds. */
export class RateMeter {
  private samples: Array<{ t: number; bytes: number }> = [];

  constructor(baseline?: { t: number; bytes: number }) {
    if (baseline) this.samples.push(baseline);
  }

  sample(now: number, bytes: number): void {
    this.samples.push({ t: now, bytes });
    // Keep the newest sample older than the window: it anchors the full 30 s.
    while (this.samples.length > 2 && now - this.samples[1].t >= RATE_WINDOW_MS) this.samples.shift();
  }

  kbps(now: number, bytes: number): number {
    const ref = this.samples.find((s) => now - s.t <= RATE_WINDOW_MS) ?? this.samples[this.samples.length - 1];
    if (!ref || now - ref.t < 200) return 0;
    return Math.max(0, Math.round(((bytes - ref.bytes) * 8) / (now - ref.t)));
  }
}

interface StreamMeters {
  in: RateMeter;
  out: RateMeter;
  /** outBytes of players that left. */
  departedOut: number;
  seen: number;
}

export interface StreamStats {
  recvBytes: number;
  sendBytes: number;
  recvKbps: number;
  sendKbps: number;
  clients: number;
  viewers: number;
}

/**
 * Byte counters and 30 s rates of a node's streams and sessions, plus process-wide byte totals that
 * only grow (sessions that closed keep their bytes). Sampled on a timer; read by the API and /metrics.
 */
export class NodeStats {
  readonly startedAt = Date.now();
  private readonly streamMeters = new Map<string, StreamMeters>();
  private readonly clientMeters = new Map<string, { in: RateMeter; out: RateMeter }>();
  /** Per session: the bytes already added to the totals. */
  private readonly counted = new Map<string, { in: number; out: number }>();
  private totals = { in: 0, out: 0 };
  private cpu = { at: Date.now(), usage: process.cpuUsage(), self: 0, sys: 0, sysTimes: systemCpuTimes() };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly nms: NodeMedia, private readonly streams: () => Iterable<NodeStreamSource>, sampleEveryMs = 5000) {
    nms.on('donePlay', (s) => {
      this.count(s);
      const m = this.streamMeters.get(`${s.streamApp}/${s.streamName}`);
      if (m) m.departedOut += s.outBytes;
    });
    nms.on('donePublish', (s) => this.count(s));
    this.timer = setInterval(() => this.tick(), sampleEveryMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Bytes received and sent by every client session since start (only grows). */
  totalBytes(): { in: number; out: number } {
    this.countAll();
    return { ...this.totals };
  }

  /** CPU use as fractions (SRS style: 0.25 = 25 %): of one core for the process, of all cores for the system. */
  cpuUsage(): { self: number; system: number } {
    if (Date.now() - this.cpu.at >= 1000) this.sampleCpu();
    return { self: this.cpu.self, system: this.cpu.sys };
  }

  streamStats(src: NodeStreamSource): StreamStats {
    const key = `${src.app}/${src.name}`;
    const now = Date.now();
    const m = this.meters(key, src, now);
    const b = this.nms.broadcast(src.app, src.name);
    const publisher = b?.publisher && isRemote(b.publisher) ? b.publisher : null;
    let sendBytes = m.departedOut;
    let viewers = 0;
    for (const s of b?.subscribers.values() ?? []) {
      sendBytes += s.outBytes;
      viewers++;
    }
    if (!b?.subscribers.size && src.viewers !== undefined) viewers = src.viewers;
    const recvBytes = publisher ? publisher.inBytes : (src.bytesIn ?? 0);
    return {
      recvBytes,
      sendBytes,
      recvKbps: m.in.kbps(now, recvBytes),
      sendKbps: m.out.kbps(now, sendBytes),
      clients: viewers + (publisher ? 1 : 0),
      viewers,
    };
  }

  clientKbps(s: NodeSession): { recv_30s: number; send_30s: number } {
    const now = Date.now();
    const m = this.clientMeter(s);
    return { recv_30s: m.in.kbps(now, s.inBytes), send_30s: m.out.kbps(now, s.outBytes) };
  }

  /** One sampling round (the timer calls it; tests may too). */
  tick(): void {
    const now = Date.now();
    const live = new Set<string>();
    for (const src of this.streams()) {
      const key = `${src.app}/${src.name}`;
      live.add(key);
      const st = this.streamStats(src);
      const m = this.meters(key, src, now);
      m.in.sample(now, st.recvBytes);
      m.out.sample(now, st.sendBytes);
      m.seen = now;
    }
    for (const [key, m] of this.streamMeters) if (!live.has(key) && now - m.seen > RATE_WINDOW_MS) this.streamMeters.delete(key);
    const sessions = new Set<string>();
    for (const s of this.nms.sessions()) {
      if (!isRemote(s)) continue;
      sessions.add(s.id);
      const m = this.clientMeter(s);
      m.in.sample(now, s.inBytes);
      m.out.sample(now, s.outBytes);
    }
    for (const id of this.clientMeters.keys()) if (!sessions.has(id)) this.clientMeters.delete(id);
    this.countAll();
    this.sampleCpu();
  }

  private meters(key: string, src: NodeStreamSource, now: number): StreamMeters {
    let m = this.streamMeters.get(key);
    if (!m) {
      const t0 = src.since ?? now;
      m = { in: new RateMeter({ t: t0, bytes: 0 }), out: new RateMeter({ t: t0, bytes: 0 }), departedOut: 0, seen: now };
      this.streamMeters.set(key, m);
    }
    return m;
  }

  private clientMeter(s: NodeSession): { in: RateMeter; out: RateMeter } {
    let m = this.clientMeters.get(s.id);
    if (!m) {
      m = { in: new RateMeter({ t: s.createTime, bytes: 0 }), out: new RateMeter({ t: s.createTime, bytes: 0 }) };
      this.clientMeters.set(s.id, m);
    }
    return m;
  }

  private count(s: NodeSession): void {
    const prev = this.counted.get(s.id) ?? { in: 0, out: 0 };
    this.totals.in += Math.max(0, s.inBytes - prev.in);
    this.totals.out += Math.max(0, s.outBytes - prev.out);
    this.counted.set(s.id, { in: Math.max(prev.in, s.inBytes), out: Math.max(prev.out, s.outBytes) });
  }

  private countAll(): void {
    const live = new Set<string>();
    for (const s of this.nms.sessions()) {
      if (!isRemote(s)) continue;
      live.add(s.id);
      this.count(s);
    }
    for (const id of this.counted.keys()) if (!live.has(id)) this.counted.delete(id);
  }

  private sampleCpu(): void {
    const now = Date.now();
    const usage = process.cpuUsage();
    const sysTimes = systemCpuTimes();
    const wallUs = (now - this.cpu.at) * 1000;
    if (wallUs <= 0) return;
    const self = (usage.user - this.cpu.usage.user + usage.system - this.cpu.usage.system) / wallUs;
    const total = sysTimes.total - this.cpu.sysTimes.total;
    const sys = total > 0 ? 1 - (sysTimes.idle - this.cpu.sysTimes.idle) / total : this.cpu.sys;
    this.cpu = { at: now, usage, self: round(self, 4), sys: round(sys, 4), sysTimes };
  }
}
