/**
 * H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1): just enough to report a stream's profile,
 * level and picture size (with frame cropping) in the node API. Pure, no I/O.
 */

import { BitReader, BitsEnd, nalToRbsp } from './bits';

export class SpsError extends Error {
  readonly code = 'AVC_SPS_INVALID';
  constructor(message: string) {
    super(`SPS: ${message}`);
    this.name = 'SpsError';
  }
}

export interface AvcSps {
  profileIdc: number;
  /** constraint_set0_flag .. constraint_set5_flag as the byte after profile_idc. */
  constraintFlags: number;
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  frameMbsOnly: boolean;
  /** Displayed size: coded macroblocks minus the frame cropping rectangle. */
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** scaling_list() (7.3.2.1.1.1): only parsed to skip it. */
function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = r.se();
      if (delta < -128 || delta > 127) throw new SpsError(`delta_scale ${delta} out of range`);
      next = (last + delta + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

/** Parses an SPS NAL unit (with its one-byte NAL header, nal_unit_type 7). */
export function parseSps(nal: Buffer): AvcSps {
  try {
    return parseSpsNal(nal);
  } catch (err) {
    if (err instanceof BitsEnd) throw new SpsError(err.message);
    throw err;
  }
}

function parseSpsNal(nal: Buffer): AvcSps {
  if (nal.length < 4) throw new SpsError(`${nal.length} bytes`);
  if ((nal[0] & 0x1f) !== 7) throw new SpsError(`nal_unit_type ${nal[0] & 0x1f}, expected 7`);
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const profileIdc = r.bits(8);
  const constraintFlags = r.bits(8);
  const levelIdc = r.bits(8);
  const spsId = r.ue();
  if (spsId > 31) throw new SpsError(`seq_parameter_set_id ${spsId}`);
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new SpsError(`chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.bit() === 1;
    bitDepthLuma = r.ue() + 8;
    r.ue(); // bit_depth_chroma_minus8
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit() === 1) {
      // seq_scaling_matrix_present_flag
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.bit() === 1) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.bit(); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ue();
    if (cycle > 255) throw new SpsError(`num_ref_frames_in_pic_order_cnt_cycle ${cycle}`);
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) {
    throw new SpsError(`pic_order_cnt_type ${pocType}`);
  }
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit() === 1;
  if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  let crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (r.bit() === 1) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };
  // 7.4.2.1.1: CropUnitX / CropUnitY from ChromaArrayType (0 when 4:4:4 is coded as separate planes).
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2;
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
  const width = widthMbs * 16 - cropUnitX * (crop.left + crop.right);
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (crop.top + crop.bottom);
  if (width <= 0 || height <= 0) throw new SpsError(`cropping leaves ${width}x${height}`);
  return { profileIdc, constraintFlags, levelIdc, chromaFormatIdc, bitDepthLuma, frameMbsOnly, width, height };
}

/** SRS's names for profile_idc (srs_avc_profile2str), so SRS tooling reads our API. */
export function avcProfileName(profileIdc: number): string {
  const names: Record<number, string> = {
    66: 'Baseline',
    77: 'Main',
    88: 'Extended',
    100: 'High',
    110: 'High(10)',
    122: 'High(422)',
    144: 'High(444)',
    244: 'High(444+Predictive)',
  };
  return names[profileIdc] ?? 'Other';
}

/** SRS's names for level_idc (srs_avc_level2str): 30 → "3", 31 → "3.1". */
export function avcLevelName(levelIdc: number): string {
  const known = [10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52];
  if (!known.includes(levelIdc)) return 'Other';
  return levelIdc % 10 === 0 ? String(levelIdc / 10) : `${Math.floor(levelIdc / 10)}.${levelIdc % 10}`;
}
