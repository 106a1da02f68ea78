/**
 * Codec details of Enhanced RTMP sequence headers, for the node API (SRS-style names): HEVC from
 * the hvcC's SPS (ITU-T H.265 7.3.2.2), AV1 from the av1C's sequence header OBU (AV1 spec 5.5),
 * VP9 and Opus by name (Opus channel count from its ID header, RFC 7845 5.1). Pure and total:
 * unparsable input gives the codec name with null / zero details, never an exception.
 */
import { BitReader, BitsEnd, nalToRbsp } from './bits';
import { classifyTag, type MediaCodec } from './media-tag';
import { MediaType } from './media';

export interface CodecVideoDetails {
  codec: string;
  profile: string | null;
  level: string | null;
  width: number;
  height: number;
}

export interface CodecAudioDetails {
  codec: string;
  sample_rate: number;
  channel: number;
  profile: string;
}

/** SRS's codec names for what Enhanced RTMP FourCCs name. */
export const CODEC_DISPLAY_NAMES: Readonly<Record<MediaCodec, string>> = {
  avc: 'H264',
  hevc: 'HEVC',
  av1: 'AV1',
  vp9: 'VP9',
  vp8: 'VP8',
  vvc: 'VVC',
  aac: 'AAC',
  opus: 'Opus',
  mp3: 'MP3',
  ac3: 'AC3',
  eac3: 'EAC3',
  flac: 'FLAC',
  other: 'Other',
};

const HEVC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'Main10', 3: 'MainStillPicture', 4: 'RExt', 9: 'SCC' };

export interface HevcSps {
  profileIdc: number;
  levelIdc: number;
  chromaFormatIdc: number;
  /** Displayed size: pic_width/height_in_luma_samples minus the conformance window. */
  width: number;
  height: number;
}

/** seq_parameter_set_rbsp (H.265 7.3.2.2) up to the conformance window; `nal` includes its 2-byte header. */
export function parseHevcSps(nal: Buffer): HevcSps {
  const r = new BitReader(nalToRbsp(nal.subarray(2)));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.bits(3);
  r.skip(1); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, maxSubLayersMinus1) (7.3.3): general part is 88 bits + general_level_idc.
  r.skip(2 + 1); // general_profile_space, general_tier_flag
  const profileIdc = r.bits(5);
  r.skip(32 + 48); // compatibility flags, progressive/interlaced/constraint flags
  const levelIdc = r.bits(8);
  const subProfile: number[] = [];
  const subLevel: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.bit());
    subLevel.push(r.bit());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
  let width = r.ue();
  let height = r.ue();
  if (r.bit()) {
    // conformance_window_flag: offsets in chroma units (table 6-1 SubWidthC / SubHeightC).
    const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subH = chromaFormatIdc === 1 ? 2 : 1;
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= subW * (left + right);
    height -= subH * (top + bottom);
  }
  return { profileIdc, levelIdc, chromaFormatIdc, width, height };
}

export interface Av1SequenceHeader {
  seqProfile: number;
  seqLevelIdx: number;
  width: number;
  height: number;
}

/** sequence_header_obu (AV1 spec 5.5.1) up to max_frame_height_minus_1; `obu` is the OBU payload. */
export function parseAv1SequenceHeader(obu: Buffer): Av1SequenceHeader {
  const r = new BitReader(obu);
  const seqProfile = r.bits(3);
  r.skip(1); // still_picture
  const reduced = r.bit();
  let seqLevelIdx = 0;
  if (reduced) {
    seqLevelIdx = r.bits(5);
  } else {
    let decoderModelInfo = 0;
    let bufferDelayLength = 0;
    if (r.bit()) {
      // timing_info (5.5.3)
      r.skip(32 + 32);
      if (r.bit()) r.uvlc(); // equal_picture_interval → num_ticks_per_picture_minus_1
      decoderModelInfo = r.bit();
      if (decoderModelInfo) {
        bufferDelayLength = r.bits(5) + 1; // decoder_model_info (5.5.4)
        r.skip(32 + 5 + 5);
      }
    }
    const initialDisplayDelay = r.bit();
    const ops = r.bits(5) + 1;
    for (let i = 0; i < ops; i++) {
      r.skip(12); // operating_point_idc
      const level = r.bits(5);
      if (i === 0) seqLevelIdx = level;
      if (level > 7) r.skip(1); // seq_tier
      if (decoderModelInfo && r.bit()) r.skip(2 * bufferDelayLength + 1); // operating_parameters_info (5.5.5)
      if (initialDisplayDelay && r.bit()) r.skip(4);
    }
  }
  const wBits = r.bits(4) + 1;
  const hBits = r.bits(4) + 1;
  const width = r.bits(wBits) + 1;
  const height = r.bits(hBits) + 1;
  return { seqProfile, seqLevelIdx, width, height };
}

