import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Context from 'node-media-server/src/core/context.js';
import NodeRtmpServer from 'node-media-server/src/server/rtmp_server.js';
import NodeHttpServer from 'node-media-server/src/server/http_server.js';
import BroadcastServer from 'node-media-server/src/server/broadcast_server.js';
import BaseSession from 'node-media-server/src/session/base_session.js';
import RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import type FlvSession from 'node-media-server/src/session/flv_session.js';
import Flv from 'node-media-server/src/protocol/flv.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import { redactText, redactUrl, type Logger } from '../common/logger';
import { newAmfObject, type AmfObject } from '../protocol/amf0';
import { FLV_TAG_HEADER_SIZE, readFlvTagAt } from '../protocol/flv';
import type { MediaMessage } from '../protocol/media';
import { ChunkWriter } from '../protocol/rtmp/chunk-writer';
import { answerFourCcList } from '../protocol/rtmp/fourcc';
import { command, type RtmpMessage } from '../protocol/rtmp/message';
import { UserControlEvent } from '../protocol/rtmp/constants';
import { emptyStats, GuardedRtmpConnection, type HardeningStats } from './guarded-connection';
import { isServableName } from './rtmp-guard';
import { classifyFlvBuffer, classifyRtmpBuffer, ViewerQueue } from './viewer-queue';
import { nmsPacketFlags } from './nms-packet-flags';
import { ConnectionLimiter, LogThrottle, clientIp, type ConnectionRefusal } from '../common/limits';
import { HttpConnectionGuard } from './http-limits';
import { CONNECTION_LIMIT_DEFAULTS } from './limits-config';
import { hasRequestBody, sendJson } from '../common/http-reply';

export type { BaseSession, RtmpSession, HardeningStats };

/** The node-media-server events Cascade listens to (all fire after NMS already answered the client). */
export type NmsEvent = 'prePlay' | 'donePlay' | 'prePublish' | 'donePublish';

/**
 * Decides what happens to `GET /app/name.flv` before node-media-server sees it.
 * Return true to let NMS serve the stream; otherwise the gate has answered.
 */
export type FlvGate = (req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string) => Promise<boolean>;

export interface NmsHostOptions {
  host: string;
  rtmpPort: number;
  httpPort: number;
  logger: Logger;
  /** Hardening limits (docs/hardening.md); every one has a default (NMS_HOST_DEFAULTS). */
  handshakeTimeoutMs?: number;
  connectTimeoutMs?: number;
  publishIdleTimeoutMs?: number;
  maxCommandMessageSize?: number;
  maxMediaMessageSize?: number;
  maxBufferedBytes?: number;
  viewerMaxQueueBytes?: number;
  viewerMaxLagMs?: number;
  endViewersOnUnpublish?: boolean;
  /** Connection caps per listener (RTMP, HTTP) and HTTP timeouts (mediaserver/limits-config.ts). */
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  httpHeadersTimeoutMs?: number;
  httpRequestTimeoutMs?: number;
}

/** Connections refused by the caps, per listener and reason (cascade_connections_refused_total). */
export interface ConnectionRefusals {
  listener: 'rtmp' | 'http';
  reason: ConnectionRefusal;
  count: number;
}

export type NmsHostLimits = Required<Omit<NmsHostOptions, 'host' | 'rtmpPort' | 'httpPort' | 'logger'>>;

/** Defaults of the hardening limits. */
export const NMS_HOST_DEFAULTS: NmsHostLimits = {
  /** TCP accept → handshake complete. */
  handshakeTimeoutMs: 5000,
  /** Handshake → `connect`, and `connect` → `play` / `publish`. */
  connectTimeoutMs: 10_000,
  /** `publish` → first media, and the longest gap between media messages of a publisher. */
  publishIdleTimeoutMs: 10_000,
  /** Largest RTMP command / data message. */
  maxCommandMessageSize: 1024 * 1024,
  /** Largest RTMP audio / video message, and the largest length a chunk header may declare. */
  maxMediaMessageSize: 8 * 1024 * 1024,
  /** Most bytes one RTMP connection may hold in incomplete messages (all chunk streams). */
  maxBufferedBytes: 16 * 1024 * 1024,
  /** A viewer's socket backlog above which whole GOPs are dropped (size it above one GOP). */
  viewerMaxQueueBytes: 2 * 1024 * 1024,
  /** A viewer dropping (behind) for longer than this is disconnected. */
  viewerMaxLagMs: 10_000,
  /** Viewers get end-of-stream when a (remote) publisher leaves. */
  endViewersOnUnpublish: true,
  ...CONNECTION_LIMIT_DEFAULTS,
};

