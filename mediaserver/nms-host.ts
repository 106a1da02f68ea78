import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import Context from 'node-media-server/src/core/context.js';
import NodeRtmpServer from 'node-media-server/src/server/rtmp_server.js';
import NodeHttpServer from 'node-media-server/src/server/http_server.js';
import BroadcastServer from 'node-media-server/src/server/broadcast_server.js';
import BaseSession from 'node-media-server/src/session/base_session.js';
import RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import Flv from 'node-media-server/src/protocol/flv.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import type { Logger } from '../common/logger';
import type { AmfObject } from '../protocol/amf0';
import { ChunkWriter } from '../protocol/rtmp/chunk-writer';
import { command } from '../protocol/rtmp/message';

export type { BaseSession, RtmpSession };

/** The node-media-server events Cascade listens to (all fire after NMS already answered the client). */
export type NmsEvent = 'prePlay' | 'donePlay' | 'prePublish' | 'donePublish';

/** One media message as it travels the cluster: an RTMP message whose payload is an FLV tag body. */
export interface MediaPacket {
  type: number;
  timestamp: number;
  payload: Buffer;
}

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
}

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
 *   through a gate first (302 / 404 / edge pull) — NMS alone would answer 200 and wait forever;
 * - HTTP-FLV POST publishing and WebSocket-FLV are refused (they bypass leases);
 * - its console logger is routed into pino.
 */
export class NmsHost {
  private readonly rtmpServer: NodeRtmpServer;
  private readonly httpServer: NodeHttpServer;
  private readonly log: Logger;
  private readonly writer = new ChunkWriter();
  private stopped = false;

  constructor(private readonly opts: NmsHostOptions) {
    if (instances++ > 0) throw new Error('node-media-server keeps process-wide state: one NmsHost per process');
    this.log = opts.logger.child({ component: 'nms' });
    routeNmsLogs(this.log);
    Context.config = {
      bind: opts.host,
      rtmp: { port: opts.rtmpPort },
      http: { port: opts.httpPort },
      webadmin: { enable: false },
    };
    this.rtmpServer = new NodeRtmpServer();
    this.httpServer = new NodeHttpServer();
  }

  /** Subscribe to an NMS session event; in-process sessions (our own injections) are filtered out. */
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
      server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        const m = FLV_PATH.exec(req.url ?? '');
        if (!m) return fastifyHandler(req, res);
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'HTTP-FLV is play-only here; publish over RTMP' });
          return;
        }
        const [, app, name, query] = m;
        gate(req, res, safeDecode(app), safeDecode(name), query ?? '').then(
          (pass) => {
            if (pass && !res.headersSent) {
              res.setHeader('Content-Type', 'video/x-flv');
              nmsHandler(req, res);
            }
          },
          (err: unknown) => {
            this.log.error({ err, url: req.url }, 'flv gate failed');
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

  broadcast(app: string, name: string): BroadcastServer | undefined {
    return Context.broadcasts.get(`/${app}/${name}`);
  }

  /** A stream is live here when a publisher (remote or injected) feeds its broadcast. */
  isLive(app: string, name: string): boolean {
    return this.broadcast(app, name)?.getPublishStatus() === 'publishing';
  }

  sessions(): IterableIterator<BaseSession> {
    return Context.sessions.values();
  }

  /** Feed a stream from inside the process (an edge's upstream pull). */
  inject(app: string, name: string): InjectedStream {
    return new InjectedStream(app, name);
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
  tapPublisher(session: RtmpSession, fn: (msg: MediaPacket) => void): void {
    const forward = session.rtmp.onPacketCallback;
    session.rtmp.onPacketCallback = (p) => {
      forward(p);
      fn({ type: p.codec_type, timestamp: p.dts, payload: Buffer.from(p.data.subarray(0, p.size)) });
    };
  }

  /** Ignore media and metadata a non-publisher sends (NMS would forward a viewer's packets to everyone). */
  dropIncomingMedia(session: RtmpSession): void {
    session.rtmp.onPacketCallback = () => undefined;
  }
}

/** The publisher side of a stream fed from inside the process (no socket). */
export class InjectedStream {
  readonly session: BaseSession;
  private readonly broadcast: BroadcastServer;
  private ended = false;

  constructor(app: string, name: string) {
    const path = `/${app}/${name}`;
    this.session = new BaseSession();
    this.session.protocol = 'relay';
    this.session.streamApp = app;
    this.session.streamName = name;
    this.session.streamPath = path;
    this.broadcast = Context.broadcasts.get(path) ?? new BroadcastServer(path);
    Context.broadcasts.set(path, this.broadcast);
    // The edge decides itself when an upstream is gone; NMS's 30 s resume window would only delay that.
    this.broadcast.publishGraceMs = 0;
    const err = this.broadcast.postPublish(this.session);
    if (err !== null) throw new Error(err);
  }

  push(msg: MediaPacket): void {
    if (this.ended) return;
    this.broadcast.broadcastMessage(Flv.parserTag(msg.type, msg.timestamp, msg.payload.length, msg.payload));
  }

  get viewers(): number {
    return this.broadcast.subscribers.size;
  }

  /** Close every viewer of the stream (end-of-stream for players). */
  closeViewers(): void {
    for (const s of [...this.broadcast.subscribers.values()]) s.close();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.broadcast.donePublish(this.session);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function routeNmsLogs(log: Logger): void {
  const levels: Record<string, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    trace: 'trace', debug: 'debug', info: 'debug', warn: 'warn', error: 'warn',
  };
  nmsLogger.level = 'info';
  nmsLogger.log = (message: string, level = 'info') => {
    log[levels[level] ?? 'debug']({ nms: true }, message);
  };
}
