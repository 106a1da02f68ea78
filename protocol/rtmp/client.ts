/**
 * RTMP client (play and publish) over net.Socket — Adobe RTMP Specification 1.0: handshake (5.2),
 * chunking (5.3), protocol control (5.4), user control (7.1.7), NetConnection commands connect /
 * createStream (7.2.1), NetStream commands play / publish (7.2.2); plus the SRS RTMP 302 redirect
 * (docs/design.md section 2).
 *
 * Events: 'status' (every onStatus info object), 'media' (audio / video / data messages),
 * 'redirect' (an info object with ex.code 302 on any message stream), 'userControl', 'drain',
 * 'close' (exactly once, with the error that ended the connection, if any). Never 'error'.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { isAmfObject, type AmfObject, type AmfValue } from '../amf0';
import type { MediaMessage } from '../media';
import { ChunkReader } from './chunk-reader';
import { ChunkWriter, defaultChunkStreamId } from './chunk-writer';
import { MessageType, UserControlEvent } from './constants';
import {
  RtmpClosedError,
  RtmpCommandError,
  RtmpMessageError,
  RtmpRedirectError,
  RtmpStateError,
  RtmpStatusError,
  RtmpTimeoutError,
  StreamNotFoundRtmpError,
  type RtmpRedirect,
} from './errors';
import { ClientHandshake } from './handshake';
import {
  ack,
  command,
  parseCommand,
  parseUserControl,
  readU32Body,
  setBufferLength,
  setChunkSize,
  splitAggregate,
  userControl,
  windowAckSize,
  type RtmpCommand,
  type RtmpMessage,
  type UserControlMessage,
} from './message';
import { isErrorLevel, redirectOf, StatusCode, statusCode, statusInfo } from './status';
import { parseFourCcList } from './fourcc';
import { parseRtmpUrl, socketHost, type RtmpUrl } from './url';

export interface RtmpConnectOptions {
  /** Limit for connect (TCP + handshake + connect command) and for each play / publish (default 5000). */
  timeoutMs?: number;
  /** E-RTMP capsEx flags added to the connect command object. */
  capsEx?: number;
  /** E-RTMP `fourCcList` (e.g. ['hvc1', 'av01', 'Opus']) added to the connect command object. */
  fourCcList?: string[];
  flashVer?: string;
}

export interface RtmpClientEvents {
  status: [info: AmfObject, streamId: number];
  media: [msg: RtmpMessage];
  redirect: [redirect: RtmpRedirect];
  userControl: [event: UserControlMessage];
  /** The socket buffer drained after sendMedia returned false. */
  drain: [];
  close: [err?: Error];
}

/** The chunk size we announce right after the handshake. */
export const CLIENT_CHUNK_SIZE = 4096;
const DEFAULT_TIMEOUT_MS = 5000;
/** Buffer length announced after play (7.1.7 SetBufferLength), as ffmpeg does. */
const PLAY_BUFFER_MS = 3000;

interface PendingTransaction {
  name: string;
  resolve: (cmd: RtmpCommand) => void;
  reject: (err: Error) => void;
}

interface StreamWaiter {
  kind: 'play' | 'publish';
  resolve: () => void;
  reject: (err: Error) => void;
}

export class RtmpClient extends EventEmitter<RtmpClientEvents> {
  private readonly target: RtmpUrl;
  private readonly reader = new ChunkReader();
  private readonly writer = new ChunkWriter();
  private readonly handshake = new ClientHandshake();
  private readonly socket: net.Socket;
  private readonly timeoutMs: number;
  private handshakeDone = false;
  /** Commands issued before the handshake completed (connect); sent right after it. */
  private queued: RtmpMessage[] = [];
  private nextTransactionId = 1;
  private readonly pending = new Map<number, PendingTransaction>();
  private waiter: StreamWaiter | null = null;
  private publishStreamId: number | null = null;
  private streamStarted = false;
  private ackWindow = 0;
  private lastAckAt = 0;
  private lastWindowSent = 0;
  private sent = 0;
  private received = 0;
  private isConnected = false;
  /** The properties object (command object) of the connect `_result`. */
  private connectProperties: AmfObject | null = null;
  private closed = false;
  private socketError: Error | undefined;

