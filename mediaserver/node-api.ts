/**
 * The node HTTP API of origins and edges, shaped like SRS's HTTP API (`/api/v1/...`) so SRS tooling
 * (consoles, exporters, scripts) reads it:
 *
 *   GET    /api/v1/summaries      process and system figures (SRS `srs_api_dump_summaries`)
 *   GET    /api/v1/streams        live streams (SRS `SrsStatisticStream::dumps`) + Cascade fields
 *   GET    /api/v1/streams/:id
 *   GET    /api/v1/clients        publishers and players (SRS `SrsStatisticClient::dumps`)
 *   GET    /api/v1/clients/:id
 *   DELETE /api/v1/clients/:id    kick a client (bearer token from `apiTokens`; none = writes off, 403)
 *
 * Success bodies carry SRS's envelope `{code:0, server, service, pid, ...}`; errors are Cascade's
 * `{"code":"UPPER_SNAKE","message"}` with an HTTP status. Codec details come from the cached sequence
 * headers (AVCDecoderConfigurationRecord + SPS, AudioSpecificConfig). Field reference: docs/origin-api.md.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyMemberCredential } from '../common/cluster-credentials';
import { CascadeError } from '../common/errors';
import type { Logger } from '../common/logger';
import { parseAudioSpecificConfig } from '../protocol/mpegts/aac';
import { parseAvcDecoderConfigurationRecord } from '../protocol/mpegts/avc';
import { avcLevelName, avcProfileName, parseSps } from '../origin/sps';

/**
 * One client connection as the API sees it. node-media-server's sessions fit; so can any other
 * media server's (an edge's own fan-out), through a small adapter.
 */
export interface NodeSession {
  id: string;
  /** "address:port" of the peer; "" for sessions created inside the process. */
  ip: string;
  /** "rtmp", "flv", ... */
  protocol: string;
  isPublisher: boolean;
  streamApp: string;
  streamName: string;
  createTime: number;
  inBytes: number;
  outBytes: number;
  close(): void;
}

/** What the API needs from the media server (NmsHost fits structurally). */
export interface NodeMedia {
  sessions(): Iterable<NodeSession>;
  /** The remote publisher and the players of a stream, when the media server tracks them per stream. */
  broadcast(app: string, name: string): { publisher: NodeSession | null; subscribers: Map<string, NodeSession> } | undefined;
  isLive(app: string, name: string): boolean;
  on(event: 'prePlay' | 'donePlay' | 'donePublish', listener: (session: NodeSession) => void): void;
}

function isRemote(s: NodeSession): boolean {
  return s.ip !== '';
}

/** A node whose media server is not (yet) adapted: streams only, no per-client view. */
const NO_MEDIA: NodeMedia = { sessions: () => [], broadcast: () => undefined, isLive: () => true, on: () => undefined };

export const DEFAULT_VHOST = '__defaultVhost__';

/** The config keys the API reads (origin and edge configs both fit). */
export interface NodeApiConfig {
  id: string;
  host: string;
  rtmpPort: number;
  publicHost?: string;
  /** Bearer tokens for writes; empty or absent: writes answer 403. */
  apiTokens?: readonly string[];
}

/**
 * A stream this node serves, as the role knows it. Every own field is also copied into the stream's
 * API object (Cascade extras: `token` at origins; `state`, `upstream`, `hops`, ... at edges).
 */
export interface NodeStreamSource {
  app: string;
  name: string;
  /** ms epoch since the stream is live here. */
  since?: number;
  /** Ingest bytes when no remote publisher session counts them (an edge's upstream pull). */
  bytesIn?: number;
  /** Audio + video frames received, when the role counts them. */
  frames?: number;
  /** Players of the stream, when the media server does not track them per stream. */
  viewers?: number;
  /**
   * Sequence headers as FLV tag bodies (VIDEODATA / AUDIODATA), when the media server does not cache
   * them where the API looks (NMS's broadcast).
   */
  sequenceHeaders?: () => { video?: Buffer | null; audio?: Buffer | null };
}

export interface NodeApiOptions {
  /** The media server's sessions (clients list, kicks, per-stream players and bytes). Absent: streams only. */
  media?: NodeMedia;
  config: NodeApiConfig;
  /** The live streams of this node. */
  streams: () => Iterable<NodeStreamSource>;
  log?: Logger;
  /** Sampling period of the 30 s rates. Default 5000. */
  sampleEveryMs?: number;
}

