/**
 * The RTMP guard: our own hardened RTMP layer in front of each node-media-server (NMS) session.
 *
 * One guard per TCP connection sees every inbound byte before NMS does (docs/design.md section 8 lists
 * the inputs that crash or poison NMS 4.4.3). It
 * - passes the handshake through unchanged (C0 + C1 + C2 = 1 + 1536 + 1536 bytes; NMS answers it,
 *   including the digest form ffmpeg / OBS use) after checking the RTMP version;
 * - mirrors the chunk stream with our `ChunkReader` (Set Chunk Size < 128 / > 2^31-1 and declared
 *   lengths over the limit are errors; nothing is reserved before the payload arrives; incomplete
 *   messages are held in one buffer each, at most `maxBufferedBytes` in all);
 * - decodes every command and data message with our strict AMF0 decoder and validates it;
 * - and hands NMS only **re-encoded, complete, validated messages**: one fmt-0 chunk each, at a
 *   chunk size the guard set on NMS's parser itself. NMS never sees a partial message, a client
 *   Set Chunk Size, a value its decoder mis-parses, or a command it would mis-handle. A publisher's
 *   audio and video go to `hooks.mediaToServer` as parsed instead, when it is given (NmsHost does).
 *
 * What NMS sees: `connect` (valid app and tcUrl, numeric transaction id and objectEncoding),
 * `createStream`, one `publish` or one `play` per connection (valid, canonical stream name; a
 * publish only when the name is not live here), and from the publisher only: audio, video (each
 * long enough for NMS's tag parser) and `@setDataFrame`/`onMetaData` with an object. Everything
 * else is dropped (counted) or rejects the connection. The guard is pure: bytes in, callbacks out,
 * no sockets and no timers, so it can be fuzzed in-process.
 */
import { AmfDecodeError, decodeAmf0, encodeAmf0, isAmfObject, newAmfObject, type AmfObject, type AmfValue } from '../protocol/amf0';
import { ChunkReader } from '../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../protocol/rtmp/chunk-writer';
import { MessageType } from '../protocol/rtmp/constants';
import { RtmpError } from '../protocol/rtmp/errors';
import { parseFourCcList } from '../protocol/rtmp/fourcc';
import type { RtmpMessage } from '../protocol/rtmp/message';
import { setChunkSize } from '../protocol/rtmp/message';
import { canonicalStreamName, isValidStreamPart } from '../common/stream-name';

export const RTMP_VERSION = 3;
const HANDSHAKE_PACKET = 1536;
/** C0 + C1 + C2. */
export const HANDSHAKE_BYTES = 1 + 2 * HANDSHAKE_PACKET;

/** The chunk size the guard announces to NMS's parser: every message fits one chunk. */
export const SERVER_PARSER_CHUNK_SIZE = 0xffffff;
/** NMS 4.4.3 announces this chunk size to clients in its connect answer (RTMP_MAX_CHUNK_SIZE). */
export const NMS_OUT_CHUNK_SIZE = 0xffff;

/** NMS's own pattern for app and stream names (rtmp_session.js / flv_session.js SAFE_NAME_PATTERN). */
const NMS_SAFE_NAME = /^[a-zA-Z0-9_-]+$/;
/** Longest tcUrl, and longest `name?query` string, accepted. */
const MAX_URL_BYTES = 4096;
/** Longest object key kept when re-encoding (NMS mis-parses keys of 0x0900..0x09ff bytes). */
const MAX_KEY_BYTES = 1024;

export interface RtmpGuardLimits {
  /** Largest command / data message (default 1 MiB). */
  maxCommandMessageSize: number;
  /** Largest audio / video message, and the largest length a chunk header may declare (default 8 MiB). */
  maxMediaMessageSize: number;
  /** Most chunk streams with a partially received message at once (default 8; encoders use 2-3). */
  maxChunkStreamsInFlight: number;
  /**
   * Most bytes held for incomplete messages across all chunk streams of the connection
   * (default 16 MiB, 2 × the media limit): the guard's memory per connection, however the
   * messages are chunked.
   */
  maxBufferedBytes: number;
  /** Smallest Set Chunk Size accepted (default 128, as SRS; RTMP 1.0 allows 1). */
  minChunkSize: number;
  /** AMF0 nesting depth (default 32) and value count (default 10000) per message. */
  maxAmfDepth: number;
  maxAmfItems: number;
  /** createStream calls per connection (default 16). */
  maxCreateStream: number;
}

