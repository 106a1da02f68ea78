/**
 * PES packet header (ISO/IEC 13818-1 2.4.3.6 / 2.4.3.7) with PTS and, when it differs, DTS.
 * Timestamps are 33-bit counts of a 90 kHz clock.
 */
import { TIMESTAMP_MODULO } from './constants';

/** Maps any integer (negative, or past 2^33) onto the 33-bit timestamp circle. */
export function wrap33(ts: number): number {
  const t = Math.round(ts) % TIMESTAMP_MODULO;
  return t < 0 ? t + TIMESTAMP_MODULO : t;
}

/** Milliseconds to 90 kHz ticks, wrapped to 33 bits. */
export function msTo90k(ms: number): number {
  return wrap33(ms * 90);
}

/**
 * The 5-byte PTS or DTS field: '4-bit prefix' TS[32..30] marker TS[29..15] marker TS[14..0] marker.
 * Prefix: '0010' PTS only, '0011' PTS when DTS follows, '0001' DTS (2.4.3.6).
 */
export function writeTimestamp(out: Buffer, offset: number, prefix: number, ts90k: number): void {
  const ts = wrap33(ts90k);
  const high3 = Math.floor(ts / 2 ** 30) & 0x07; // bits 32..30, outside 32-bit integer ops
  const low30 = ts % 2 ** 30;
  out[offset] = (prefix << 4) | (high3 << 1) | 0x01;
  out[offset + 1] = (low30 >>> 22) & 0xff;
  out[offset + 2] = ((low30 >>> 14) & 0xfe) | 0x01;
  out[offset + 3] = (low30 >>> 7) & 0xff;
  out[offset + 4] = ((low30 << 1) & 0xfe) | 0x01;
}

/** Reads a 5-byte PTS/DTS field back (used by tests and diagnostics). */
export function readTimestamp(buf: Buffer, offset: number): number {
  const high3 = (buf[offset] >> 1) & 0x07;
  const mid = (buf[offset + 1] << 7) | (buf[offset + 2] >> 1);
  const low = (buf[offset + 3] << 7) | (buf[offset + 4] >> 1);
  return high3 * 2 ** 30 + mid * 2 ** 15 + low;
}

export interface PesHeaderOptions {
  streamId: number;
  /** 90 kHz */
  pts: number;
  /** 90 kHz; omitted from the header when equal to pts (PTS_DTS_flags '10'). */
  dts?: number;
  /** Bytes of elementary stream data that follow the header. */
  payloadLength: number;
  /** data_alignment_indicator: the payload starts with an access unit (AUD / ADTS syncword). */
  aligned?: boolean;
}

/**
 * packet_start_code_prefix, stream_id, PES_packet_length, the two flag bytes,
 * PES_header_data_length and the timestamp fields. PES_packet_length is 0 (unbounded) only when
 * the packet would not fit 16 bits, which 2.4.3.7 allows for video in Transport Streams only.
 */
export function pesHeader(o: PesHeaderOptions): Buffer {
  const pts = wrap33(o.pts);
  const dts = o.dts === undefined ? pts : wrap33(o.dts);
  const withDts = dts !== pts;
  const dataLength = withDts ? 10 : 5;
  const h = Buffer.allocUnsafe(9 + dataLength);
  h[0] = 0x00;
  h[1] = 0x00;
  h[2] = 0x01;
  h[3] = o.streamId;
  const packetLength = 3 + dataLength + o.payloadLength;
  h.writeUInt16BE(packetLength > 0xffff ? 0 : packetLength, 4);
  h[6] = 0x80 | (o.aligned === true ? 0x04 : 0); // '10' | scrambling 00 | priority 0 | data_alignment | copyright 0 | original 0
  h[7] = withDts ? 0xc0 : 0x80; // PTS_DTS_flags | ESCR, ES_rate, DSM trick, additional copy, CRC, extension = 0
  h[8] = dataLength;
  writeTimestamp(h, 9, withDts ? 0x3 : 0x2, pts);
  if (withDts) writeTimestamp(h, 14, 0x1, dts);
  return h;
}