export interface VideoInfo {
  codec: string;
  profile: string | null;
  level: string | null;
  width: number;
  height: number;
}

export interface AudioInfo {
  codec: string;
  sample_rate: number;
  channel: number;
  profile: string;
}

/** Stable per stream (the same on every node), so clients and streams can refer to each other. */
export function streamId(app: string, name: string): string {
  return `str-${createHash('sha1').update(`${app}/${name}`).digest('hex').slice(0, 10)}`;
}

/** NMS session ips are "address:port": the address alone. */
export function clientAddress(ip: string): string {
  const m = /^(.*):(\d+)$/.exec(ip);
  return m ? m[1] : ip;
}

// ------------------------------------------------------------------ codec details

/** SRS's codec names (srs_video_codec_id2str / srs_audio_codec_id2str) by FLV codec id. */
const VIDEO_CODECS: Record<number, string> = { 2: 'H263', 3: 'Screen', 4: 'VP6', 5: 'VP6Alpha', 6: 'Screen2', 7: 'H264', 12: 'HEVC', 13: 'AV1' };
const AUDIO_CODECS: Record<number, string> = { 0: 'LinearPCMPlatformEndian', 1: 'ADPCM', 2: 'MP3', 3: 'LinearPCMLittleEndian', 4: 'Nellymoser16kHzMono', 5: 'Nellymoser8kHzMono', 6: 'Nellymoser', 7: 'ReservedG711AlawLogarithmicPCM', 8: 'ReservedG711MuLawLogarithmicPCM', 10: 'AAC', 11: 'Speex', 13: 'Opus', 14: 'ReservedMP3_8kHz' };
const EX_FOURCC: Record<string, string> = { avc1: 'H264', hvc1: 'HEVC', av01: 'AV1', vp09: 'VP9' };
/** srs_aac_object2str by audioObjectType. */
const AAC_OBJECTS: Record<number, string> = { 1: 'Main', 2: 'LC', 3: 'SSR', 5: 'HE', 29: 'HEv2' };
/** FLV SoundRate (2 bits) for non-AAC audio. */
const FLV_SOUND_RATES = [5512, 11025, 22050, 44100];

/** `VIDEODATA` of a sequence header tag → SRS's video object; null when unknown or unparsable. */
export function videoInfo(tag: Buffer | null | undefined): VideoInfo | null {
  if (!tag || tag.length < 2) return null;
  if (tag[0] & 0x80) {
    // Enhanced RTMP: IsExHeader | FrameType(3) | PacketType(4), FourCC.
    const fourcc = tag.length >= 5 ? tag.subarray(1, 5).toString('latin1') : '';
    return { codec: EX_FOURCC[fourcc] ?? 'Other', profile: null, level: null, width: 0, height: 0 };
  }
  const codecId = tag[0] & 0x0f;
  const codec = VIDEO_CODECS[codecId] ?? 'Other';
  if (codecId !== 7 || tag[1] !== 0 || tag.length < 6) return { codec, profile: 'Other', level: 'Other', width: 0, height: 0 };
  try {
    const cfg = parseAvcDecoderConfigurationRecord(tag.subarray(5));
    const sps = parseSps(cfg.sps[0]);
    return { codec, profile: avcProfileName(sps.profileIdc), level: avcLevelName(sps.levelIdc), width: sps.width, height: sps.height };
  } catch {
    return { codec, profile: 'Other', level: 'Other', width: 0, height: 0 };
  }
}

/** `AUDIODATA` of a sequence header (AAC) or any audio tag → SRS's audio object. */
export function audioInfo(tag: Buffer | null | undefined): AudioInfo | null {
  if (!tag || tag.length < 1) return null;
  const format = tag[0] >> 4;
  const codec = AUDIO_CODECS[format] ?? 'Other';
  const flvChannels = (tag[0] & 0x01) + 1;
  const flvRate = FLV_SOUND_RATES[(tag[0] >> 2) & 0x03];
  if (format !== 10 || tag[1] !== 0 || tag.length < 4) return { codec, sample_rate: flvRate, channel: flvChannels, profile: 'Other' };
  const asc = tag.subarray(2);
  const objectType = asc[0] >> 3;
  try {
    const cfg = parseAudioSpecificConfig(asc);
    return { codec, sample_rate: cfg.sampleRate, channel: cfg.channelConfig, profile: AAC_OBJECTS[objectType] ?? 'Other' };
  } catch {
    return { codec, sample_rate: flvRate, channel: flvChannels, profile: AAC_OBJECTS[objectType] ?? 'Other' };
  }
}