export const DEFAULT_GUARD_LIMITS: RtmpGuardLimits = {
  maxCommandMessageSize: 1024 * 1024,
  maxMediaMessageSize: 8 * 1024 * 1024,
  maxChunkStreamsInFlight: 8,
  maxBufferedBytes: 16 * 1024 * 1024,
  minChunkSize: 128,
  maxAmfDepth: 32,
  maxAmfItems: 10000,
  maxCreateStream: 16,
};

/** Stable codes of guard rejections (logged; the connection is closed). */
export type GuardRejectCode =
  | 'RTMP_HANDSHAKE'
  | 'RTMP_CHUNK_STREAM'
  | 'RTMP_MESSAGE_TOO_LARGE'
  | 'RTMP_AMF'
  | 'RTMP_COMMAND'
  | 'RTMP_CONNECT'
  | 'RTMP_PUBLISH'
  | 'RTMP_PLAY'
  | 'RTMP_DUPLICATE_PUBLISH'
  | 'RTMP_METADATA';

export interface GuardRejection {
  code: GuardRejectCode;
  reason: string;
}

export type GuardEvent =
  | { type: 'handshake' }
  | { type: 'connect'; app: string }
  | { type: 'publish'; app: string; name: string }
  | { type: 'play'; app: string; name: string }
  /** Publisher audio / video passed to NMS. */
  | { type: 'media'; bytes: number }
  /**
   * A message that was not passed on (viewer media, unknown data, undersized frames...). `quiet`
   * marks the usual ones (releaseStream, FCPublish, deleteStream, ...) that need no log line.
   */
  | { type: 'dropped'; what: string; bytes: number; quiet: boolean };

export interface RtmpGuardHooks {
  /** Bytes for NMS's session parser, in order (called synchronously, message by message). */
  toServer(bytes: Buffer): void;
  /**
   * A publisher's validated audio or video message, handed to NMS as it is, without chunking it for
   * its parser (called synchronously, in order with `toServer`). Absent: media goes to `toServer` too.
   */
  mediaToServer?(msg: RtmpMessage): void;
  /** Bytes for the client: `_error` / onStatus refusals, written before the connection closes. */
  toClient(bytes: Buffer): void;
  /**
   * Whether `app/name` may be published now; null allows it, a string is the refusal
   * description (NetStream.Publish.BadName). Called before NMS learns of the publish.
   */
  canPublish?(app: string, name: string): string | null;
  onEvent?(event: GuardEvent): void;
}

/** A stream name as an RTMP client sends it: `name[?query]`, canonical (`NAME.flv` → `NAME`). */
export interface ParsedStreamName {
  name: string;
  /** Without the `?`; '' when absent. */
  query: string;
}

/** Validates an app name: our stream-part rule and NMS's own pattern (no dots). */
export function isServableName(s: unknown): s is string {
  return isValidStreamPart(s) && NMS_SAFE_NAME.test(s);
}

/**
 * Parses the name argument of publish / play. Returns an error description when it cannot be
 * served: not a string, too long, or a name outside `[A-Za-z0-9][A-Za-z0-9_-]{0,127}` after a
 * trailing `.flv` is removed (docs/design.md section 2; NMS cannot serve names with other dots).
 */
export function parseStreamName(raw: AmfValue): ParsedStreamName | string {
  if (typeof raw !== 'string') return 'stream name missing or not a string';
  if (Buffer.byteLength(raw) > MAX_URL_BYTES) return 'stream name too long';
  const q = raw.indexOf('?');
  const base = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const name = canonicalStreamName(base);
  if (!isServableName(name)) return 'invalid stream name';
  return { name, query };
}

/** Commands real clients send that NMS ignores (its rtmpCmdCode table minus what we pass on). */
const USUAL_COMMANDS = new Set([
  'releaseStream', 'FCPublish', 'FCUnpublish', 'FCSubscribe', 'deleteStream', 'closeStream', 'getStreamLength',
  'getMovLen', 'receiveAudio', 'receiveVideo', 'pause', 'seek', 'call', 'play2', '_result', '_error', 'onStatus',
  'close', '_checkbw', 'onFCPublish', 'setBufferLength',
]);

const PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** True for names like `constructor`, `toString`, `__proto__` that index NMS's plain-object tables. */
export function isPrototypeKey(name: string): boolean {
  return PROTO_KEYS.has(name);
}

/**
 * A deep copy safe for NMS's AMF0 decoder: keys that are Object.prototype names or longer than
 * MAX_KEY_BYTES are left out; everything else is kept as decoded.
 */
export function sanitizeAmf(value: AmfValue): AmfValue {
  if (Array.isArray(value)) return value.map(sanitizeAmf);
  if (!isAmfObject(value)) return value;
  const out = newAmfObject();
  for (const key of Object.keys(value)) {
    if (isPrototypeKey(key) || Buffer.byteLength(key) > MAX_KEY_BYTES) continue;
    out[key] = sanitizeAmf(value[key]);
  }
  return out;
}

function isValidTcUrl(v: AmfValue): boolean {
  if (typeof v !== 'string' || Buffer.byteLength(v) > MAX_URL_BYTES) return false;
  try {
    new URL(v); // exactly what NMS's onConnect does (and throws on)
    return true;
  } catch {
    return false;
  }
}

/**
 * Minimum lengths NMS's Flv.parserTag reads without a bounds check: legacy video reads the
 * composition time at bytes 2..4; Enhanced RTMP HEVC coded frames read it at 5..7. This mirrors
 * NMS's own byte reads (it knows no ModEx or Multitrack), so it is not the frame classifier of
 * protocol/media-tag.ts; what the classifier says about a tag is applied after the guard
 * (mediaserver/nms-packet-flags.ts corrects NMS's cache flags).
 */
function videoTooShort(p: Buffer): boolean {
  if (p.length < 5) return true;
  const ex = (p[0] & 0x80) !== 0;
  if (ex && (p[0] & 0x0f) === 1 && p.toString('latin1', 1, 5) === 'hvc1') return p.length < 8;
  return false;
}

type Phase = 'handshake' | 'chunks' | 'failed';

/**
 * One connection's guard. `push()` every inbound buffer; it returns the rejection that ends the
 * connection (then and for every later push), or null. It never throws.
 */
export class RtmpGuard {
  private readonly limits: RtmpGuardLimits;
  private readonly reader: ChunkReader;
  /** Writes messages for NMS's parser. */
  private readonly serverWriter = new ChunkWriter();
  /** Writes refusals for the client (at the chunk size NMS told it, if it did). */
  private readonly clientWriter = new ChunkWriter();
  private phase: Phase = 'handshake';
  private handshakeSeen = 0;
  private rejection: GuardRejection | null = null;
  private app: string | null = null;
  /** The E-RTMP `fourCcList` of the client's connect (null: it sent none); answered by nms-host. */
  fourCcList: string[] | null = null;
  private streams = 0;
  /** 'publish' / 'play' once the connection started its one stream. */
  private role: 'publish' | 'play' | null = null;
  private streamName: string | null = null;
  private readonly dropped = { messages: 0, bytes: 0 };

  constructor(
    private readonly hooks: RtmpGuardHooks,
    limits: Partial<RtmpGuardLimits> = {},
  ) {
    this.limits = { ...DEFAULT_GUARD_LIMITS, ...limits };
    this.reader = new ChunkReader({
      maxMessageSize: Math.max(this.limits.maxMediaMessageSize, this.limits.maxCommandMessageSize),
      maxChunkStreamsInFlight: this.limits.maxChunkStreamsInFlight,
      maxBufferedBytes: this.limits.maxBufferedBytes,
      minChunkSize: this.limits.minChunkSize,
    });
  }

  get failed(): GuardRejection | null {
    return this.rejection;
  }

  get isPublisher(): boolean {
    return this.role === 'publish';
  }

  get isPlayer(): boolean {
    return this.role === 'play';
  }

  get stream(): { app: string; name: string } | null {
    return this.app !== null && this.streamName !== null ? { app: this.app, name: this.streamName } : null;
  }

  get handshakeDone(): boolean {
    return this.phase !== 'handshake';
  }

  get connected(): boolean {
    return this.app !== null;
  }

  get droppedMessages(): { messages: number; bytes: number } {
    return { ...this.dropped };
  }

