/**
 * RTMP chunk stream reader — Adobe RTMP Specification 1.0, section 5.3 (chunking) and 5.4.1 /
 * 5.4.2 (Set Chunk Size, Abort, handled here because they change how chunks are parsed).
 *
 * Hardening (docs/design.md section 8 lists what breaks node-media-server): declared lengths are
 * checked against `maxMessageSize` and never allocated up front; each message in flight is copied
 * into one Buffer of its own that grows by doubling as payload arrives (from 64 KiB, capped at the
 * declared length), so its memory does not depend on how it is chunked (a list of 1-byte chunk
 * views cost ~100 bytes of heap per payload byte); the sum of those buffers is bounded by
 * `maxBufferedBytes`, and the number of chunk streams with a message in flight by
 * `maxChunkStreamsInFlight`; Set Chunk Size 0 or > 2^31-1 is an error (1..2^31-1 is valid, 5.4.1),
 * and so is one below `minChunkSize` (servers use 128);
 * after any error the reader stays failed and drops what it buffered.
 */
import { DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARK, MAX_CHUNK_SIZE, MessageType } from './constants';
import { ChunkStreamError } from './errors';
import type { RtmpMessage } from './message';

export interface ChunkReaderOptions {
  /** Largest message length a header may declare (default 8 MiB). */
  maxMessageSize?: number;
  /** Most chunk streams with a partially received message at once (default 64). */
  maxChunkStreamsInFlight?: number;
  /**
   * Most bytes held for incomplete messages, across all chunk streams: the sum of their buffers'
   * sizes (received payload plus growth headroom). Default 2 × `maxMessageSize`.
   */
  maxBufferedBytes?: number;
  /**
   * Smallest Set Chunk Size accepted (default 1, what section 5.4.1 allows). Servers facing
   * untrusted peers use 128 (as SRS does): tinier chunks only multiply per-chunk work.
   */
  minChunkSize?: number;
}

/** First buffer size for a message that does not arrive whole (capped at its length). */
const INITIAL_MESSAGE_BUFFER = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** Section 5.3.1.2: message header length by chunk type (fmt). */
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;

/** What the previous chunks of one chunk stream established (5.3.1.2: later fmts reuse it). */
interface ChunkStreamState {
  csid: number;
  /** Absolute timestamp of the current / last message. */
  timestamp: number;
  /**
   * Timestamp field of the latest fmt 0/1/2 header (an absolute value for fmt 0, a delta for 1/2);
   * a fmt 3 chunk that starts a new message adds it (as ffmpeg, SRS and node-media-server do).
   */
  delta: number;
  /** Whether the latest fmt 0/1/2 header used an extended timestamp (5.3.1.3). */
  extended: boolean;
  length: number;
  type: number;
  streamId: number;
  /**
   * The message in progress: payload bytes [0, received) copied into `buf`, whose size is its
   * share of the reader's `buffered` bytes (null when nothing has been copied yet).
   */
  buf: Buffer | null;
  /** A message that arrived whole in one read is passed on as a view of it, without a copy. */
  whole: Buffer | null;
  received: number;
  inProgress: boolean;
}

interface ParsedHeader {
  fmt: number;
  csid: number;
  end: number;
}

export class ChunkReader {
  private readonly maxMessageSize: number;
  private readonly maxInFlight: number;
  private readonly maxBuffered: number;
  private readonly minChunkSize: number;
  /** Sum of the sizes of the in-flight messages' buffers. */
  private buffered = 0;
  private readonly streams = new Map<number, ChunkStreamState>();
  private inFlight = 0;
  private chunkSizeIn = DEFAULT_CHUNK_SIZE;
  /** Bytes of an incomplete chunk header left over from the previous push (< 19 bytes). */
  private pending: Buffer = Buffer.alloc(0);
  /** The chunk stream whose payload bytes come next, and how many remain in this chunk. */
  private current: ChunkStreamState | null = null;
  private chunkRemaining = 0;
  private failure: ChunkStreamError | null = null;
  private received = 0;

  constructor(options: ChunkReaderOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? 8 * 1024 * 1024;
    this.maxInFlight = options.maxChunkStreamsInFlight ?? 64;
    this.maxBuffered = options.maxBufferedBytes ?? 2 * this.maxMessageSize;
    this.minChunkSize = options.minChunkSize ?? 1;
  }

