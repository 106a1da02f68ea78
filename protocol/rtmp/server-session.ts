/**
 * The server side of one RTMP connection, built on our own hardened codecs: the
 * simple handshake (RTMP 1.0 section 5.2), the chunk stream (5.3) with a message
 * size limit and no up-front allocation, strict AMF0 (null-prototype objects,
 * depth limits) and NetConnection / NetStream commands (7.2). Policy (who may play
 * or publish what) belongs to the owner, which answers each `play` / `publish`
 * event with accept or reject. Nothing a peer sends can throw out of this class:
 * protocol errors close the connection and are reported in the 'close' event.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { isAmfObject, newAmfObject, type AmfObject, type AmfValue } from '../amf0';
import { ChunkReader } from './chunk-reader';
import { ChunkWriter } from './chunk-writer';
import { CAPS_EX_RECONNECT, MessageType, UserControlEvent } from './constants';
import { ServerHandshake } from './handshake';
import { answerFourCcList, parseFourCcList } from './fourcc';
import { ack, command, dataMessage, parseCommand, parseUserControl, readU32Body, setChunkSize, setPeerBandwidth, userControl, windowAckSize, type RtmpMessage } from './message';

export interface ServerSessionOptions {
  /** Chunk size we announce and write with; every session uses the same so fan-out can share bytes. */
  chunkSize?: number;
  maxMessageSize?: number;
  /** Most bytes held for incomplete messages across all chunk streams (default 2 × maxMessageSize). */
  maxBufferedBytes?: number;
  /** Smallest Set Chunk Size accepted from the peer (default 128, as SRS; RTMP 1.0 allows 1). */
  minChunkSize?: number;
  /** Most chunk streams with a message in flight at once (default 8, as the origin guard; encoders use < 10 ids). */
  maxChunkStreamsInFlight?: number;
  handshakeTimeoutMs?: number;
  /** From the handshake to a `play`/`publish` command. */
  commandTimeoutMs?: number;
  /** An accepted publisher's first media must come, and media gaps end, within this (default 10 s, as the origin). */
  publishIdleTimeoutMs?: number;
}

export interface StreamRequest {
  app: string;
  /** Stream name without the query. */
  name: string;
  /** `?a=b` or '' */
  query: string;
  tcUrl: string;
  /** The message stream id the client plays / publishes on. */
  streamId: number;
}

export interface ServerSessionEvents {
  play: [req: StreamRequest];
  publish: [req: StreamRequest];
  /** Audio, video and data messages of an accepted publisher. */
  media: [msg: RtmpMessage];
  /** The publisher stopped (deleteStream / FCUnpublish / closeStream), before the socket closes. */
  unpublish: [];
  close: [reason: string];
}

