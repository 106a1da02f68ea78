/**
 * H.264 in FLV (AVCC, ISO/IEC 14496-15) to H.264 Annex B byte stream (ITU-T H.264 Annex B),
 * as MPEG-TS carries it (ISO/IEC 13818-1 2.14, stream_type 0x1B).
 */
import { MediaFormatError } from './errors';

/** nal_unit_type values (H.264 table 7-1) this module cares about. */
export const NAL_SLICE_IDR = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1). */
export interface AvcConfig {
  profile: number;
  compatibility: number;
  level: number;
  /** Bytes of each NALUnitLength prefix: lengthSizeMinusOne + 1. */
  nalLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

export function parseAvcDecoderConfigurationRecord(rec: Buffer): AvcConfig {
  const bad = (why: string): MediaFormatError => new MediaFormatError('AVC_CONFIG_INVALID', `AVCDecoderConfigurationRecord: ${why}`);
  // configurationVersion(8) AVCProfileIndication(8) profile_compatibility(8) AVCLevelIndication(8)
  // reserved(6) lengthSizeMinusOne(2) reserved(3) numOfSequenceParameterSets(5)
  if (rec.length < 7) throw bad(`${rec.length} bytes, need at least 7`);
  if (rec[0] !== 1) throw bad(`configurationVersion ${rec[0]}, expected 1`);
  const nalLengthSize = (rec[4] & 0x03) + 1;
  if (nalLengthSize === 3) throw bad('lengthSizeMinusOne 2 is not allowed');
  let off = 6; // after numOfSequenceParameterSets
  const readSets = (count: number, what: string): Buffer[] => {
    const sets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (off + 2 > rec.length) throw bad(`truncated ${what} length`);
      const len = rec.readUInt16BE(off);
      off += 2;
      if (len === 0 || off + len > rec.length) throw bad(`${what} ${i} length ${len} does not fit`);
      sets.push(Buffer.from(rec.subarray(off, off + len)));
      off += len;
    }
    return sets;
  };
  const sps = readSets(rec[5] & 0x1f, 'SPS');
  if (off >= rec.length) throw bad('missing numOfPictureParameterSets');
  const ppsCount = rec[off++];
  const pps = readSets(ppsCount, 'PPS');
  if (sps.length === 0 || pps.length === 0) throw bad('needs at least one SPS and one PPS');
  // High-profile extension fields (chroma_format etc.) may follow; Annex B does not need them.
  return { profile: rec[1], compatibility: rec[2], level: rec[3], nalLengthSize, sps, pps };
}

/** Splits a length-prefixed AVCC sample (14496-15 5.3.4.2) into NAL units (views, no copy). */
export function splitAvcc(sample: Buffer, nalLengthSize: number): Buffer[] {
  const nalus: Buffer[] = [];
  let off = 0;
  while (off < sample.length) {
    if (off + nalLengthSize > sample.length) {
      throw new MediaFormatError('AVC_NALU_TRUNCATED', `NAL length field at ${off} runs past ${sample.length}`);
    }
    let len = 0;
    for (let i = 0; i < nalLengthSize; i++) len = len * 256 + sample[off + i];
    off += nalLengthSize;
    if (off + len > sample.length) {
      throw new MediaFormatError('AVC_NALU_TRUNCATED', `NAL of ${len} bytes at ${off} runs past ${sample.length}`);
    }
    if (len > 0) nalus.push(sample.subarray(off, off + len));
    off += len;
  }
  return nalus;
}

/** zero_byte + start_code_prefix_one_3bytes (H.264 B.1.1, H.265 B.2.1). */
export const START_CODE = Buffer.from([0, 0, 0, 1]);
/** access_unit_delimiter_rbsp (H.264 7.3.2.4): primary_pic_type 7 (any slice type) + stop bit. */
const AUD_NAL = Buffer.from([NAL_AUD, 0xf0]);

export interface AnnexBOptions {
  /** Parameter sets to insert before an IDR (or FLV keyframe) that does not carry its own. */
  config?: AvcConfig;
  /** The FLV tag says keyframe: insert parameter sets even if the slices are not IDR (open GOP). */
  keyframe?: boolean;
}

/**
 * One access unit in Annex B: AUD first (H.264 7.4.1.2.3 requires it first when present; Apple HLS
 * requires it), then SPS/PPS when the AU holds an IDR slice (or is an FLV keyframe) and does not
 * carry them itself, then the sample's NAL units with any AUDs it had dropped. Every NAL gets a
 * 4-byte start code (zero_byte + start_code_prefix_one_3bytes, Annex B.1.1).
 */
export function avccToAnnexB(nalus: readonly Buffer[], opts: AnnexBOptions = {}): Buffer {
  return Buffer.concat(annexBChunks(nalus, opts));
}

/** `avccToAnnexB` as a list of chunks (start codes and NAL views), so the packetizer copies once. */
export function annexBChunks(nalus: readonly Buffer[], opts: AnnexBOptions = {}): Buffer[] {
  let hasIdr = false;
  let hasSps = false;
  let hasPps = false;
  for (const n of nalus) {
    const t = n[0] & 0x1f;
    if (t === NAL_SLICE_IDR) hasIdr = true;
    else if (t === NAL_SPS) hasSps = true;
    else if (t === NAL_PPS) hasPps = true;
  }
  const out: Buffer[] = [START_CODE, AUD_NAL];
  if ((hasIdr || opts.keyframe === true) && opts.config) {
    if (!hasSps) for (const s of opts.config.sps) out.push(START_CODE, s);
    if (!hasPps) for (const p of opts.config.pps) out.push(START_CODE, p);
  }
  for (const n of nalus) {
    if ((n[0] & 0x1f) === NAL_AUD) continue;
    out.push(START_CODE, n);
  }
  return out;
}

/** True when the AU holds an IDR slice (nal_unit_type 5). */
export function containsIdr(nalus: readonly Buffer[]): boolean {
  return nalus.some((n) => (n[0] & 0x1f) === NAL_SLICE_IDR);
}