/**
 * node-media-server 4.4.3 caches each stream's sequence headers on its BroadcastServer as whole FLV
 * tags (11-byte header, body, 4-byte PreviousTagSize). Not in its typings: read narrowly here.
 * (Candidate for mediaserver/nms-host.ts: `NmsHost.sequenceHeaders(app, name)`.)
 */
interface CachedHeaders {
  flvVideoHeader?: Buffer | null;
  flvAudioHeader?: Buffer | null;
}

function tagBody(tag: Buffer | null | undefined): Buffer | null {
  if (!tag || tag.length < 15) return null;
  const size = tag.readUIntBE(1, 3);
  return tag.length >= 11 + size ? tag.subarray(11, 11 + size) : null;
}

function cachedHeaders(broadcast: unknown): { video: Buffer | null; audio: Buffer | null } {
  const h = broadcast as CachedHeaders | undefined;
  return { video: tagBody(h?.flvVideoHeader), audio: tagBody(h?.flvAudioHeader) };
}

// ------------------------------------------------------------------ rates and totals

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

function systemCpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ------------------------------------------------------------------ system figures (Linux /proc, best effort)

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function memInfo(): { totalKb: number; ramPercent: number; swapKb: number; swapPercent: number } {
  const fields: Record<string, number> = {};
  for (const line of readProc('/proc/meminfo').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) fields[m[1]] = Number(m[2]);
  }
  const totalKb = fields.MemTotal ?? Math.round(os.totalmem() / 1024);
  const freeKb = fields.MemFree ?? Math.round(os.freemem() / 1024);
  // SRS: RealInUse = MemTotal - MemFree - Buffers - Cached.
  const inUse = totalKb - freeKb - (fields.Buffers ?? 0) - (fields.Cached ?? 0);
  const swapKb = fields.SwapTotal ?? 0;
  return {
    totalKb,
    ramPercent: totalKb > 0 ? round(inUse / totalKb, 4) : 0,
    swapKb,
    swapPercent: swapKb > 0 ? round((swapKb - (fields.SwapFree ?? swapKb)) / swapKb, 4) : 0,
  };
}

function netDevices(): { recv: number; send: number; recvi: number; sendi: number } {
  const out = { recv: 0, send: 0, recvi: 0, sendi: 0 };
  for (const line of readProc('/proc/net/dev').split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const cols = m[2].trim().split(/\s+/).map(Number);
    if (cols.length < 9) continue;
    // SRS counts loopback (and private interfaces) as intranet ("i") bytes.
    if (m[1] === 'lo') {
      out.recvi += cols[0];
      out.sendi += cols[8];
    } else {
      out.recv += cols[0];
      out.send += cols[8];
    }
  }
  return out;
}

function tcpConnections(): { all: number; established: number; timeWait: number; udp: number } {
  const out = { all: 0, established: 0, timeWait: 0, udp: 0 };
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readProc(file).split('\n').slice(1)) {
      const state = line.trim().split(/\s+/)[3];
      if (!state) continue;
      out.all++;
      if (state === '01') out.established++;
      else if (state === '06') out.timeWait++;
    }
  }
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) out.udp += Math.max(0, readProc(file).split('\n').filter((l) => l.trim()).length - 1);
  return out;
}

let versionCache: string | undefined;
function cascadeVersion(): string {
  if (versionCache) return versionCache;
  versionCache = '0.0.0';
  // package.json sits at the repo root: two levels up from dist/mediaserver, one from mediaserver.
  for (const dir of [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cascade' && pkg.version) {
        versionCache = pkg.version;
        break;
      }
    } catch {
      // not here
    }
  }
  return versionCache;
}