  push(data: Buffer): GuardRejection | null {
    if (this.rejection) return this.rejection;
    try {
      this.consume(data);
    } catch (err) {
      // Every expected failure is handled where it happens; this is a last line of defence.
      this.reject('RTMP_CHUNK_STREAM', `guard error: ${err instanceof Error ? err.message : String(err)}`);
    }
    return this.rejection;
  }

  private consume(data: Buffer): void {
    let rest = data;
    if (this.phase === 'handshake') {
      const n = Math.min(HANDSHAKE_BYTES - this.handshakeSeen, rest.length);
      if (n <= 0) return;
      if (this.handshakeSeen === 0 && rest[0] !== RTMP_VERSION) {
        return this.reject('RTMP_HANDSHAKE', `client sent RTMP version ${rest[0]}, expected ${RTMP_VERSION}`);
      }
      this.hooks.toServer(rest.subarray(0, n));
      this.handshakeSeen += n;
      rest = rest.subarray(n);
      if (this.handshakeSeen < HANDSHAKE_BYTES) return;
      this.phase = 'chunks';
      // NMS's parser starts at chunk size 128: one Set Chunk Size so every message we pass is one chunk.
      this.hooks.toServer(this.serverWriter.write(setChunkSize(SERVER_PARSER_CHUNK_SIZE)));
      this.serverWriter.chunkSize = SERVER_PARSER_CHUNK_SIZE;
      this.emit({ type: 'handshake' });
      if (rest.length === 0) return;
    }
    if (this.phase !== 'chunks') return;
    let messages: RtmpMessage[];
    try {
      messages = this.reader.push(rest);
    } catch (err) {
      return this.reject('RTMP_CHUNK_STREAM', err instanceof RtmpError ? err.message : String(err));
    }
    for (const msg of messages) {
      this.onMessage(msg);
      if (this.rejection) return;
    }
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.SetChunkSize:
      case MessageType.Abort:
        return; // applied by our reader; NMS's parser keeps the chunk size we gave it
      case MessageType.Acknowledgement:
      case MessageType.WindowAckSize:
      case MessageType.SetPeerBandwidth:
      case MessageType.UserControl:
        return; // NMS ignores these; nothing to pass on
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        return this.onCommand(msg);
      case MessageType.DataAmf0:
        return this.onData(msg);
      case MessageType.Audio:
      case MessageType.Video:
        return this.onMedia(msg);
      default:
        // AMF3 data / shared objects / aggregates: NMS would forward AMF3 data to every viewer as
        // a bogus tag and ignores the rest.
        return this.drop(`message type ${msg.type}`, msg.payload.length);
    }
  }

  private decode(msg: RtmpMessage): AmfValue[] | null {
    if (msg.payload.length > this.limits.maxCommandMessageSize) {
      this.reject('RTMP_MESSAGE_TOO_LARGE', `message type ${msg.type} of ${msg.payload.length} bytes exceeds ${this.limits.maxCommandMessageSize}`);
      return null;
    }
    let body = msg.payload;
    // 7.1.1: an AMF3 command (type 17) is a format byte (0) followed by AMF0.
    if (msg.type === MessageType.CommandAmf3) body = body.length > 0 && body[0] === 0 ? body.subarray(1) : body;
    try {
      return decodeAmf0(body, { maxDepth: this.limits.maxAmfDepth, maxItems: this.limits.maxAmfItems });
    } catch (err) {
      this.reject('RTMP_AMF', err instanceof AmfDecodeError ? err.message : String(err));
      return null;
    }
  }

  private onCommand(msg: RtmpMessage): void {
    const values = this.decode(msg);
    if (!values) return;
    const [name, tid, , ...args] = values;
    const commandObject = values[2];
    if (typeof name !== 'string') return this.reject('RTMP_COMMAND', 'command name is not a string');
    if (isPrototypeKey(name)) return this.reject('RTMP_COMMAND', `command name ${JSON.stringify(name.slice(0, 32))} is reserved`);
    switch (name) {
      case 'connect':
        return this.onConnect(msg, tid, commandObject, args);
      case 'createStream':
        if (!this.connected) return this.drop('createStream before connect', msg.payload.length, false);
        if (typeof tid !== 'number') return this.reject('RTMP_COMMAND', 'createStream: transaction id is not a number');
        if (++this.streams > this.limits.maxCreateStream) return this.reject('RTMP_COMMAND', `more than ${this.limits.maxCreateStream} createStream calls`);
        return this.forward({ ...msg, type: MessageType.CommandAmf0, payload: encodeAmf0(['createStream', tid, null]) });
      case 'publish':
        return this.onPublish(msg, tid, args);
      case 'play':
        return this.onPlay(msg, tid, args);
      default:
        // releaseStream, FCPublish, deleteStream, receiveAudio, _checkbw, ...: NMS does nothing with them.
        return this.drop(`command ${name.slice(0, 32)}`, msg.payload.length, USUAL_COMMANDS.has(name));
    }
  }

  private onConnect(msg: RtmpMessage, tid: AmfValue, cmd: AmfValue, args: AmfValue[]): void {
    const refuse = (description: string): void => {
      this.sendToClient('_error', typeof tid === 'number' ? tid : 1, msg.streamId, {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description,
      });
      this.reject('RTMP_CONNECT', description);
    };
    if (this.connected) return refuse('connect: already connected');
    if (typeof tid !== 'number') return refuse('connect: transaction id is not a number');
    if (!isAmfObject(cmd)) return refuse('connect: command object missing');
    if (!isValidTcUrl(cmd.tcUrl)) return refuse('connect: tcUrl missing or not a valid URL');
    if (!isServableName(cmd.app)) return refuse('connect: invalid app name');
    if (cmd.objectEncoding !== undefined && cmd.objectEncoding !== null && typeof cmd.objectEncoding !== 'number') {
      return refuse('connect: objectEncoding is not a number');
    }
    this.app = cmd.app;
    this.fourCcList = parseFourCcList(cmd.fourCcList);
    const clean = sanitizeAmf(cmd) as AmfObject;
    this.forward({ ...msg, type: MessageType.CommandAmf0, payload: encodeAmf0(['connect', tid, clean, ...args.slice(0, 1).map(sanitizeAmf)]) });
    // NMS answered with Set Chunk Size (its outChunkSize) before `_result`.
    this.clientWriter.chunkSize = NMS_OUT_CHUNK_SIZE;
    this.emit({ type: 'connect', app: cmd.app });
  }

  private onPublish(msg: RtmpMessage, tid: AmfValue, args: AmfValue[]): void {
    const refuse = (code: GuardRejectCode, status: string, description: string): void => {
      this.sendStatus(msg.streamId, status, description);
      this.reject(code, description);
    };
    if (!this.connected || this.app === null) return refuse('RTMP_PUBLISH', 'NetStream.Publish.Rejected', 'publish before connect');
    if (this.role !== null) return refuse('RTMP_PUBLISH', 'NetStream.Publish.Rejected', `one ${this.role} per connection`);
    if (typeof tid !== 'number') return refuse('RTMP_PUBLISH', 'NetStream.Publish.Rejected', 'publish: transaction id is not a number');
    const parsed = parseStreamName(args[0]);
    if (typeof parsed === 'string') return refuse('RTMP_PUBLISH', 'NetStream.Publish.BadName', `publish: ${parsed}`);
    const busy = this.hooks.canPublish?.(this.app, parsed.name) ?? null;
    if (busy !== null) return refuse('RTMP_DUPLICATE_PUBLISH', 'NetStream.Publish.BadName', busy);
    this.role = 'publish';
    this.streamName = parsed.name;
    const type = typeof args[1] === 'string' && Buffer.byteLength(args[1]) <= 64 ? args[1] : 'live';
    const full = parsed.query ? `${parsed.name}?${parsed.query}` : parsed.name;
    this.forward({ ...msg, type: MessageType.CommandAmf0, payload: encodeAmf0(['publish', tid, null, full, type]) });
    this.emit({ type: 'publish', app: this.app, name: parsed.name });
  }

  private onPlay(msg: RtmpMessage, tid: AmfValue, args: AmfValue[]): void {
    const refuse = (status: string, description: string): void => {
      this.sendStatus(msg.streamId, status, description);
      this.reject('RTMP_PLAY', description);
    };
    if (!this.connected || this.app === null) return refuse('NetStream.Play.Failed', 'play before connect');
    if (this.role !== null) return refuse('NetStream.Play.Failed', `one ${this.role} per connection`);
    if (typeof tid !== 'number') return refuse('NetStream.Play.Failed', 'play: transaction id is not a number');
    const parsed = parseStreamName(args[0]);
    if (typeof parsed === 'string') return refuse('NetStream.Play.StreamNotFound', `play: ${parsed}`);
    this.role = 'play';
    this.streamName = parsed.name;
    const full = parsed.query ? `${parsed.name}?${parsed.query}` : parsed.name;
    this.forward({ ...msg, type: MessageType.CommandAmf0, payload: encodeAmf0(['play', tid, null, full]) });
    this.emit({ type: 'play', app: this.app, name: parsed.name });
  }

  private onData(msg: RtmpMessage): void {
    if (this.role !== 'publish') {
      // A viewer's (or an unstarted connection's) data would replace the stream's cached metadata.
      if (msg.payload.length > this.limits.maxCommandMessageSize) {
        return this.reject('RTMP_MESSAGE_TOO_LARGE', `data message of ${msg.payload.length} bytes`);
      }
      return this.drop('data from a non-publisher', msg.payload.length);
    }
    const values = this.decode(msg);
    if (!values) return;
    const [name] = values;
    if (typeof name !== 'string') return this.reject('RTMP_METADATA', 'data message name is not a string');
    if (isPrototypeKey(name)) return this.reject('RTMP_METADATA', `data message name ${JSON.stringify(name.slice(0, 32))} is reserved`);
    let out: AmfValue[];
    if (name === '@setDataFrame') {
      if (values[1] !== 'onMetaData') return this.drop('@setDataFrame of something else than onMetaData', msg.payload.length);
      if (!isAmfObject(values[2])) return this.reject('RTMP_METADATA', '@setDataFrame onMetaData without an object');
      out = ['@setDataFrame', 'onMetaData', sanitizeAmf(values[2])];
    } else if (name === 'onMetaData') {
      if (!isAmfObject(values[1])) return this.reject('RTMP_METADATA', 'onMetaData without an object');
      out = ['onMetaData', sanitizeAmf(values[1])];
    } else {
      // NMS caches every data message as *the* metadata: onCuePoint & co would replace it.
      return this.drop(`data ${name.slice(0, 32)}`, msg.payload.length);
    }
    this.forward({ ...msg, payload: encodeAmf0(out) });
  }

  private onMedia(msg: RtmpMessage): void {
    const size = msg.payload.length;
    if (this.role !== 'publish') return this.drop(msg.type === MessageType.Audio ? 'audio from a non-publisher' : 'video from a non-publisher', size);
    if (size > this.limits.maxMediaMessageSize) return this.reject('RTMP_MESSAGE_TOO_LARGE', `media message of ${size} bytes`);
    if (size === 0) return this.drop('empty media message', 0);
    if (msg.type === MessageType.Video && videoTooShort(msg.payload)) return this.drop('truncated video message', size);
    if (this.hooks.mediaToServer) this.hooks.mediaToServer(msg);
    else this.forward(msg);
    this.emit({ type: 'media', bytes: size });
  }

  private forward(msg: RtmpMessage): void {
    // One fmt-0 chunk at the chunk size NMS's parser was given; NMS sees the message whole.
    this.hooks.toServer(this.serverWriter.write({ type: msg.type, streamId: msg.streamId, timestamp: msg.timestamp, payload: msg.payload }));
  }

  private drop(what: string, bytes: number, quiet = false): void {
    this.dropped.messages++;
    this.dropped.bytes += bytes;
    this.emit({ type: 'dropped', what, bytes, quiet });
  }

  private sendToClient(name: string, tid: number, streamId: number, info: AmfObject): void {
    const payload = encodeAmf0([name, tid, null, info]);
    this.hooks.toClient(this.clientWriter.write({ type: MessageType.CommandAmf0, streamId, timestamp: 0, payload, csid: 3 }));
  }

  private sendStatus(streamId: number, code: string, description: string): void {
    this.sendToClient('onStatus', 0, streamId, { level: 'error', code, description });
  }

  private emit(event: GuardEvent): void {
    this.hooks.onEvent?.(event);
  }

  private reject(code: GuardRejectCode, reason: string): void {
    if (this.rejection) return;
    this.rejection = { code, reason };
    this.phase = 'failed';
  }
}
