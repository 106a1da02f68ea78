/**
 * FLV container pieces — Adobe Flash Video File Format Specification v10, Annex E
 * (E.2 header, E.3 body, E.4 tags), plus classification of RTMP audio / video / data messages,
 * whose bodies are FLV tag bodies (E.4.2 AUDIODATA, E.4.3 VIDEODATA, E.4.4 SCRIPTDATA).
 */
import { MessageType } from './rtmp/constants';
import type { RtmpMessage } from './rtmp/message';

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
export function flvTag(msg: RtmpMessage): Buffer {
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

/**
 * E.4.3.1 VIDEODATA: FrameType (UB4) 1 = key frame. In Enhanced RTMP (v1) the top bit is
 * IsExHeader and FrameType is the next 3 bits.
 */
export function isKeyframe(msg: RtmpMessage): boolean {
  if (msg.type !== MessageType.Video || msg.payload.length < 1) return false;
  const b = msg.payload[0];
  const frameType = b & 0x80 ? (b >> 4) & 0x07 : b >> 4;
  return frameType === 1;
}

/** E.4.3.1 CodecID 7 (AVC) with AVCPacketType 0: the AVCDecoderConfigurationRecord. */
export function isAvcSequenceHeader(msg: RtmpMessage): boolean {
  const p = msg.payload;
  return msg.type === MessageType.Video && p.length >= 2 && (p[0] & 0x80) === 0 && (p[0] & 0x0f) === 7 && p[1] === 0;
}

/** E.4.2.1 SoundFormat 10 (AAC) with AACPacketType 0: the AudioSpecificConfig. */
export function isAacSequenceHeader(msg: RtmpMessage): boolean {
  const p = msg.payload;
  return msg.type === MessageType.Audio && p.length >= 2 && p[0] >> 4 === 10 && p[1] === 0;
}

/** The first AMF0 value of a data message when it is a string (E.4.4.1 SCRIPTDATA name). */
function leadingAmf0String(payload: Buffer): { value: string; end: number } | undefined {
  if (payload.length < 3 || payload[0] !== 0x02) return undefined; // AMF0 string marker
  const len = payload.readUInt16BE(1);
  if (3 + len > payload.length) return undefined;
  return { value: payload.toString('utf8', 3, 3 + len), end: 3 + len };
}

/** A data message (type 18) whose first value is `@setDataFrame` or `onMetaData`. */
export function isMetadata(msg: RtmpMessage): boolean {
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
 * script tags with their timestamps (Timestamp | TimestampExtended << 24), stream id 0. A trailing
 * partial tag is an error. Bodies are views into `buf`.
 */
export function readFlvTags(buf: Buffer): RtmpMessage[] {
  if (buf.length < FLV_HEADER_SIZE || buf.toString('latin1', 0, 3) !== 'FLV') throw new FlvFormatError('not an FLV header');
  const dataOffset = buf.readUInt32BE(5);
  if (dataOffset < FLV_HEADER_SIZE || dataOffset + 4 > buf.length) throw new FlvFormatError(`bad DataOffset ${dataOffset}`);
  const out: RtmpMessage[] = [];
  let pos = dataOffset + 4; // skip PreviousTagSize0
  while (pos < buf.length) {
    if (pos + FLV_TAG_HEADER_SIZE > buf.length) throw new FlvFormatError(`truncated tag header at ${pos}`);
    const type = buf[pos] & 0x1f;
    const size = buf.readUIntBE(pos + 1, 3);
    const timestamp = (buf.readUIntBE(pos + 4, 3) | (buf[pos + 7] << 24)) >>> 0;
    const body = pos + FLV_TAG_HEADER_SIZE;
    if (body + size + 4 > buf.length) throw new FlvFormatError(`truncated tag body at ${pos}`);
    out.push({ type, streamId: 0, timestamp, payload: buf.subarray(body, body + size) });
    pos = body + size + 4;
  }
  return out;
}