// ------------------------------------------------------------------ auth

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * preHandler for write routes: 401 without a valid credential, 403 when the node accepts none (no
 * API tokens and no cluster secret). Accepted: one of `tokens`, or, when the node has the cluster
 * secret, an `admin` member credential (discovery's admin actions forward with one; docs/discovery.md).
 */
export function writeAuth(tokens: readonly string[] | undefined, clusterSecret = ''): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const digests = (tokens ?? []).filter(Boolean).map(digest);
  return async (req, reply) => {
    if (digests.length === 0 && clusterSecret === '') {
      throw new CascadeError('FORBIDDEN', 'API writes are disabled on this node: set apiTokens (CASCADE_API_TOKENS) to enable them');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (m) {
      const given = digest(m[1]);
      let ok = false;
      for (const d of digests) ok = timingSafeEqual(given, d) || ok;
      if (ok) return;
      const member = verifyMemberCredential(clusterSecret, m[1]);
      if (member?.role === 'admin') return;
      if (member) throw new CascadeError('FORBIDDEN', `a ${member.role} credential may not use this route`);
    }
    void reply.header('www-authenticate', 'Bearer');
    throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <token> (one of apiTokens, or an admin credential)');
  };
}

// ------------------------------------------------------------------ the plugin

export interface NodeApi {
  readonly stats: NodeStats;
  /** SRS service id of this process (random, changes on restart). */
  readonly serviceId: string;
  streamViews(): Array<Record<string, unknown>>;
  clientViews(): Array<Record<string, unknown>>;
}

const ListQuery = Type.Object({
  start: Type.Optional(Type.Integer({ minimum: 0 })),
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export function registerNodeApi(app: FastifyInstance, opts: NodeApiOptions): NodeApi {
  const { config } = opts;
  const nms = opts.media ?? NO_MEDIA;
  const log = opts.log ?? (app.log as unknown as Logger);
  const serviceId = randomBytes(4).toString('hex');
  const pid = String(process.pid);
  const stats = new NodeStats(nms, opts.streams, opts.sampleEveryMs);
  const rtmpBase = `rtmp://${config.publicHost || config.host}:${config.rtmpPort}`;
  app.addHook('onClose', async () => stats.close());

  const envelope = (body: Record<string, unknown>): Record<string, unknown> => ({ code: 0, server: config.id, service: serviceId, pid, ...body });

  const streamView = (src: NodeStreamSource): Record<string, unknown> => {
    const st = stats.streamStats(src);
    const b = nms.broadcast(src.app, src.name);
    const headers = src.sequenceHeaders?.() ?? cachedHeaders(b);
    const publisher = b?.publisher && isRemote(b.publisher) ? b.publisher : null;
    const view: Record<string, unknown> = {
      id: streamId(src.app, src.name),
      name: src.name,
      vhost: DEFAULT_VHOST,
      app: src.app,
      tcUrl: `${rtmpBase}/${src.app}`,
      url: `/${src.app}/${src.name}`,
      live_ms: Date.now(),
      clients: st.clients,
      frames: src.frames ?? 0,
      send_bytes: st.sendBytes,
      recv_bytes: st.recvBytes,
      kbps: { recv_30s: st.recvKbps, send_30s: st.sendKbps },
      publish: publisher ? { active: true, cid: publisher.id } : { active: nms.isLive(src.app, src.name) },
      video: videoInfo(headers.video),
      audio: audioInfo(headers.audio),
    };
    // Cascade extras: what the role reports about the stream (never overriding SRS's fields).
    for (const [k, v] of Object.entries(src)) if (!(k in view) && typeof v !== 'function') view[k] = v;
    if (!('viewers' in view)) view.viewers = st.viewers;
    return view;
  };

  const clientView = (s: NodeSession): Record<string, unknown> => {
    const publish = s.isPublisher;
    const type = publish ? 'fmle-publish' : s.protocol === 'rtmp' ? 'rtmp-play' : s.protocol === 'flv' ? 'flv-play' : `${s.protocol}-play`;
    return {
      id: s.id,
      vhost: DEFAULT_VHOST,
      stream: streamId(s.streamApp, s.streamName),
      ip: clientAddress(s.ip),
      pageUrl: '',
      swfUrl: '',
      tcUrl: `${rtmpBase}/${s.streamApp}`,
      url: `/${s.streamApp}/${s.streamName}`,
      name: s.streamName,
      type,
      publish,
      alive: round((Date.now() - s.createTime) / 1000, 3),
      send_bytes: s.outBytes,
      recv_bytes: s.inBytes,
      kbps: stats.clientKbps(s),
      // Cascade extras
      app: s.streamApp,
      protocol: s.protocol,
    };
  };

  const clients = (): NodeSession[] => [...nms.sessions()].filter((s) => isRemote(s) && s.streamApp !== '' && s.streamName !== '');
  const api: NodeApi = {
    stats,
    serviceId,
    streamViews: () => [...opts.streams()].map(streamView),
    clientViews: () => clients().map(clientView),
  };

  const page = <T>(list: T[], q: { start?: number; count?: number }): T[] => list.slice(q.start ?? 0, (q.start ?? 0) + (q.count ?? list.length));

  app.get('/api/v1/summaries', async () => {
    const now = Date.now();
    const mem = memInfo();
    const rss = process.memoryUsage().rss;
    const cpu = stats.cpuUsage();
    const load = os.loadavg();
    const net = netDevices();
    const conns = tcpConnections();
    const bytes = stats.totalBytes();
    const idle = Number(readProc('/proc/uptime').trim().split(/\s+/)[1] ?? 0) || 0;
    const cpus = os.cpus().length;
    return envelope({
      data: {
        ok: true,
        now_ms: now,
        self: {
          version: cascadeVersion(),
          pid: process.pid,
          ppid: process.ppid,
          // Never argv, cwd or the environment (SRS has `argv` and `cwd`): this route is open, and a
          // secret given as a flag (--publish-secret, --api-tokens, ...) would be public.
          mem_kbyte: Math.round(rss / 1024),
          mem_percent: mem.totalKb > 0 ? round(rss / 1024 / mem.totalKb, 4) : 0,
          cpu_percent: cpu.self,
          srs_uptime: Math.floor((now - stats.startedAt) / 1000),
          // Cascade extra
          node_version: process.version,
        },
        system: {
          cpu_percent: cpu.system,
          disk_read_KBps: 0,
          disk_write_KBps: 0,
          disk_busy_percent: 0,
          mem_ram_kbyte: mem.totalKb,
          mem_ram_percent: mem.ramPercent,
          mem_swap_kbyte: mem.swapKb,
          mem_swap_percent: mem.swapPercent,
          cpus,
          cpus_online: os.availableParallelism(),
          uptime: os.uptime(),
          ilde_time: idle, // sic: SRS's field name
          load_1m: load[0],
          load_5m: load[1],
          load_15m: load[2],
          net_sample_time: now,
          net_recv_bytes: net.recv,
          net_send_bytes: net.send,
          net_recvi_bytes: net.recvi,
          net_sendi_bytes: net.sendi,
          srs_sample_time: now,
          srs_recv_bytes: bytes.in,
          srs_send_bytes: bytes.out,
          conn_sys: conns.all,
          conn_sys_et: conns.established,
          conn_sys_tw: conns.timeWait,
          conn_sys_udp: conns.udp,
          conn_srs: clients().length,
        },
      },
    });
  });

  app.get<{ Querystring: { start?: number; count?: number } }>('/api/v1/streams', { schema: { querystring: ListQuery } }, async (req) =>
    envelope({ streams: page(api.streamViews(), req.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/streams/:id', { schema: { params: IdParams } }, async (req, reply) => {
    const src = [...opts.streams()].find((s) => streamId(s.app, s.name) === req.params.id);
    if (!src) return reply.status(404).send({ code: 'STREAM_NOT_FOUND', message: `no live stream with id ${req.params.id} on this node` });
    return envelope({ stream: streamView(src) });
  });

  app.get<{ Querystring: { start?: number; count?: number } }>('/api/v1/clients', { schema: { querystring: ListQuery } }, async (req) =>
    envelope({ clients: page(api.clientViews(), req.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/clients/:id', { schema: { params: IdParams } }, async (req, reply) => {
    const s = clients().find((c) => c.id === req.params.id);
    if (!s) return reply.status(404).send({ code: 'NOT_FOUND', message: `no client ${req.params.id} on this node` });
    return envelope({ client: clientView(s) });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/clients/:id', { schema: { params: IdParams }, preHandler: writeAuth(config.apiTokens) }, async (req, reply) => {
    const s = clients().find((c) => c.id === req.params.id);
    if (!s) return reply.status(404).send({ code: 'NOT_FOUND', message: `no client ${req.params.id} on this node` });
    log.info({ session: s.id, stream: `${s.streamApp}/${s.streamName}`, publisher: s.isPublisher, ip: clientAddress(s.ip) }, 'client kicked by API');
    s.close();
    // NMS's RTMP close() only half-closes: a client that ignores it is cut off.
    const sock = (s as { socket?: Socket }).socket;
    if (sock && !sock.destroyed) {
      const t = setTimeout(() => sock.destroy(), 2000);
      t.unref();
      sock.once('close', () => clearTimeout(t));
    }
    return envelope({});
  });

  return api;
}