export const SERVER_CHUNK_SIZE = 4096;
/** The only message stream id we hand out: every player and publisher of a connection uses it. */
export const MEDIA_STREAM_ID = 1;
const WINDOW_ACK_SIZE = 2_500_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class RtmpServerSession extends EventEmitter<ServerSessionEvents> {
  readonly id: string;
  readonly remote: string;
  app = '';
  tcUrl = '';
  /** E-RTMP capsEx the client announced in connect (CAPS_EX_RECONNECT = reconnect). */
  capsEx = 0;
  /** E-RTMP fourCcList the client announced in connect (null: none, a legacy client). */
  fourCcList: string[] | null = null;
  role: 'none' | 'player' | 'publisher' = 'none';
  request?: StreamRequest;
  readonly connectedAt = Date.now();
  private readonly handshake = new ServerHandshake();
  private readonly reader: ChunkReader;
  private readonly writer = new ChunkWriter();
  private handshakeDone = false;
  private connected = false;
  private pending = false;
  private closed = false;
  private lastAck = 0;
  private lastMediaAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(readonly socket: Socket, id: string, private readonly opts: ServerSessionOptions = {}) {
    super();
    this.id = id;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.reader = new ChunkReader({
      maxMessageSize: opts.maxMessageSize ?? 8 * 1024 * 1024,
      maxBufferedBytes: opts.maxBufferedBytes,
      minChunkSize: opts.minChunkSize ?? 128,
      maxChunkStreamsInFlight: opts.maxChunkStreamsInFlight ?? 8,
    });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined); // 'close' follows and carries the verdict
    socket.on('close', () => this.close('socket closed'));
    this.arm(opts.handshakeTimeoutMs ?? 5000, 'handshake timeout');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Pre-encoded chunks (shared by many viewers): written as they are. */
  writeRaw(buf: Buffer): void {
    if (!this.closed && this.socket.writable) this.socket.write(buf);
  }

  send(msg: RtmpMessage): void {
    this.writeRaw(this.writer.write(msg));
  }

  status(level: 'status' | 'error', code: string, description: string, streamId = MEDIA_STREAM_ID, extra: AmfObject = newAmfObject()): void {
    const info = Object.assign(newAmfObject(), { level, code, description }, extra);
    this.send({ ...command('onStatus', 0, null, info), streamId, csid: 5 });
  }

  acceptPlay(): void {
    if (!this.request || this.closed) return;
    clearTimeout(this.timer);
    this.pending = false;
    this.role = 'player';
    const sid = this.request.streamId;
    this.send(userControl(UserControlEvent.StreamBegin, sid));
    this.status('status', 'NetStream.Play.Reset', `Playing and resetting ${this.request.name}.`, sid);
    this.status('status', 'NetStream.Play.Start', `Started playing ${this.request.name}.`, sid);
    this.send({ ...dataMessage('|RtmpSampleAccess', false, false), streamId: sid });
  }

  acceptPublish(): void {
    if (!this.request || this.closed) return;
    clearTimeout(this.timer);
    this.pending = false;
    this.role = 'publisher';
    this.lastMediaAt = Date.now();
    this.watchMedia(this.opts.publishIdleTimeoutMs ?? 10_000);
    this.status('status', 'NetStream.Publish.Start', `${this.request.name} is now published.`, this.request.streamId);
  }

  /** Publisher idle timeout: one timer per period (not one per message), re-armed for the time left. */
  private watchMedia(ms: number): void {
    const left = this.lastMediaAt + ms - Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closed || this.role !== 'publisher') return;
      if (Date.now() - this.lastMediaAt >= ms) return this.fail('publisher sent no media in time');
      this.watchMedia(ms);
    }, Math.max(left, 10));
    this.timer.unref();
  }

  /** Refuse a play or publish with an error status, then close (RTMP has no other way to say no). */
  reject(code: string, description: string): void {
    if (this.closed) return;
    this.status('error', code, description, this.request?.streamId ?? 0);
    this.socket.end();
    this.close(`rejected: ${code}`);
  }

  /** End-of-stream for a player: UnpublishNotify + StreamEOF (7.1.7), then close after the bytes drain. */
  endOfStream(description: string): void {
    if (this.closed) return;
    const sid = this.request?.streamId ?? MEDIA_STREAM_ID;
    this.status('status', 'NetStream.Play.UnpublishNotify', description, sid);
    this.send(userControl(UserControlEvent.StreamEOF, sid));
    this.socket.end();
    this.close('end of stream');
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    if (!this.socket.destroyed) {
      // Give queued bytes (a final status) a moment; a peer that does not read is cut off.
      setTimeout(() => this.socket.destroy(), 2000).unref();
      if (reason !== 'socket closed' && this.socket.writable) this.socket.end();
    }
    this.emit('close', reason);
  }

  private arm(ms: number, reason: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail(reason), ms);
    this.timer.unref();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.socket.destroy();
    this.close(reason);
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    try {
      let bytes: Buffer | undefined = data;
      if (!this.handshakeDone) {
        const step = this.handshake.push(data);
        if (step.out) this.socket.write(step.out);
        if (!step.done) return;
        this.handshakeDone = true;
        this.arm(this.opts.commandTimeoutMs ?? 10_000, 'no play or publish in time');
        bytes = step.rest;
        if (!bytes) return;
      }
      for (const msg of this.reader.push(bytes)) {
        this.onMessage(msg);
        if (this.closed) return;
      }
      const total = this.reader.bytesReceived;
      if (total - this.lastAck >= WINDOW_ACK_SIZE) {
        this.lastAck = total;
        this.send(ack(total >>> 0));
      }
    } catch (err) {
      this.fail(`protocol error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        return this.onCommand(msg);
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
        // Only the stream's own publisher may feed it; anything else a client sends is dropped.
        if (this.role === 'publisher') {
          this.lastMediaAt = Date.now();
          this.emit('media', msg);
        }
        return;
      case MessageType.UserControl: {
        const uc = parseUserControl(msg);
        if (uc.event === UserControlEvent.PingRequest) this.send(userControl(UserControlEvent.PingResponse, uc.value));
        return;
      }
      case MessageType.WindowAckSize:
        readU32Body(msg); // validated; we ack on our own fixed window
        return;
      default:
        return; // Set Chunk Size / Abort are handled by the reader; acks and bandwidth need no answer
    }
  }

  private onCommand(msg: RtmpMessage): void {
    const cmd = parseCommand(msg);
    switch (cmd.name) {
      case 'connect':
        return this.onConnect(cmd.transactionId, cmd.commandObject);
      case 'createStream':
        if (!this.connected) return this.fail('createStream before connect');
        return this.send(command('_result', cmd.transactionId, null, MEDIA_STREAM_ID));
      case 'play':
        return this.onStreamCommand('play', cmd.args[0], msg.streamId);
      case 'publish':
        return this.onStreamCommand('publish', cmd.args[0], msg.streamId);
      case 'deleteStream':
      case 'closeStream':
      case 'FCUnpublish':
        if (this.role === 'publisher') {
          this.role = 'none';
          this.emit('unpublish');
        }
        return;
      default:
        return; // releaseStream, FCPublish, getStreamLength, _checkbw...: nothing to answer
    }
  }

  private onConnect(transactionId: number, obj: AmfValue): void {
    if (this.connected) return this.fail('second connect');
    if (!isAmfObject(obj) || typeof obj.app !== 'string') return this.fail('connect without an app');
    const app = obj.app.split('/')[0];
    if (!NAME.test(app)) return this.fail('invalid app name');
    this.app = app;
    this.tcUrl = typeof obj.tcUrl === 'string' ? obj.tcUrl.slice(0, 1024) : '';
    this.capsEx = typeof obj.capsEx === 'number' ? obj.capsEx : 0;
    this.fourCcList = parseFourCcList(obj.fourCcList);
    this.connected = true;
    this.send(windowAckSize(WINDOW_ACK_SIZE));
    this.send(setPeerBandwidth(WINDOW_ACK_SIZE, 2));
    const size = this.opts.chunkSize ?? SERVER_CHUNK_SIZE;
    this.send(setChunkSize(size));
    this.writer.chunkSize = size;
    const props = Object.assign(newAmfObject(), { fmsVer: 'FMS/3,5,7,7009', capabilities: 31 });
    const info = Object.assign(newAmfObject(), { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 });
    // E-RTMP v2: echo the capabilities we support (reconnect) so the client knows.
    if (this.capsEx) info.capsEx = this.capsEx & CAPS_EX_RECONNECT;
    // E-RTMP: answer a fourCcList with the FourCCs that pass through here (only to a client that sent one).
    if (this.fourCcList) props.fourCcList = answerFourCcList(this.fourCcList);
    this.send(command('_result', transactionId, props, info));
  }

  private onStreamCommand(kind: 'play' | 'publish', arg: AmfValue, streamId: number): void {
    if (!this.connected) return this.fail(`${kind} before connect`);
    if (this.role !== 'none' || this.pending) return this.fail(`second ${kind} on one connection`);
    if (typeof arg !== 'string') return this.fail(`${kind} without a stream name`);
    const q = arg.indexOf('?');
    let name = q < 0 ? arg : arg.slice(0, q);
    // SRS edges play NAME.flv for HTTP-FLV viewers (docs/design.md section 2).
    if (kind === 'play' && name.endsWith('.flv')) name = name.slice(0, -4);
    if (!NAME.test(name) || name.includes('..')) {
      this.request = { app: this.app, name: '', query: '', tcUrl: this.tcUrl, streamId: streamId || MEDIA_STREAM_ID };
      return this.reject(kind === 'play' ? 'NetStream.Play.StreamNotFound' : 'NetStream.Publish.BadName', 'invalid stream name');
    }
    const query = q < 0 ? '' : arg.slice(q, q + 2048);
    this.request = { app: this.app, name, query, tcUrl: this.tcUrl, streamId: streamId || MEDIA_STREAM_ID };
    this.pending = true;
    this.emit(kind, this.request);
  }
}