/** After end-of-stream, how long a viewer has to read it before its socket is destroyed. */
const END_OF_STREAM_GRACE_MS = 5000;

const FLV_PATH = /^\/([^/?]+)\/([^/?]+)\.flv(\?.*)?$/;
let instances = 0;

/** Whether a session came from the network (NMS gives in-process sessions an empty ip). */
export function isRemote(session: BaseSession): boolean {
  return session.ip !== '';
}

export function isRtmpSession(session: BaseSession): session is RtmpSession {
  return session.protocol === 'rtmp';
}

/**
 * A typed adapter around node-media-server 4.4.3. NMS keeps its state in a
 * process-wide singleton (Context), so there is one NmsHost per process.
 *
 * We use NMS for what it does well (RTMP server sessions, HTTP-FLV muxing, the
 * per-stream broadcast with GOP cache) and wrap the rest:
 * - its listeners are opened by us, so a bad port is an error, not `process.exit`;
 * - its HTTP server is handed to fastify (serverFactory), and FLV requests pass
 *   through a gate first (302 / 404 / 503) — NMS alone would answer 200 and wait forever;
 * - HTTP-FLV POST publishing and WebSocket-FLV are refused (they bypass leases), and FLV paths
 *   with names NMS cannot serve answer 400 (NMS's FLV session crashes the process on them);
 * - every RTMP connection gets an RTMP guard in front of NMS's parser (mediaserver/rtmp-guard.ts:
 *   NMS only sees validated, re-encoded, complete messages) and idle timeouts;
 * - every remote viewer gets a bounded queue (whole-GOP drops, lag disconnect) in front of its
 *   sendBuffer, and end-of-stream when the publisher leaves;
 * - its console logger is routed into pino.
 * docs/hardening.md has the details, the limits and their defaults.
 */
export class NmsHost {
  private readonly rtmpServer: NodeRtmpServer;
  private readonly httpServer: NodeHttpServer;
  private readonly log: Logger;
  private readonly writer = new ChunkWriter();
  private readonly limits: NmsHostLimits;
  private readonly counters: HardeningStats = emptyStats();
  private readonly rtmpLimiter: ConnectionLimiter;
  private readonly rtmpRefusedLog = new LogThrottle();
  private httpGuard?: HttpConnectionGuard;
  private stopped = false;

  constructor(private readonly opts: NmsHostOptions) {
    if (instances++ > 0) throw new Error('node-media-server keeps process-wide state: one NmsHost per process');
    this.log = opts.logger.child({ component: 'nms' });
    const given = Object.fromEntries(
      Object.keys(NMS_HOST_DEFAULTS).flatMap((k) => (opts[k as keyof NmsHostLimits] === undefined ? [] : [[k, opts[k as keyof NmsHostLimits]]])),
    ) as Partial<NmsHostLimits>;
    this.limits = { ...NMS_HOST_DEFAULTS, ...given };
    this.rtmpLimiter = new ConnectionLimiter(this.limits);
    routeNmsLogs(this.log);
    Context.config = {
      bind: opts.host,
      rtmp: { port: opts.rtmpPort },
      http: { port: opts.httpPort },
      webadmin: { enable: false },
    };
    this.rtmpServer = new NodeRtmpServer();
    this.httpServer = new NodeHttpServer();
    // Registered before any NmsHost.on() listener: prePlay fires before NMS sends the viewer anything.
    Context.eventEmitter.on('prePlay', (session: BaseSession) => this.installViewerQueue(session));
    Context.eventEmitter.on('donePublish', (session: BaseSession) => {
      if (!isRemote(session) || !this.limits.endViewersOnUnpublish) return;
      const n = this.endViewers(session.streamApp, session.streamName);
      if (n > 0) this.log.info({ stream: `${session.streamApp}/${session.streamName}`, viewers: n }, 'publisher left: viewers sent end-of-stream');
    });
  }

