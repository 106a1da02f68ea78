/**
 * RTMP chunk stream writer — Adobe RTMP Specification 1.0, section 5.3.
 *
 * Every message is written as one type 0 chunk (5.3.1.2.1) followed by type 3 continuation
 * chunks (5.3.1.2.4) of at most `chunkSize` payload bytes each, into a single allocation.
 */
import { ChunkStreamId, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARK, MAX_CHUNK_SIZE, MAX_CSID, MessageType, MIN_CSID } from './constants';
import { ChunkStreamError } from './errors';
import type { RtmpMessage } from './message';

/** The chunk stream a message goes on when it does not name one. */
export function defaultChunkStreamId(type: number): number {
  switch (type) {
    case MessageType.SetChunkSize:
    case MessageType.Abort:
    case MessageType.Acknowledgement:
    case MessageType.UserControl:
    case MessageType.WindowAckSize:
    case MessageType.SetPeerBandwidth:
      return ChunkStreamId.ProtocolControl;
    case MessageType.Audio:
      return ChunkStreamId.Audio;
    case MessageType.Video:
      return ChunkStreamId.Video;
    case MessageType.DataAmf0:
    case MessageType.DataAmf3:
    case MessageType.Aggregate:
      return ChunkStreamId.Data;
    default:
      return ChunkStreamId.Command;
  }
}

/** 5.3.1.1: basic header length for a chunk stream id (1, 2 or 3 bytes). */
function basicHeaderSize(csid: number): number {
  if (csid < 64) return 1;
  if (csid < 320) return 2;
  return 3;
}

function writeBasicHeader(out: Buffer, pos: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[pos] = (fmt << 6) | csid;
    return pos + 1;
  }
  if (csid < 320) {
    out[pos] = fmt << 6; // csid bits 0: 2-byte form, second byte = csid - 64
    out[pos + 1] = csid - 64;
    return pos + 2;
  }
  out[pos] = (fmt << 6) | 1; // csid bits 1: 3-byte form, (csid - 64) little-endian
  out[pos + 1] = (csid - 64) & 0xff;
  out[pos + 2] = (csid - 64) >> 8;
  return pos + 3;
}

export class ChunkWriter {
  private size = DEFAULT_CHUNK_SIZE;

  /** Outgoing chunk size. Send a Set Chunk Size message with the same value before changing it. */
  get chunkSize(): number {
    return this.size;
  }

  set chunkSize(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
      throw new ChunkStreamError(`invalid chunk size ${size}`);
    }
    this.size = size;
  }

  /** Chunks one message; the result can go to the socket as is. */
  write(msg: RtmpMessage): Buffer {
    const csid = msg.csid ?? defaultChunkStreamId(msg.type);
    if (!Number.isInteger(csid) || csid < MIN_CSID || csid > MAX_CSID) {
      throw new ChunkStreamError(`invalid chunk stream id ${csid}`);
    }
    const payload = msg.payload;
    const length = payload.length;
    if (length > 0xffffff) throw new ChunkStreamError(`message of ${length} bytes does not fit the 24-bit length field`);
    const timestamp = msg.timestamp >>> 0;
    const extended = timestamp >= EXTENDED_TIMESTAMP_MARK;
    const basic = basicHeaderSize(csid);
    const ext = extended ? 4 : 0;
    const chunks = Math.max(1, Math.ceil(length / this.size));
    const out = Buffer.allocUnsafe(basic + 11 + ext + length + (chunks - 1) * (basic + ext));

    // 5.3.1.2.1 type 0: timestamp (3), message length (3), type id (1), stream id (4, little-endian)
    let pos = writeBasicHeader(out, 0, 0, csid);
    pos = out.writeUIntBE(extended ? EXTENDED_TIMESTAMP_MARK : timestamp, pos, 3);
    pos = out.writeUIntBE(length, pos, 3);
    out[pos++] = msg.type;
    pos = out.writeUInt32LE(msg.streamId >>> 0, pos);
    if (extended) pos = out.writeUInt32BE(timestamp, pos); // 5.3.1.3

    let offset = 0;
    for (let i = 0; i < chunks; i++) {
      if (i > 0) {
        // 5.3.1.2.4 type 3 continuation; 5.3.1.3: the extended timestamp is repeated
        pos = writeBasicHeader(out, pos, 3, csid);
        if (extended) pos = out.writeUInt32BE(timestamp, pos);
      }
      const n = Math.min(this.size, length - offset);
      payload.copy(out, pos, offset, offset + n);
      pos += n;
      offset += n;
    }
    return out;
  }
}