  private constructor(
    private readonly urlString: string,
    opts: RtmpConnectOptions,
  ) {
    super();
    this.target = parseRtmpUrl(urlString);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.socket = net.connect({ host: socketHost(this.target.host), port: this.target.port });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.write(this.handshake.c0c1()));
    this.socket.on('data', (data) => this.onData(data));
    this.socket.on('error', (err) => {
      this.socketError ??= err;
    });
    this.socket.on('close', () => this.finish(this.socketError));
    this.socket.on('drain', () => this.emit('drain'));
  }

  /**
   * Connects to `rtmp://host[:port]/app[/stream][?query]`: TCP, handshake, Set Chunk Size,
   * `connect` (7.2.1.1). Rejects with `RtmpCommandError` on `_error`, `RtmpTimeoutError`,
   * `RtmpClosedError`, `RtmpUrlError`.
   */
  static async connect(url: string, opts: RtmpConnectOptions = {}): Promise<RtmpClient> {
    const client = new RtmpClient(url, opts);
    try {
      const result = await client.withTimeout('connect', client.transaction('connect', client.connectObject(opts)));
      client.connectProperties = isAmfObject(result.commandObject) ? result.commandObject : null;
    } catch (err) {
      client.close();
      throw err;
    }
    client.isConnected = true;
    return client;
  }

  get url(): string {
    return this.urlString;
  }

  /** The FourCCs the server announced in its connect `_result` (E-RTMP), or null when it named none. */
  get serverFourCcList(): string[] | null {
    return parseFourCcList(this.connectProperties?.fourCcList);
  }

  get bytesIn(): number {
    return this.received;
  }

  get bytesOut(): number {
    return this.sent;
  }

  get connected(): boolean {
    return this.isConnected && !this.closed;
  }

  /**
   * createStream + play (7.2.2.1) with the name including its `?query`. Resolves on
   * `NetStream.Play.Start`; rejects with `StreamNotFoundRtmpError`, `RtmpRedirectError` (302 before
   * Play.Start), `RtmpStatusError` (other error-level status), `RtmpTimeoutError` (closes the client).
   */
  async play(streamNameWithQuery: string): Promise<void> {
    this.claimStream('play');
    const started = this.openStream('play', (streamId) => {
      // 7.2.2.1: transaction id 0, command object null, name, start -2 (live, else recorded)
      this.send({ ...command('play', 0, null, streamNameWithQuery, -2), streamId });
      this.send(setBufferLength(streamId, PLAY_BUFFER_MS));
    });
    await this.withTimeout('play', started);
  }

  /**
   * releaseStream + FCPublish (answers ignored), createStream, publish (7.2.2.6) as `live`.
   * Resolves on `NetStream.Publish.Start`; rejects with `RtmpStatusError` carrying the info object.
   */
  async publish(streamNameWithQuery: string): Promise<void> {
    this.claimStream('publish');
    this.send(command('releaseStream', this.nextTransactionId++, null, streamNameWithQuery));
    this.send(command('FCPublish', this.nextTransactionId++, null, streamNameWithQuery));
    const started = this.openStream('publish', (streamId) => {
      // 7.2.2.6: transaction id 0, command object null, publishing name, publishing type
      this.send({ ...command('publish', 0, null, streamNameWithQuery, 'live'), streamId });
    });
    this.publishStreamId = await this.withTimeout('publish', started);
  }

  /**
   * Sends an audio / video / data message on the publish stream (chunk streams 4 / 6 / 5 unless
   * `msg.csid` is set). Returns false when the socket buffer is full (back off until 'drain').
   */
  sendMedia(msg: MediaMessage & Partial<Pick<RtmpMessage, 'csid' | 'streamId'>>): boolean {
    if (this.publishStreamId === null) throw new RtmpStateError('sendMedia before publish succeeded');
    if (this.closed) return false;
    return this.send({ ...msg, streamId: this.publishStreamId, csid: msg.csid ?? defaultChunkStreamId(msg.type) });
  }

  /** Idempotent: destroys the socket and emits 'close' once. */
  close(): void {
    this.finish(undefined);
  }

  // ------------------------------------------------------------ commands

  private connectObject(opts: RtmpConnectOptions): AmfObject {
    const obj: AmfObject = {
      app: this.target.app,
      type: 'nonprivate',
      flashVer: opts.flashVer ?? 'FMLE/3.0 (compatible; Cascade)',
      tcUrl: this.target.tcUrl,
      fpad: false,
      capabilities: 15,
      audioCodecs: 3191,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
    };
    if (opts.capsEx !== undefined) obj.capsEx = opts.capsEx;
    if (opts.fourCcList !== undefined) obj.fourCcList = opts.fourCcList;
    return obj;
  }

  /** Sends a command with a fresh transaction id and waits for its `_result` / `_error`. */
  private transaction(name: string, commandObject: AmfValue, ...args: AmfValue[]): Promise<RtmpCommand> {
    const transactionId = this.nextTransactionId++;
    return new Promise<RtmpCommand>((resolve, reject) => {
      if (this.closed) return reject(new RtmpClosedError(name, this.socketError));
      this.pending.set(transactionId, { name, resolve, reject });
      this.send(command(name, transactionId, commandObject, ...args));
    });
  }

  /** One play or publish per client. */
  private claimStream(kind: StreamWaiter['kind']): void {
    if (!this.connected) throw new RtmpStateError(`${kind} on a client that is not connected`);
    if (this.streamStarted) throw new RtmpStateError(`${kind}: this client already plays or publishes`);
    this.streamStarted = true;
  }

  /**
   * createStream (7.2.1.3; the `_result` carries the message stream id), then sends play / publish
   * and waits for the status that starts the stream. Resolves with the message stream id.
   */
  private async openStream(kind: StreamWaiter['kind'], sendCommand: (streamId: number) => void): Promise<number> {
    const result = await this.transaction('createStream', null);
    const streamId = result.args[0];
    if (typeof streamId !== 'number' || !Number.isInteger(streamId) || streamId < 0 || streamId > 0xffffffff) {
      this.close();
      throw new RtmpMessageError(`createStream returned ${String(streamId)} instead of a stream id`);
    }
    await new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(new RtmpClosedError(kind, this.socketError));
      this.waiter = { kind, resolve, reject };
      sendCommand(streamId);
    }).finally(() => {
      this.waiter = null;
    });
    return streamId;
  }

  /** Rejects with RtmpTimeoutError (and closes the client) when `p` takes longer than timeoutMs. */
  private withTimeout<T>(what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new RtmpTimeoutError(`RTMP ${what} to ${this.target.tcUrl}`, this.timeoutMs);
        reject(err);
        this.finish(err);
      }, this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  // ------------------------------------------------------------ input

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.received += data.length;
    try {
      let chunkBytes: Buffer | undefined = data;
      if (!this.handshakeDone) {
        const step = this.handshake.push(data);
        if (!step.done) return;
        this.handshakeDone = true;
        this.afterHandshake(step.out);
        chunkBytes = step.rest;
      }
      if (!chunkBytes) return;
      for (const msg of this.reader.push(chunkBytes)) {
        this.onMessage(msg);
        if (this.closed) return;
      }
      this.maybeAcknowledge();
    } catch (err) {
      this.finish(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** C2, then Set Chunk Size (5.4.1) and the queued connect command, in one write. */
  private afterHandshake(c2: Buffer | undefined): void {
    const parts: Buffer[] = [];
    if (c2) parts.push(c2);
    parts.push(this.writer.write(setChunkSize(CLIENT_CHUNK_SIZE)));
    this.writer.chunkSize = CLIENT_CHUNK_SIZE;
    for (const msg of this.queued) parts.push(this.writer.write(msg));
    this.queued = [];
    this.write(Buffer.concat(parts));
  }

  /** 5.4.3: acknowledge once a window's worth of bytes arrived since the last acknowledgement. */
  private maybeAcknowledge(): void {
    const total = this.reader.bytesReceived;
    if (this.ackWindow > 0 && total - this.lastAckAt >= this.ackWindow) {
      this.lastAckAt = total;
      this.send(ack(total));
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.WindowAckSize:
        this.ackWindow = readU32Body(msg);
        return;
      case MessageType.SetPeerBandwidth: {
        // 5.4.5: answer with Window Acknowledgement Size when it differs from the last one sent.
        const size = readU32Body(msg);
        if (size !== this.lastWindowSent) {
          this.lastWindowSent = size;
          this.send(windowAckSize(size));
        }
        return;
      }
      case MessageType.UserControl:
        return this.onUserControl(parseUserControl(msg));
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        return this.onCommand(msg, parseCommand(msg));
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
        this.emit('media', msg);
        return;
      case MessageType.Aggregate:
        for (const sub of splitAggregate(msg)) {
          if (sub.type === MessageType.Audio || sub.type === MessageType.Video || sub.type === MessageType.DataAmf0) {
            this.emit('media', sub);
          }
        }
        return;
      default:
        return; // Set Chunk Size / Abort are applied by the reader; acks and the rest are ignored.
    }
  }

  private onUserControl(event: UserControlMessage): void {
    // 7.1.7: PingRequest must be answered with PingResponse carrying the same timestamp.
    if (event.event === UserControlEvent.PingRequest) this.send(userControl(UserControlEvent.PingResponse, event.value));
    this.emit('userControl', event);
  }

  private onCommand(msg: RtmpMessage, cmd: RtmpCommand): void {
    switch (cmd.name) {
      case '_result':
      case '_error':
        return this.onResult(cmd);
      case 'onStatus': {
        const info = statusInfo(cmd.args[0]);
        this.emit('status', info, msg.streamId);
        const redirect = redirectOf(info);
        if (redirect) this.emit('redirect', redirect);
        this.settleWaiter(info, redirect);
        return;
      }
      default:
        return; // onBWDone, onFCPublish, close, ...
    }
  }

  private onResult(cmd: RtmpCommand): void {
    const isError = cmd.name === '_error';
    const info = statusInfo(cmd.args[0]);
    const redirect = isError ? redirectOf(info) : undefined;
    if (redirect) this.emit('redirect', redirect);
    const pending = this.pending.get(cmd.transactionId);
    if (pending) {
      this.pending.delete(cmd.transactionId);
      if (isError) pending.reject(new RtmpCommandError(pending.name, info));
      else pending.resolve(cmd);
      return;
    }
    // An `_error` nobody waits for while play / publish is pending answers that command.
    if (isError && this.waiter) this.settleWaiter(info.level === undefined ? { ...info, level: 'error' } : info, redirect);
  }

  private settleWaiter(info: AmfObject, redirect: RtmpRedirect | undefined): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const code = statusCode(info);
    if (waiter.kind === 'play' && code === StatusCode.PlayStart) return waiter.resolve();
    if (waiter.kind === 'publish' && code === StatusCode.PublishStart) return waiter.resolve();
    if (redirect) return waiter.reject(new RtmpRedirectError(info, redirect));
    if (waiter.kind === 'play' && code === StatusCode.PlayStreamNotFound) return waiter.reject(new StreamNotFoundRtmpError(info));
    if (isErrorLevel(info)) return waiter.reject(new RtmpStatusError(info));
  }

  // ------------------------------------------------------------ output and teardown

  private send(msg: RtmpMessage): boolean {
    if (this.closed) return false;
    if (!this.handshakeDone) {
      this.queued.push(msg);
      return true;
    }
    return this.write(this.writer.write(msg));
  }

  private write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.sent += buf.length;
    return this.socket.write(buf);
  }

  private finish(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    for (const pending of this.pending.values()) pending.reject(new RtmpClosedError(pending.name, err));
    this.pending.clear();
    this.waiter?.reject(new RtmpClosedError(this.waiter.kind, err));
    this.waiter = null;
    this.queued = [];
    this.emit('close', err);
  }
}