  /** Process-wide hardening counters (rejections, timeouts, dropped GOPs, lag disconnects). */
  stats(): HardeningStats {
    return { ...this.counters };
  }

  /** Connections refused by the caps since start (RTMP and HTTP listeners). */
  connectionRefusals(): ConnectionRefusals[] {
    const out: ConnectionRefusals[] = [];
    const add = (listener: 'rtmp' | 'http', refused: Record<ConnectionRefusal, number> | undefined): void => {
      for (const [reason, count] of Object.entries(refused ?? {})) out.push({ listener, reason: reason as ConnectionRefusal, count });
    };
    add('rtmp', this.rtmpLimiter.refused);
    add('http', this.httpGuard?.refusals);
    return out;
  }

  /** Subscribe to an NMS session event; sessions without a peer address (NMS's in-process ones) are filtered out. */
  on(event: NmsEvent, listener: (session: BaseSession) => void): void {
    Context.eventEmitter.on(event, (session: BaseSession) => {
      if (!isRemote(session)) return;
      try {
        listener(session);
      } catch (err) {
        this.log.error({ err, event, session: session.id }, 'session event handler failed');
        session.close();
      }
    });
  }

  /**
   * For `fastify({ serverFactory })`: returns NMS's HTTP server with its request
   * listener replaced by a dispatcher (FLV paths → gate → NMS; the rest → fastify).
   */
  serverFactory(gate: FlvGate): (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server {
    return (fastifyHandler) => {
      const server = this.httpServer.httpServer;
      if (!server) throw new Error('NMS created no HTTP server (http port unset)');
      const nmsHandler = server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
      server.removeAllListeners('request');
      server.removeAllListeners('error');
      server.removeAllListeners('upgrade');
      const guard = (this.httpGuard = new HttpConnectionGuard(server, this.limits, this.log.child({ component: 'http-limits' })));
      server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (guard.handle(req, res)) return;
        const m = FLV_PATH.exec(req.url ?? '');
        if (!m) return fastifyHandler(req, res);
        // Browser players (mpegts.js) read the stream and the error answers cross-origin.
        res.setHeader('Access-Control-Allow-Origin', '*');
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'HTTP-FLV is play-only here; publish over RTMP' });
          return;
        }
        // A play request has no body. NMS would feed one to a per-viewer FLV parser that allocates
        // whatever a tag header declares (up to 16 MiB each): refuse it, and close the connection.
        if (hasRequestBody(req)) {
          sendJson(res, 400, { code: 'BAD_REQUEST', message: 'HTTP-FLV play requests carry no body' }, { Connection: 'close' });
          return;
        }
        const [, rawApp, rawName, query] = m;
        const app = safeDecode(rawApp);
        const name = safeDecode(rawName);
        // NMS's FLV session crashes the process on names outside its pattern (`/live/ba%20d.flv`).
        if (!isServableName(app) || !isServableName(name)) {
          sendJson(res, 400, { code: 'BAD_REQUEST', message: 'invalid app or stream name' });
          return;
        }
        gate(req, res, app, name, query ?? '').then(
          (pass) => {
            if (pass && !res.headersSent) {
              res.setHeader('Content-Type', 'video/x-flv');
              nmsHandler(req, res);
            }
          },
          (err: unknown) => {
            this.log.error({ err, url: redactUrl(req.url ?? '') }, 'flv gate failed');
            if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL', message: 'internal error' });
          },
        );
      });
      return server;
    };
  }

  async start(): Promise<void> {
    const tcp = this.rtmpServer.tcpServer;
    if (!tcp) throw new Error('NMS created no RTMP server (rtmp port unset)');
    // NMS's own 'connection' listener (handleRequest) is called by ours, which puts the guard in front.
    tcp.removeAllListeners('connection');
    tcp.on('connection', (socket: Socket) => this.acceptRtmp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.opts.rtmpPort, this.opts.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.log.error({ err }, 'rtmp listener error'));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const session of Context.sessions.values()) session.close();
    this.rtmpServer.stop();
  }

  /** A new RTMP connection: NMS creates its session, then the guard becomes the socket's only reader. */
  private acceptRtmp(socket: Socket): void {
    const refusal = this.rtmpLimiter.admit(socket);
    if (refusal) {
      this.counters.rtmpConnectionsRefused++;
      this.rtmpRefusedLog.warn(this.log, { ip: clientIp(socket), reason: refusal, open: this.rtmpLimiter.open }, 'rtmp connection refused: over the connection cap');
      socket.destroy();
      return;
    }
    this.counters.rtmpConnections++;
    try {
      this.rtmpServer.handleRequest(socket);
    } catch (err) {
      this.log.error({ err }, 'rtmp session setup failed');
      socket.destroy();
      return;
    }
    let session: RtmpSession | undefined;
    for (const s of Context.sessions.values()) if (isRtmpSession(s) && s.socket === socket) session = s;
    if (!session) {
      socket.destroy();
      return;
    }
    const rtmpSession = session;
    const nmsData = session.onData;
    socket.removeListener('data', nmsData);
    // NMS mis-files some Enhanced RTMP tags in its header / GOP caches: correct their flags first.
    const rtmp = session.rtmp;
    const nmsPacket = rtmp.onPacketCallback;
    rtmp.onPacketCallback = (p) => {
      p.flags = nmsPacketFlags(p.codec_type, p.data.subarray(0, p.size), p.flags);
      nmsPacket(p);
    };
    // Rtmp's constructor allocates a 1 MiB FLV parser it never uses for RTMP: let it go.
    (session.rtmp as unknown as { flv?: unknown }).flv = undefined;
    const guarded = new GuardedRtmpConnection(
      socket,
      session,
      nmsData,
      this.limits,
      {
        maxCommandMessageSize: this.limits.maxCommandMessageSize,
        maxMediaMessageSize: this.limits.maxMediaMessageSize,
        maxBufferedBytes: this.limits.maxBufferedBytes,
      },
      this.opts.logger.child({ component: 'rtmp-guard' }),
      this.counters,
      (app, name) => (this.broadcast(app, name)?.publisher ? `${app}/${name} is already being published` : null),
      (msg) => deliverMediaToNms(rtmpSession, msg),
    );
    this.answerFourCcList(session, () => guarded.guard.fourCcList);
  }

  /**
   * NMS 4.4.3 ignores an E-RTMP `fourCcList` in connect (it passes HEVC / AV1 / VP9 / Opus through
   * but never says so). A client that sent one gets our connect `_result` instead of NMS's: the
   * same fields plus `fourCcList` with what passes through (protocol/rtmp/fourcc.ts).
   */
  private answerFourCcList(session: RtmpSession, asked: () => string[] | null): void {
    const rtmp = session.rtmp;
    const nmsRespond = rtmp.respondConnect.bind(rtmp);
    rtmp.respondConnect = (tid: number) => {
      const list = asked();
      if (!list || !session.socket.writable) return nmsRespond(tid);
      const props = Object.assign(newAmfObject(), { fmsVer: 'FMS/3,0,1,123', capabilities: 31, fourCcList: answerFourCcList(list) });
      const info = Object.assign(newAmfObject(), { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: rtmp.objectEncoding });
      // NMS sent Set Chunk Size (outChunkSize) just before; its invokes go on chunk stream 3, stream 0.
      this.writer.chunkSize = rtmp.outChunkSize;
      session.socket.write(this.writer.write({ ...command('_result', tid, props, info), streamId: 0, csid: 3 }));
    };
  }

  /** Puts a bounded queue (whole-GOP drops, lag disconnect) in front of a remote viewer's sendBuffer. */
  private installViewerQueue(session: BaseSession): void {
    if (!isRemote(session)) return;
    const send = session.sendBuffer;
    const log = this.opts.logger.child({ component: 'viewer-queue', session: session.id, stream: `${session.streamApp}/${session.streamName}` });
    let queue: ViewerQueue;
    const opts = { maxQueueBytes: this.limits.viewerMaxQueueBytes, maxLagMs: this.limits.viewerMaxLagMs };
    const onChange = (event: 'dropping' | 'resumed' | 'disconnected'): void => {
      if (event === 'dropping') log.debug('viewer behind: dropping whole GOPs');
      if (event === 'disconnected') {
        this.counters.viewerLagDisconnects++;
        log.warn({ gopsDropped: queue.stats.gopsDropped, framesDropped: queue.stats.framesDropped }, 'viewer lagging: disconnected');
      }
    };
    const count = (before: { g: number; f: number; b: number }): void => {
      this.counters.viewerGopsDropped += queue.stats.gopsDropped - before.g;
      this.counters.viewerFramesDropped += queue.stats.framesDropped - before.f;
      this.counters.viewerBytesDropped += queue.stats.bytesDropped - before.b;
    };
    if (isRtmpSession(session)) {
      const socket = session.socket;
      queue = new ViewerQueue(classifyRtmpBuffer, { writableLength: () => socket.writableLength, write: send, destroy: () => socket.destroy() }, opts, onChange);
    } else if (session.protocol === 'flv') {
      const flv = session as FlvSession;
      // NMS gives every FLV session a 1 MiB tag parser, used only for request bodies (refused above).
      const parser = (flv as unknown as { flv?: { parserTagData: Buffer; parserTagCapacity: number } }).flv;
      if (parser) {
        parser.parserTagData = Buffer.alloc(0);
        parser.parserTagCapacity = 0;
      }
      const res = flv.res;
      if (!isServerResponse(res)) return;
      queue = new ViewerQueue(classifyFlvBuffer, { writableLength: () => res.writableLength, write: send, destroy: () => res.destroy() }, opts, onChange);
    } else {
      return;
    }
    session.sendBuffer = (buf: Buffer) => {
      const before = { g: queue.stats.gopsDropped, f: queue.stats.framesDropped, b: queue.stats.bytesDropped };
      queue.offer(buf);
      count(before);
    };
  }

  /**
   * End-of-stream for every viewer of app/name: RTMP `NetStream.Play.UnpublishNotify` + StreamEOF
   * then close; HTTP-FLV response ended. Returns how many viewers were ended.
   */
  endViewers(app: string, name: string): number {
    const broadcast = this.broadcast(app, name);
    if (!broadcast) return 0;
    const viewers = [...broadcast.subscribers.values()];
    for (const s of viewers) endOfStream(s);
    this.counters.viewersEnded += viewers.length;
    return viewers.length;
  }

  broadcast(app: string, name: string): BroadcastServer | undefined {
    return Context.broadcasts.get(`/${app}/${name}`);
  }

  /** A stream is live here when a publisher feeds its broadcast. */
  isLive(app: string, name: string): boolean {
    return this.broadcast(app, name)?.getPublishStatus() === 'publishing';
  }

  sessions(): IterableIterator<BaseSession> {
    return Context.sessions.values();
  }

  /** onStatus on the play/publish stream of an RTMP session (NMS's own encoder). */
  sendStatus(session: RtmpSession, level: 'status' | 'error', code: string, description: string): void {
    if (session.socket.writable) session.rtmp.sendStatusMessage(session.rtmp.streamId, level, code, description);
  }

  /** Raw AMF0 command on message stream 0, chunk stream 5 (the SRS 302 redirect is sent this way). */
  sendCommandOnStream0(session: RtmpSession, name: string, info: AmfObject): void {
    if (!session.socket.writable) return;
    this.writer.chunkSize = session.rtmp.outChunkSize;
    const msg = command(name, 0, null, info);
    session.socket.write(this.writer.write({ ...msg, streamId: 0, csid: 5 }));
  }

  /**
   * Calls `fn` with every media message this publisher sends, after NMS has it.
   * NMS reuses its chunk payload buffer per chunk stream, so the tap gets a copy.
   */
  tapPublisher(session: RtmpSession, tap: { frame(): void; wanted(): boolean; push(msg: MediaMessage): void }): void {
    const forward = session.rtmp.onPacketCallback;
    session.rtmp.onPacketCallback = (p) => {
      forward(p);
      if (p.codec_type === 8 || p.codec_type === 9) tap.frame();
      // NMS reuses its parser buffer: the tap gets a copy, made only when it wants the message.
      if (tap.wanted()) tap.push({ type: p.codec_type, timestamp: p.dts, payload: Buffer.from(p.data.subarray(0, p.size)) });
    };
  }

  /**
   * What a player joining now would be sent first, as media messages: the sequence headers and the
   * GOP cached by node-media-server (its FLV copy), oldest first. The payloads are views into NMS's
   * cached tags, which are never written again. Empty when the stream is not live here.
   */
  gopSnapshot(app: string, name: string): MediaMessage[] {
    const b = this.broadcast(app, name);
    if (!b) return [];
    const tags: Buffer[] = [];
    for (const t of [b.flvMetaData, b.flvAudioHeader, b.flvVideoHeader]) if (t) tags.push(t);
    if (b.flvGopCache) for (const t of b.flvGopCache) tags.push(t);
    const out: MediaMessage[] = [];
    for (const tag of tags) {
      const msg = flvTagMessage(tag);
      if (msg) out.push(msg);
    }
    return out;
  }

  /** Ignore media and metadata a non-publisher sends (NMS would forward a viewer's packets to everyone). */
  dropIncomingMedia(session: RtmpSession): void {
    session.rtmp.onPacketCallback = () => undefined;
  }
}

