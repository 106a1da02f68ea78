'use strict';
/**
 * Per-frame markers the load tool reads back to measure end-to-end latency (publisher and players
 * run on the same machine, so they share a clock): `receivedAt - sentAt`.
 *
 * 1. SEI (default): the publisher prepends an H.264 SEI NAL unit (user_data_unregistered, payload
 *    type 5) to a video frame about every 100 ms: UUID "CascadeBenchMark" + ASCII "seq:sentAt".
 *    Servers forward video payloads untouched, so the mark passes node-media-server, Cascade and
 *    nginx-rtmp alike (and survives FLV→MPEG-TS remuxing for HLS). Players check a fixed offset:
 *    O(1) per frame. The payload is ASCII, so it has no start-code emulation to escape.
 * 2. AMF (optional, BENCH_AMF_MARKS=1): an AMF0 data message `onCascadeMark {seq, sentAt}`. It passes
 *    node-media-server and Cascade, but nginx-rtmp relays only audio/video, and node-media-server
 *    4.4.3 caches every data message as the stream's metadata (new viewers then get a mark instead of
 *    onMetaData) and logs "Unknown command" for each — hence not the default.
 */
const dist = require('./dist');

const MARK_NAME = 'onCascadeMark';
const AMF_PREFIX = Buffer.concat([Buffer.from([0x02, 0x00, MARK_NAME.length]), Buffer.from(MARK_NAME, 'latin1')]);
const SEI_UUID = Buffer.from('CascadeBenchMark', 'latin1'); // 16 bytes, no zero byte
// FLV AVC VIDEODATA: frame/codec byte, AVCPacketType, CompositionTime (3), then 4-byte-length NALUs.
const NALU_AT = 5;

/** @param {{ seq: number, sentAt: number }} mark */
function encodeAmfMark(mark) {
  return dist.amf0().encodeAmf0([MARK_NAME, { seq: mark.seq, sentAt: mark.sentAt }]);
}

/**
 * @param {Buffer} body a data message / FLV script tag body
 * @returns {{ seq: number, sentAt: number } | null}
 */
function decodeAmfMark(body) {
  if (body.length < AMF_PREFIX.length || body.compare(AMF_PREFIX, 0, AMF_PREFIX.length, 0, AMF_PREFIX.length) !== 0) return null;
  try {
    const [, obj] = dist.amf0().decodeAmf0(body);
    if (obj && typeof obj === 'object' && typeof obj.sentAt === 'number') return { seq: Number(obj.seq), sentAt: obj.sentAt };
  } catch {
    /* not ours */
  }
  return null;
}

/**
 * The video payload with a mark SEI as its first NAL unit (AVC, 4-byte NALU lengths, not the
 * sequence header); the payload itself when it is not such a frame.
 * @param {Buffer} body @param {{ seq: number, sentAt: number }} mark
 */
function withSeiMark(body, mark) {
  if (body.length < NALU_AT || (body[0] & 0x0f) !== 7 || (body[0] & 0x80) !== 0 || body[1] !== 1) return body;
  const text = Buffer.from(`${mark.seq}:${mark.sentAt}`, 'latin1');
  const size = SEI_UUID.length + text.length; // < 255: one payloadSize byte
  const nalLen = 1 + 1 + 1 + size + 1; // NAL header, payloadType, payloadSize, payload, rbsp trailing bits
  const out = Buffer.allocUnsafe(body.length + 4 + nalLen);
  body.copy(out, 0, 0, NALU_AT);
  let p = NALU_AT;
  out.writeUInt32BE(nalLen, p);
  p += 4;
  out[p++] = 0x06; // nal_unit_type 6: SEI
  out[p++] = 0x05; // user_data_unregistered
  out[p++] = size;
  p += SEI_UUID.copy(out, p);
  p += text.copy(out, p);
  out[p++] = 0x80;
  body.copy(out, p, NALU_AT);
  return out;
}

/**
 * @param {Buffer} body a video message / FLV video tag body
 * @returns {{ seq: number, sentAt: number } | null}
 */
function decodeSeiMark(body) {
  const at = NALU_AT + 4;
  if (body.length < at + 3 + SEI_UUID.length || body[at] !== 0x06 || body[at + 1] !== 0x05) return null;
  if (body.compare(SEI_UUID, 0, SEI_UUID.length, at + 3, at + 3 + SEI_UUID.length) !== 0) return null;
  const size = body[at + 2];
  const text = body.toString('latin1', at + 3 + SEI_UUID.length, at + 3 + size);
  const colon = text.indexOf(':');
  const sentAt = Number(text.slice(colon + 1));
  return colon > 0 && Number.isFinite(sentAt) ? { seq: Number(text.slice(0, colon)), sentAt } : null;
}

module.exports = { MARK_NAME, encodeAmfMark, decodeAmfMark, withSeiMark, decodeSeiMark };
