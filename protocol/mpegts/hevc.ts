/**
 * HEVC in FLV / Enhanced RTMP (hvcC sample format, ISO/IEC 14496-15 §8) to the H.265 Annex B byte
 * stream (ITU-T H.265 Annex B), as MPEG-TS carries it (ISO/IEC 13818-1 2.17, stream_type 0x24).
 */
import { START_CODE } from './avc';
import { MediaFormatError } from './errors';

/** nal_unit_type values (H.265 table 7-1) this module cares about. */
export const HEVC_NAL = {
  /** BLA_W_LP .. RSV_IRAP_VCL23: intra random access point pictures. */
  IrapFirst: 16,
  IrapLast: 23,
  VPS: 32,
  SPS: 33,
  PPS: 34,
  AUD: 35,
} as const;

/** nal_unit_type of an HEVC NAL unit: bits 1..6 of the 2-byte NAL unit header (7.3.1.2). */
export function hevcNalType(nal: Buffer): number {
  return (nal[0] >> 1) & 0x3f;
}

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1). */
export interface HevcConfig {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  levelIdc: number;
  chromaFormatIdc: number;
  /** Bytes of each NALUnitLength prefix: lengthSizeMinusOne + 1. */
  nalLengthSize: number;
  vps: Buffer[];
  sps: Buffer[];
  pps: Buffer[];
}

/** The fixed part of the record before the NAL unit arrays. */
const HVCC_HEADER_SIZE = 23;

export function parseHevcDecoderConfigurationRecord(rec: Buffer): HevcConfig {
  const bad = (why: string): MediaFormatError => new MediaFormatError('HEVC_CONFIG_INVALID', `HEVCDecoderConfigurationRecord: ${why}`);
  // configurationVersion(8) general_profile_space(2) general_tier_flag(1) general_profile_idc(5)
  // general_profile_compatibility_flags(32) general_constraint_indicator_flags(48) general_level_idc(8)
  // reserved(4) min_spatial_segmentation_idc(12) reserved(6) parallelismType(2)
  // reserved(6) chromaFormat(2) reserved(5) bitDepthLumaMinus8(3) reserved(5) bitDepthChromaMinus8(3)
  // avgFrameRate(16) constantFrameRate(2) numTemporalLayers(3) temporalIdNested(1) lengthSizeMinusOne(2)
  // numOfArrays(8)
  if (rec.length < HVCC_HEADER_SIZE) throw bad(`${rec.length} bytes, need at least ${HVCC_HEADER_SIZE}`);
  if (rec[0] !== 1) throw bad(`configurationVersion ${rec[0]}, expected 1`);
  const nalLengthSize = (rec[21] & 0x03) + 1;
  if (nalLengthSize === 3) throw bad('lengthSizeMinusOne 2 is not allowed');
  const cfg: HevcConfig = {
    profileSpace: rec[1] >> 6,
    tierFlag: (rec[1] >> 5) & 1,
    profileIdc: rec[1] & 0x1f,
    levelIdc: rec[12],
    chromaFormatIdc: rec[16] & 0x03,
    nalLengthSize,
    vps: [],
    sps: [],
    pps: [],
  };
  const arrays = rec[22];
  let off = HVCC_HEADER_SIZE;
  for (let a = 0; a < arrays; a++) {
    // array_completeness(1) reserved(1) NAL_unit_type(6) numNalus(16)
    if (off + 3 > rec.length) throw bad(`truncated array ${a} header`);
    const type = rec[off] & 0x3f;
    const count = rec.readUInt16BE(off + 1);
    off += 3;
    for (let i = 0; i < count; i++) {
      if (off + 2 > rec.length) throw bad(`truncated NAL length in array ${a}`);
      const len = rec.readUInt16BE(off);
      off += 2;
      if (len < 2 || off + len > rec.length) throw bad(`NAL ${i} of array ${a}: length ${len} does not fit`);
      const nal = Buffer.from(rec.subarray(off, off + len));
      off += len;
      if (type === HEVC_NAL.VPS) cfg.vps.push(nal);
      else if (type === HEVC_NAL.SPS) cfg.sps.push(nal);
      else if (type === HEVC_NAL.PPS) cfg.pps.push(nal);
      // SEI and other arrays: the decoder does not need them before each IRAP.
    }
  }
  if (cfg.vps.length === 0 || cfg.sps.length === 0 || cfg.pps.length === 0) throw bad('needs a VPS, an SPS and a PPS');
  return cfg;
}

/**
 * access_unit_delimiter (H.265 7.3.2.5): NAL header type 35, nuh_layer_id 0, nuh_temporal_id_plus1 1,
 * then pic_type 2 (I, P and B slices may be present) and the rbsp stop bit.
 */
const AUD_NAL = Buffer.from([HEVC_NAL.AUD << 1, 0x01, 0x50]);

export function isIrap(nal: Buffer): boolean {
  const t = hevcNalType(nal);
  return t >= HEVC_NAL.IrapFirst && t <= HEVC_NAL.IrapLast;
}

/** True when the access unit holds an IRAP picture (nal_unit_type 16..23: BLA, IDR, CRA). */
export function containsIrap(nalus: readonly Buffer[]): boolean {
  return nalus.some(isIrap);
}

/**
 * One access unit in Annex B, as chunks (start codes and NAL views, so the packetizer copies once):
 * an AUD first (H.265 7.4.2.4.4: first NAL of the AU when present), then VPS/SPS/PPS from the hvcC
 * before an IRAP picture (or an FLV keyframe) that does not carry its own, then the sample's NAL
 * units without the AUDs it had. Every NAL gets a 4-byte start code (Annex B.2).
 */
export function hevcAnnexBChunks(nalus: readonly Buffer[], opts: { config?: HevcConfig; keyframe?: boolean } = {}): Buffer[] {
  let irap = false;
  let hasVps = false;
  let hasSps = false;
  let hasPps = false;
  for (const n of nalus) {
    const t = hevcNalType(n);
    if (t >= HEVC_NAL.IrapFirst && t <= HEVC_NAL.IrapLast) irap = true;
    else if (t === HEVC_NAL.VPS) hasVps = true;
    else if (t === HEVC_NAL.SPS) hasSps = true;
    else if (t === HEVC_NAL.PPS) hasPps = true;
  }
  const out: Buffer[] = [START_CODE, AUD_NAL];
  if ((irap || opts.keyframe === true) && opts.config) {
    if (!hasVps) for (const v of opts.config.vps) out.push(START_CODE, v);
    if (!hasSps) for (const s of opts.config.sps) out.push(START_CODE, s);
    if (!hasPps) for (const p of opts.config.pps) out.push(START_CODE, p);
  }
  for (const n of nalus) {
    if (n.length === 0 || hevcNalType(n) === HEVC_NAL.AUD) continue;
    out.push(START_CODE, n);
  }
  return out;
}