/**
 * A publisher's audio or video message for NMS as its parser would hand it on (Rtmp.dataHandler)
 * had the message been chunked for it: the bytes it would have read are counted (one fmt-0 chunk:
 * 12-byte header, 4 more with an extended timestamp), then the session's packet callback runs. Saves
 * the chunking, NMS's parse and its copy into the parser buffer; the payload is the guard's own.
 */
export function deliverMediaToNms(session: RtmpSession, msg: RtmpMessage): void {
  const n = 12 + (msg.timestamp >= 0xffffff ? 4 : 0) + msg.payload.length;
  session.inBytes += n;
  Context.networkStats.inBytes += n;
  session.rtmp.onPacketCallback(Flv.parserTag(msg.type, msg.timestamp, msg.payload.length, msg.payload));
}

/** An FLV tag as node-media-server caches it (11-byte header, body, PreviousTagSize), as a message. */
export function flvTagMessage(tag: Buffer): MediaMessage | undefined {
  return tag.length < FLV_TAG_HEADER_SIZE + 4 ? undefined : readFlvTagAt(tag, 0)?.msg;
}

function isServerResponse(res: FlvSession['res']): res is ServerResponse {
  return typeof (res as ServerResponse).writableLength === 'number' && typeof (res as ServerResponse).end === 'function';
}