  /** Bytes currently held for incomplete messages (the sum of their buffers' sizes). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The peer's chunk size (changed by Set Chunk Size messages). */
  get chunkSize(): number {
    return this.chunkSizeIn;
  }

  /** Total bytes pushed, for Acknowledgement messages (5.4.3). */
  get bytesReceived(): number {
    return this.received;
  }

  /**
   * Parses as much as possible and returns the complete messages, in order. Set Chunk Size and
   * Abort are applied and also returned. Throws `ChunkStreamError`; the reader then stays failed.
   */
  push(data: Buffer): RtmpMessage[] {
    if (this.failure) throw this.failure;
    this.received += data.length;
    try {
      return this.parse(data);
    } catch (err) {
      this.failure = err instanceof ChunkStreamError ? err : new ChunkStreamError(String(err));
      // The reader never resumes: free what it holds (the connection may linger until closed).
      this.streams.clear();
      this.current = null;
      this.pending = EMPTY;
      this.buffered = 0;
      throw this.failure;
    }
  }

  private parse(data: Buffer): RtmpMessage[] {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    const out: RtmpMessage[] = [];
    let pos = 0;
    for (;;) {
      const state = this.current;
      if (state) {
        const n = Math.min(this.chunkRemaining, buf.length - pos);
        if (n > 0) {
          // A message that is one chunk and wholly in this read needs no copy.
          if (n === state.length) state.whole = buf.subarray(pos, pos + n);
          else this.append(state, buf, pos, n);
          state.received += n;
          this.chunkRemaining -= n;
          pos += n;
        }
        if (this.chunkRemaining > 0) break;
        this.current = null;
        if (state.received === state.length) this.complete(state, out);
        continue;
      }
      const header = this.readHeader(buf, pos);
      if (!header) break;
      pos = header.end;
    }
    // Only a partial header can remain; copy it so the caller's buffer is not retained.
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : EMPTY;
    return out;
  }

  /**
   * Copies `n` payload bytes at `pos` into the message's buffer, growing it by doubling (at least
   * 64 KiB, at most the declared length) within what `maxBufferedBytes` leaves.
   */
  private append(s: ChunkStreamState, src: Buffer, pos: number, n: number): void {
    const need = s.received + n;
    let target = s.buf;
    if (!target || target.length < need) {
      const old = target ? target.length : 0;
      const others = this.buffered - old;
      const room = this.maxBuffered - others;
      if (need > room) {
        throw new ChunkStreamError(
          `incomplete messages would hold ${others + need} bytes (chunk stream ${s.csid}: ${need} of ${s.length}), over the limit of ${this.maxBuffered}`,
        );
      }
      const size = Math.min(s.length, room, Math.max(need, 2 * old, INITIAL_MESSAGE_BUFFER));
      const grown = Buffer.allocUnsafe(size);
      if (target) target.copy(grown, 0, 0, s.received);
      this.buffered = others + size;
      s.buf = target = grown;
    }
    src.copy(target, s.received, pos, pos + n);
  }

