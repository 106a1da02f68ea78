import net from 'node:net';
import { newAmfObject, type AmfValue } from '../../protocol/amf0';
import { ChunkReader } from '../../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { ServerHandshake } from '../../protocol/rtmp/handshake';
import type { MediaMessage } from '../../protocol/media';
import { command, dataMessage, parseCommand, type RtmpMessage } from '../../protocol/rtmp/message';

/** An AMF0 object from plain entries. */
export const amfObject = (entries: Record<string, AmfValue>) => Object.assign(newAmfObject(), entries);

/**
 * A scriptable in-process RTMP server built from our codecs: handshake, `connect` and
 * `createStream` are answered; every other command goes to `onCommand`. For edge and gateway tests
 * that need an "origin" which does one thing (redirect, accept publishes, ask to reconnect).
 */
export abstract class ScriptedRtmpServer {
  readonly server = net.createServer((socket) => this.onSocket(socket));
  protected readonly sockets = new Map<net.Socket, ChunkWriter>();

  async listen(host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, host, r));
    return `rtmp://${host}:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets.keys()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The client connected to `app`. */
  protected onConnect(_socket: net.Socket, _app: string): void {}

  /** A message that is not an AMF0 command (audio, video, data, control): ignored unless overridden. */
  protected onMessage(_socket: net.Socket, _msg: RtmpMessage): void {}

  /** A command other than connect / createStream. */
  protected abstract onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void;

  private onSocket(socket: net.Socket): void {
    const writer = new ChunkWriter();
    this.sockets.set(socket, writer);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    serveRtmpSocket(socket, (msg) => {
      if (msg.type !== 20) {
        this.onMessage(socket, msg);
        return;
      }
      const cmd = parseCommand(msg);
      if (cmd.name === 'connect') {
        const obj = cmd.commandObject;
        this.onConnect(socket, obj !== null && typeof obj === 'object' && 'app' in obj && typeof obj.app === 'string' ? obj.app : '');
        socket.write(writer.write(command('_result', cmd.transactionId, newAmfObject(), amfObject({ level: 'status', code: 'NetConnection.Connect.Success' }))));
      } else if (cmd.name === 'createStream') {
        socket.write(writer.write(command('_result', cmd.transactionId, null, 1)));
      } else {
        this.onCommand(socket, writer, cmd);
      }
    });
  }
}

/**
 * The server side of one test RTMP connection: answers the handshake (our ServerHandshake), then
 * hands every message the chunk stream carries to `onMessage`. Bytes that break the handshake or
 * the chunk stream, or a throwing handler, destroy the socket.
 */
export function serveRtmpSocket(socket: net.Socket, onMessage: (msg: RtmpMessage) => void): void {
  const handshake = new ServerHandshake();
  const reader = new ChunkReader();
  let ready = false;
  socket.on('data', (data: Buffer) => {
    try {
      let bytes: Buffer | undefined = data;
      if (!ready) {
        const step = handshake.push(data);
        if (step.out) socket.write(step.out);
        if (!step.done) return;
        ready = true;
        bytes = step.rest;
      }
      if (!bytes || bytes.length === 0) return;
      for (const msg of reader.push(bytes)) onMessage(msg);
    } catch {
      socket.destroy();
    }
  });
}

/**
 * An RTMP "origin" that answers every play with the SRS 302 redirect (`onStatus` error
 * `NetConnection.Connect.Rejected` with `ex.code` 302 and `ex.redirect`) to `redirectTo()`: for
 * redirect loops, hop limits and allowlists in edge tests.
 */
export class RedirectingOrigin extends ScriptedRtmpServer {
  plays = 0;

  constructor(private readonly redirectTo: () => string) {
    super();
  }

  protected onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void {
    if (cmd.name !== 'play') return;
    this.plays++;
    const target = this.redirectTo();
    const ex = amfObject({ code: 302, redirect: target, redirect2: target });
    const info = amfObject({ level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex });
    socket.write(writer.write({ ...command('onStatus', 0, null, info), streamId: 0, csid: 5 }));
  }
}

/**
 * Synthetic FLV bodies our classifiers understand (protocol/flv.ts; not decodable video): the
 * 4 bytes after the 5-byte AVC header carry `origin << 24 | frame number`, so a test can tell
 * which upstream a frame came from and in which order.
 */
export const synth = {
  metadata: (ts = 0): RtmpMessage => ({ ...dataMessage('@setDataFrame', 'onMetaData', amfObject({ width: 320, height: 240 })), streamId: 1, timestamp: ts }),
  /** FLV VIDEODATA: keyframe | AVC (0x17), AVCPacketType 0 = sequence header. */
  avcHeader: (ts = 0): RtmpMessage => ({ type: 9, streamId: 1, timestamp: ts, payload: Buffer.from('1700000000014d401effe1', 'hex') }),
  /** FLV AUDIODATA: AAC (0xaf), AACPacketType 0 = sequence header. */
  aacHeader: (ts = 0): RtmpMessage => ({ type: 8, streamId: 1, timestamp: ts, payload: Buffer.from('af001190', 'hex') }),
  frame: (ts: number, key: boolean, origin: number, n: number, size = 64): RtmpMessage => {
    const payload = Buffer.alloc(9 + size, 7);
    payload.writeUInt32BE(key ? 0x17010000 : 0x27010000, 0); // frame type, AVCPacketType 1 (NALU), CTS 0
    payload[4] = 0;
    payload.writeUInt32BE(((origin & 0xff) << 24) | (n & 0xffffff), 5);
    return { type: 9, streamId: 1, timestamp: ts, payload };
  },
  audio: (ts: number): RtmpMessage => ({ type: 8, streamId: 1, timestamp: ts, payload: Buffer.from('af01210049', 'hex') }),
};

/** Which origin (`origin` of `synth.frame`) and frame number a synthetic video frame carries. */
export function frameId(msg: MediaMessage): { origin: number; n: number; key: boolean } | null {
  if (msg.type !== 9 || msg.payload.length < 9 || msg.payload[1] !== 1) return null;
  const v = msg.payload.readUInt32BE(5);
  return { origin: v >>> 24, n: v & 0xffffff, key: msg.payload[0] >> 4 === 1 };
}

export interface MediaOriginOptions {
  /** Tag written into every frame (see `frameId`). */
  id: number;
  /** First timestamp this origin sends (its own clock). Default 0. */
  startTs?: number;
  /** A frame (video + audio) every this many ms. Default 20. */
  frameMs?: number;
  /** Frames per GOP. Default 10. */
  gop?: number;
  /** Bytes of each video frame's body. Default 64. */
  frameBytes?: number;
  /** Streams it has (`app/name`); others get NetStream.Play.StreamNotFound. Default: every stream. */
  has?: (path: string) => boolean;
}

/**
 * An RTMP "origin" that plays a synthetic live stream: Play.Start, then metadata, sequence headers
 * and a frame every `frameMs` (a keyframe every `gop` frames, starting with one), per player.
 */
export class MediaOrigin extends ScriptedRtmpServer {
  /** Every play: `app/name?query`. */
  readonly plays: string[] = [];
  private readonly timers = new Map<net.Socket, NodeJS.Timeout>();
  private readonly apps = new Map<net.Socket, string>();

  constructor(readonly opts: MediaOriginOptions) {
    super();
  }

  get players(): number {
    return this.timers.size;
  }

  /** Closes every player connection (an origin crash as its players see it). */
  dropPlayers(): void {
    for (const s of this.timers.keys()) s.destroy();
  }

  override async close(): Promise<void> {
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
    await super.close();
  }

  protected onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void {
    if (cmd.name !== 'play') return;
    const nameWithQuery = String(cmd.args[0]);
    const path = `${this.apps.get(socket) ?? 'live'}/${nameWithQuery.split('?')[0]}`;
    this.plays.push(`${this.apps.get(socket) ?? 'live'}/${nameWithQuery}`);
    const status = (level: string, code: string): void => {
      socket.write(writer.write({ ...command('onStatus', 0, null, amfObject({ level, code, description: code })), streamId: 1, csid: 5 }));
    };
    if (this.opts.has && !this.opts.has(path)) return status('error', 'NetStream.Play.StreamNotFound');
    status('status', 'NetStream.Play.Start');
    const frameMs = this.opts.frameMs ?? 20;
    const gop = this.opts.gop ?? 10;
    let n = 0;
    let ts = this.opts.startTs ?? 0;
    const send = (msg: RtmpMessage): void => {
      if (!socket.destroyed) socket.write(writer.write(msg));
    };
    send(synth.metadata(ts));
    send(synth.avcHeader(ts));
    send(synth.aacHeader(ts));
    const tick = (): void => {
      send(synth.frame(ts, n % gop === 0, this.opts.id, n, this.opts.frameBytes));
      send(synth.audio(ts));
      n++;
      ts += frameMs;
    };
    tick();
    this.timers.set(socket, setInterval(tick, frameMs));
    socket.once('close', () => {
      clearInterval(this.timers.get(socket));
      this.timers.delete(socket);
    });
  }

  protected override onConnect(socket: net.Socket, app: string): void {
    this.apps.set(socket, app);
    socket.once('close', () => this.apps.delete(socket));
  }
}

/** One publish an origin took: the name it was published under and the media it received, in order. */
export interface ReceivedPublish {
  name: string;
  media: RtmpMessage[];
  socket: net.Socket;
  closed: boolean;
}

/**
 * An RTMP "origin" that accepts every publish (or refuses with Publish.BadName when `refuse` says
 * so), records the media of each, and can ask its publishers to move (E-RTMP ReconnectRequest) or
 * drop them (a shed or crash as the pusher sees it).
 */
export class PublishOrigin extends ScriptedRtmpServer {
  readonly publishes: ReceivedPublish[] = [];
  refuse = false;
  private readonly bySocket = new Map<net.Socket, { writer: ChunkWriter; publish: ReceivedPublish }>();

  /** Publishes whose connection is still open. */
  get open(): ReceivedPublish[] {
    return this.publishes.filter((p) => !p.closed);
  }

  /** Sends every open publisher `onStatus` NetConnection.Connect.ReconnectRequest (stream 0), with `tcUrl` when given. */
  reconnect(tcUrl?: string): void {
    const info = amfObject({ level: 'status', code: 'NetConnection.Connect.ReconnectRequest', description: 'move', ...(tcUrl ? { tcUrl } : {}) });
    for (const [socket, { writer }] of this.bySocket) socket.write(writer.write(command('onStatus', 0, null, info)));
  }

  dropPublishers(): void {
    for (const socket of this.bySocket.keys()) socket.destroy();
  }

  protected override onMessage(socket: net.Socket, msg: RtmpMessage): void {
    if (msg.type === 8 || msg.type === 9 || msg.type === 18) this.bySocket.get(socket)?.publish.media.push(msg);
  }

  protected onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void {
    if (cmd.name !== 'publish') return;
    const status = (level: string, code: string): void => {
      socket.write(writer.write({ ...command('onStatus', 0, null, amfObject({ level, code, description: code })), streamId: 1, csid: 5 }));
    };
    if (this.refuse) return status('error', 'NetStream.Publish.BadName');
    const publish: ReceivedPublish = { name: String(cmd.args[0]), media: [], socket, closed: false };
    this.publishes.push(publish);
    this.bySocket.set(socket, { writer, publish });
    socket.once('close', () => {
      publish.closed = true;
      this.bySocket.delete(socket);
    });
    status('status', 'NetStream.Publish.Start');
  }
}

/** Answers connect and createStream, never play: a pull that waits for media until its deadline. */
export class SilentOrigin extends ScriptedRtmpServer {
  /** Connections open now. */
  get open(): number {
    return this.sockets.size;
  }

  protected onCommand(): void {}
}