/** Tells one viewer the stream ended, then closes it (destroyed if it does not read it in time). */
export function endOfStream(session: BaseSession): void {
  if (isRtmpSession(session)) {
    const socket = session.socket;
    if (socket.writable) {
      const sid = session.rtmp.streamId;
      session.rtmp.sendStatusMessage(sid, 'status', 'NetStream.Play.UnpublishNotify', `${session.streamPath} is now unpublished.`);
      session.rtmp.sendStreamStatus(UserControlEvent.StreamEOF, sid);
    }
    socket.end();
    setTimeout(() => socket.destroy(), END_OF_STREAM_GRACE_MS).unref();
    return;
  }
  if (session.protocol === 'flv') {
    const res = (session as FlvSession).res;
    if (isServerResponse(res)) {
      res.end();
      setTimeout(() => res.destroy(), END_OF_STREAM_GRACE_MS).unref();
      return;
    }
  }
  session.close();
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // bad percent-encoding: kept as is; the name check that follows refuses it with a 400
  }
}

function routeNmsLogs(log: Logger): void {
  const levels: Record<string, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    trace: 'trace', debug: 'debug', info: 'debug', warn: 'warn', error: 'warn',
  };
  nmsLogger.level = 'info';
  nmsLogger.log = (message: string, level = 'info') => {
    // NMS's messages are free text that may one day carry a URL with its query: redacted.
    log[levels[level] ?? 'debug']({ nms: true }, redactText(String(message)));
  };
}
