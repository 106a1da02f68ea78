'use strict';
/**
 * Incremental FLV parser (Adobe FLV spec v10, Annex E): header, then tags of
 * TagType(8) DataSize(24) Timestamp(24) TimestampExtended(8) StreamID(24) body PreviousTagSize(32).
 * Feeds on arbitrary chunks (HTTP-FLV responses, ffmpeg's stdout) and calls `onTag` per tag.
 */

const HEADER = 9;
const TAG_HEADER = 11;

class FlvTagStream {
  /**
   * @param {(type: number, timestamp: number, body: Buffer) => void} onTag
   * @param {{ maxTagBytes?: number }} [opts]
   */
  constructor(onTag, opts = {}) {
    this.onTag = onTag;
    this.maxTagBytes = opts.maxTagBytes ?? 16 * 1024 * 1024;
    /** @type {Buffer[]} */
    this.parts = [];
    this.length = 0;
    this.headerDone = false;
    this.tags = 0;
  }

  /** @param {Buffer} chunk */
  push(chunk) {
    this.parts.push(chunk);
    this.length += chunk.length;
    if (!this.headerDone) {
      if (this.length < HEADER + 4) return;
      const buf = this.take(this.length);
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV stream');
      const dataOffset = buf.readUInt32BE(5);
      if (buf.length < dataOffset + 4) {
        this.unshift(buf);
        return;
      }
      this.headerDone = true;
      this.unshift(buf.subarray(dataOffset + 4));
    }
    while (this.length >= TAG_HEADER) {
      const head = this.peek(TAG_HEADER);
      const size = head.readUIntBE(1, 3);
      if (size > this.maxTagBytes) throw new Error(`FLV tag of ${size} bytes`);
      const total = TAG_HEADER + size + 4;
      if (this.length < total) return;
      const tag = this.take(total);
      const type = tag[0] & 0x1f;
      const timestamp = (tag.readUIntBE(4, 3) | (tag[7] << 24)) >>> 0;
      this.tags++;
      this.onTag(type, timestamp, tag.subarray(TAG_HEADER, TAG_HEADER + size));
    }
  }

  /** @param {number} n */
  peek(n) {
    if (this.parts[0].length >= n) return this.parts[0];
    const all = Buffer.concat(this.parts);
    this.parts = [all];
    return all;
  }

  /** @param {number} n */
  take(n) {
    let out;
    if (this.parts[0].length >= n) {
      out = this.parts[0].subarray(0, n);
      const rest = this.parts[0].subarray(n);
      if (rest.length) this.parts[0] = rest;
      else this.parts.shift();
    } else {
      const all = Buffer.concat(this.parts);
      out = all.subarray(0, n);
      this.parts = all.length > n ? [all.subarray(n)] : [];
    }
    this.length -= n;
    return out;
  }

  /** @param {Buffer} buf */
  unshift(buf) {
    if (buf.length === 0) return;
    this.parts.unshift(buf);
    this.length += buf.length;
  }
}

/** FLV VIDEODATA keyframe carrying picture data (AVC NALUs, not the sequence header). */
function isVideoKeyframe(type, body) {
  if (type !== 9 || body.length < 2) return false;
  const b = body[0];
  if (b & 0x80) {
    // Enhanced RTMP: IsExHeader, FrameType in bits 4..6, PacketType in the low nibble (0 = seq start).
    return ((b >> 4) & 0x07) === 1 && (b & 0x0f) !== 0;
  }
  return b >> 4 === 1 && ((b & 0x0f) !== 7 || body[1] === 1);
}

/** AVC sequence header (AVCDecoderConfigurationRecord) or AAC AudioSpecificConfig. */
function isSequenceHeader(type, body) {
  if (type === 9) return body.length >= 2 && (body[0] & 0x80) === 0 && (body[0] & 0x0f) === 7 && body[1] === 0;
  if (type === 8) return body.length >= 2 && body[0] >> 4 === 10 && body[1] === 0;
  return false;
}

module.exports = { FlvTagStream, isVideoKeyframe, isSequenceHeader };