  /**
   * Parses one chunk header at `pos` (5.3.1.1 basic header, 5.3.1.2 message header, 5.3.1.3
   * extended timestamp) and applies it. Returns null when the buffer holds only part of it.
   */
  private readHeader(buf: Buffer, pos: number): ParsedHeader | null {
    const avail = buf.length - pos;
    if (avail < 1) return null;
    const b0 = buf[pos];
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let basic = 1;
    if (csid === 0) {
      // 2-byte form: csid 64..319
      if (avail < 2) return null;
      csid = 64 + buf[pos + 1];
      basic = 2;
    } else if (csid === 1) {
      // 3-byte form: csid 64..65599, (third byte)*256 + (second byte) + 64
      if (avail < 3) return null;
      csid = 64 + buf[pos + 1] + buf[pos + 2] * 256;
      basic = 3;
    }

    const state = this.streams.get(csid);
    const headerSize = basic + MESSAGE_HEADER_SIZE[fmt];
    if (avail < headerSize) return null;
    let p = pos + basic;
    let tsField = 0;
    if (fmt <= 2) tsField = buf.readUIntBE(p, 3);
    const extended = fmt <= 2 ? tsField === EXTENDED_TIMESTAMP_MARK : (state?.extended ?? false);
    const total = headerSize + (extended ? 4 : 0);
    if (avail < total) return null;

    // From here on the whole header is in the buffer: validate and apply it.
    if (fmt !== 0 && !state && fmt !== 1) {
      throw new ChunkStreamError(`chunk type ${fmt} on chunk stream ${csid} without a previous header`);
    }
    if (state?.inProgress && fmt !== 3) {
      throw new ChunkStreamError(`chunk type ${fmt} on chunk stream ${csid} while a message is in progress`);
    }
    const s = state ?? this.newStream(csid);

    if (fmt <= 2) p += 3;
    let length = s.length;
    let type = s.type;
    if (fmt <= 1) {
      length = buf.readUIntBE(p, 3);
      type = buf[p + 3];
      p += 4;
    }
    let streamId = s.streamId;
    if (fmt === 0) {
      streamId = buf.readUInt32LE(p); // 5.3.1.2.1: message stream id is little-endian
      p += 4;
    }
    if (extended) {
      const ext = buf.readUInt32BE(p);
      p += 4;
      if (fmt <= 2) tsField = ext;
      // fmt 3: the field repeats the header's value (5.3.1.3); it carries no new information.
    }
    if (length > this.maxMessageSize) {
      throw new ChunkStreamError(`message of ${length} bytes on chunk stream ${csid} exceeds the limit of ${this.maxMessageSize}`);
    }

    if (!s.inProgress) {
      // First chunk of a new message.
      if (fmt === 0) s.timestamp = tsField;
      else if (fmt === 3) s.timestamp = (s.timestamp + s.delta) >>> 0;
      else s.timestamp = (s.timestamp + tsField) >>> 0;
      if (fmt <= 2) {
        s.delta = tsField;
        s.extended = extended;
      }
      s.length = length;
      s.type = type;
      s.streamId = streamId;
      s.received = 0;
      s.buf = null;
      s.whole = null;
      if (length > 0) {
        if (this.inFlight >= this.maxInFlight) {
          throw new ChunkStreamError(`more than ${this.maxInFlight} chunk streams with a message in progress`);
        }
        s.inProgress = true;
        this.inFlight++;
      }
    }
    this.current = s;
    this.chunkRemaining = Math.min(this.chunkSizeIn, s.length - s.received);
    return { fmt, csid, end: p };
  }

  private newStream(csid: number): ChunkStreamState {
    const s: ChunkStreamState = {
      csid,
      timestamp: 0,
      delta: 0,
      extended: false,
      length: 0,
      type: 0,
      streamId: 0,
      buf: null,
      whole: null,
      received: 0,
      inProgress: false,
    };
    this.streams.set(csid, s);
    return s;
  }

  private complete(s: ChunkStreamState, out: RtmpMessage[]): void {
    let payload: Buffer = EMPTY;
    if (s.whole) payload = s.whole;
    else if (s.buf) {
      payload = s.buf; // exactly s.length bytes: its size is capped at the declared length
      this.buffered -= s.buf.length;
    }
    if (s.inProgress) {
      s.inProgress = false;
      this.inFlight--;
    }
    s.buf = null;
    s.whole = null;
    s.received = 0;
    const msg: RtmpMessage = { type: s.type, streamId: s.streamId, timestamp: s.timestamp, payload, csid: s.csid };
    this.applyProtocolControl(msg);
    out.push(msg);
  }

  /** 5.4.1 Set Chunk Size and 5.4.2 Abort take effect immediately. */
  private applyProtocolControl(msg: RtmpMessage): void {
    if (msg.type === MessageType.SetChunkSize) {
      if (msg.payload.length < 4) throw new ChunkStreamError(`Set Chunk Size of ${msg.payload.length} bytes`);
      const size = msg.payload.readUInt32BE(0);
      if (size === 0 || size > MAX_CHUNK_SIZE) throw new ChunkStreamError(`invalid chunk size ${size}`);
      if (size < this.minChunkSize) throw new ChunkStreamError(`chunk size ${size} is below the minimum of ${this.minChunkSize}`);
      this.chunkSizeIn = size;
    } else if (msg.type === MessageType.Abort) {
      if (msg.payload.length < 4) throw new ChunkStreamError(`Abort of ${msg.payload.length} bytes`);
      const target = this.streams.get(msg.payload.readUInt32BE(0));
      if (target?.inProgress) {
        target.inProgress = false;
        if (target.buf) this.buffered -= target.buf.length;
        target.buf = null;
        target.received = 0;
        this.inFlight--;
      }
    }
  }
}
