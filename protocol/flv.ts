/**
 * FLV container pieces — Adobe Flash Video File Format Specification v10, Annex E
 * (E.2 header, E.3 body, E.4 tags) and script data (E.4.4 SCRIPTDATA) helpers. Audio and video tag
 * bodies are classified in `media-tag.ts` (legacy and Enhanced RTMP).
 */
import { MessageType } from './rtmp/constants';
import type { MediaMessage } from './media';

export const FLV_HEADER_SIZE = 9;
export const FLV_TAG_HEADER_SIZE = 11;

/** E.4.1 TagType. */
export const FlvTagType = { Audio: 8, Video: 9, Script: 18 } as const;

/**
 * E.2 FLV header (signature "FLV", version 1, TypeFlags audio 0x04 / video 0x01, DataOffset 9)
 * followed by E.3 PreviousTagSize0 (always 0): the 13 bytes an FLV stream starts with.
 */
export function flvHeader(opts: { audio?: boolean; video?: boolean } = {}): Buffer {
  const out = Buffer.alloc(FLV_HEADER_SIZE + 4);
  out.write('FLV', 0, 'latin1');
  out[3] = 1;
  out[4] = ((opts.audio ?? true) ? 0x04 : 0) | ((opts.video ?? true) ? 0x01 : 0);
  out.writeUInt32BE(FLV_HEADER_SIZE, 5);
  // bytes 9..12: PreviousTagSize0 = 0
  return out;
}

/**
 * E.4.1 FLVTAG — TagType (UI8; reserved and filter bits 0), DataSize (UI24), Timestamp (UI24,
 * lower 24 bits), TimestampExtended (UI8, upper 8 bits), StreamID (UI24, always 0), the body — then
 * E.3 PreviousTagSize (UI32) = 11 + DataSize. One allocation.
 */
export function flvTag(msg: MediaMessage): Buffer {
  const size = msg.payload.length;
  if (size > 0xffffff) throw new RangeError(`FLV tag body of ${size} bytes exceeds the 24-bit DataSize`);
  const ts = msg.timestamp >>> 0;
  const out = Buffer.allocUnsafe(FLV_TAG_HEADER_SIZE + size + 4);
  out[0] = msg.type & 0x1f;
  out.writeUIntBE(size, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = ts >>> 24;
  out.writeUIntBE(0, 8, 3);
  msg.payload.copy(out, FLV_TAG_HEADER_SIZE);
  out.writeUInt32BE(FLV_TAG_HEADER_SIZE + size, FLV_TAG_HEADER_SIZE + size);
  return out;
}

/** The first AMF0 value of a data message when it is a string (E.4.4.1 SCRIPTDATA name). */
function leadingAmf0String(payload: Buffer): { value: string; end: number } | undefined {
  if (payload.length < 3 || payload[0] !== 0x02) return undefined; // AMF0 string marker
  const len = payload.readUInt16BE(1);
  if (3 + len > payload.length) return undefined;
  return { value: payload.toString('utf8', 3, 3 + len), end: 3 + len };
}

/** A data message (type 18) whose first value is `@setDataFrame` or `onMetaData`. */
export function isMetadata(msg: MediaMessage): boolean {
  if (msg.type !== MessageType.DataAmf0) return false;
  const name = leadingAmf0String(msg.payload)?.value;
  return name === '@setDataFrame' || name === 'onMetaData';
}

/**
 * Publishers send `@setDataFrame, onMetaData, {...}`; players and FLV files expect
 * `onMetaData, {...}`. Returns the payload without a leading `@setDataFrame` (no copy).
 */
export function stripSetDataFrame(payload: Buffer): Buffer {
  const first = leadingAmf0String(payload);
  return first?.value === '@setDataFrame' ? payload.subarray(first.end) : payload;
}

export class FlvFormatError extends Error {
  readonly code = 'FLV_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'FlvFormatError';
  }
}

/**
 * Splits a complete FLV file / stream (E.2 header, E.3 body) into messages: audio, video and
 * script tags with their timestamps (Timestamp | TimestampExtended << 24). A trailing
 * partial tag is an error. Bodies are views into `buf`.
 */
export function readFlvTags(buf: Buffer): MediaMessage[] {
  if (buf.length < FLV_HEADER_SIZE || buf.toString('latin1', 0, 3) !== 'FLV') throw new FlvFormatError('not an FLV header');
  const dataOffset = buf.readUInt32BE(5);
  if (dataOffset < FLV_HEADER_SIZE || dataOffset + 4 > buf.length) throw new FlvFormatError(`bad DataOffset ${dataOffset}`);
  const out: MediaMessage[] = [];
  let pos = dataOffset + 4; // skip PreviousTagSize0
  while (pos < buf.length) {
    if (pos + FLV_TAG_HEADER_SIZE > buf.length) throw new FlvFormatError(`truncated tag header at ${pos}`);
    const tag = readFlvTagAt(buf, pos);
    if (!tag || tag.next > buf.length) throw new FlvFormatError(`truncated tag body at ${pos}`);
    out.push(tag.msg);
    pos = tag.next;
  }
  return out;
}

/**
 * The FLV tag (E.4.1: TagType, DataSize, Timestamp | TimestampExtended << 24, StreamID, body) at
 * `pos`, and where the next tag starts (after this one's PreviousTagSize, which is not checked);
 * undefined when its header or body is cut short. The body is a view into `buf`.
 */
export function readFlvTagAt(buf: Buffer, pos: number): { msg: MediaMessage; next: number } | undefined {
  if (pos < 0 || pos + FLV_TAG_HEADER_SIZE > buf.length) return undefined;
  const size = buf.readUIntBE(pos + 1, 3);
  const body = pos + FLV_TAG_HEADER_SIZE;
  if (body + size > buf.length) return undefined;
  const timestamp = (buf.readUIntBE(pos + 4, 3) | (buf[pos + 7] << 24)) >>> 0;
  return { msg: { type: buf[pos] & 0x1f, timestamp, payload: buf.subarray(body, body + size) }, next: body + size + 4 };
}