/** The first OBU_SEQUENCE_HEADER (obu_type 1) payload among `configOBUs` (AV1 spec 5.3: OBU header, leb128 size). */
function av1SequenceHeaderObu(obus: Buffer): Buffer | null {
  let pos = 0;
  while (pos < obus.length) {
    const header = obus[pos];
    const type = (header >> 3) & 0x0f;
    const hasExtension = (header >> 2) & 1;
    const hasSize = (header >> 1) & 1;
    pos += 1 + hasExtension;
    let size = obus.length - pos;
    if (hasSize) {
      size = 0;
      for (let i = 0; i < 8; i++) {
        if (pos >= obus.length) return null;
        const b = obus[pos++];
        size += (b & 0x7f) * 2 ** (7 * i);
        if (!(b & 0x80)) break;
      }
    }
    if (pos + size > obus.length) return null;
    if (type === 1) return obus.subarray(pos, pos + size);
    pos += size;
  }
  return null;
}

const AV1_PROFILES = ['Main', 'High', 'Professional'];

function hevcDetails(record: Buffer): CodecVideoDetails {
  const none: CodecVideoDetails = { codec: 'HEVC', profile: null, level: null, width: 0, height: 0 };
  // HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): 23 fixed bytes, then NAL arrays.
  if (record.length < 23) return none;
  let off = 23;
  for (let a = 0; a < record[22] && off + 3 <= record.length; a++) {
    const type = record[off] & 0x3f;
    const count = record.readUInt16BE(off + 1);
    off += 3;
    for (let i = 0; i < count && off + 2 <= record.length; i++) {
      const len = record.readUInt16BE(off);
      const nal = record.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      if (type !== 33 || nal.length < 3) continue;
      const sps = parseHevcSps(nal);
      // general_level_idc = 30 × level (H.265 A.4.1).
      const level = sps.levelIdc % 30 === 0 ? String(sps.levelIdc / 30) : (sps.levelIdc / 30).toFixed(1);
      return { codec: 'HEVC', profile: HEVC_PROFILES[sps.profileIdc] ?? 'Other', level, width: sps.width, height: sps.height };
    }
  }
  return none;
}

function av1Details(record: Buffer): CodecVideoDetails {
  const none: CodecVideoDetails = { codec: 'AV1', profile: null, level: null, width: 0, height: 0 };
  // AV1CodecConfigurationRecord (AV1 ISOBMFF binding 2.3.3): marker|version, seq_profile|seq_level_idx_0, flags, delay, configOBUs.
  if (record.length < 4 || record[0] !== 0x81) return none;
  const obu = av1SequenceHeaderObu(record.subarray(4));
  const profile = AV1_PROFILES[record[1] >> 5] ?? 'Other';
  const levelIdx = record[1] & 0x1f;
  const level = levelIdx === 31 ? null : `${2 + (levelIdx >> 2)}.${levelIdx & 3}`;
  if (!obu) return { ...none, profile, level };
  const seq = parseAv1SequenceHeader(obu);
  return { codec: 'AV1', profile, level, width: seq.width, height: seq.height };
}

/** An Enhanced RTMP video sequence header (SequenceStart tag body; also legacy codec id 12 HEVC) → SRS's video object. */
export function exVideoDetails(tag: Buffer): CodecVideoDetails {
  const t = classifyTag(MediaType.Video, tag);
  const codec = CODEC_DISPLAY_NAMES[t.codec ?? 'other'];
  const none: CodecVideoDetails = { codec, profile: null, level: null, width: 0, height: 0 };
  if (t.role !== 'sequence-header' || t.multitrack) return none;
  const record = tag.subarray(t.dataOffset);
  try {
    if (t.codec === 'hevc') return hevcDetails(record);
    if (t.codec === 'av1') return av1Details(record);
  } catch (err) {
    if (!(err instanceof BitsEnd)) throw err;
  }
  return none;
}

/** An Enhanced RTMP audio sequence header (or any audio tag) → SRS's audio object. */
export function exAudioDetails(tag: Buffer): CodecAudioDetails {
  const t = classifyTag(MediaType.Audio, tag);
  const codec = CODEC_DISPLAY_NAMES[t.codec ?? 'other'];
  const data = tag.subarray(t.dataOffset);
  // OpusHead (RFC 7845 5.1): "OpusHead", version, output channel count, pre-skip, input sample rate.
  if (t.codec === 'opus' && t.role === 'sequence-header' && data.length >= 10 && data.toString('latin1', 0, 8) === 'OpusHead') {
    return { codec, sample_rate: 48000, channel: data[9], profile: 'Other' };
  }
  return { codec, sample_rate: t.codec === 'opus' ? 48000 : 0, channel: 0, profile: 'Other' };
}
