/**
 * Codec details of a stream from its sequence headers, named as SRS names them in its HTTP API
 * (`srs_video_codec_id2str`, `srs_audio_codec_id2str`, `srs_aac_object2str`). Pure, no I/O.
 *
 * Input: FLV tag bodies (Adobe FLV spec v10.1 E.4.2.1 AUDIODATA, E.4.3.1 VIDEODATA; Enhanced RTMP
 * v2 ExVideoTagHeader: IsExHeader bit, PacketType, FourCC). AVC details come from the
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1) and its first SPS (ITU-T H.264 7.3.2.1.1,
 * protocol/avc-sps.ts); AAC details from the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
 */
import { avcLevelName, avcProfileName, parseSps } from './avc-sps';
import { exAudioDetails, exVideoDetails } from './codec-names';
import { parseAudioSpecificConfig } from './mpegts/aac';
import { parseAvcDecoderConfigurationRecord } from './mpegts/avc';

export interface VideoInfo {
  codec: string;
  profile: string | null;
  level: string | null;
  width: number;
  height: number;
}

export interface AudioInfo {
  codec: string;
  sample_rate: number;
  channel: number;
  profile: string;
}

/** FLV CodecID (VIDEODATA low nibble) → SRS's name. */
export const VIDEO_CODECS: Readonly<Record<number, string>> = { 2: 'H263', 3: 'Screen', 4: 'VP6', 5: 'VP6Alpha', 6: 'Screen2', 7: 'H264', 12: 'HEVC', 13: 'AV1' };
/** FLV SoundFormat (AUDIODATA high nibble) → SRS's name. */
export const AUDIO_CODECS: Readonly<Record<number, string>> = { 0: 'LinearPCMPlatformEndian', 1: 'ADPCM', 2: 'MP3', 3: 'LinearPCMLittleEndian', 4: 'Nellymoser16kHzMono', 5: 'Nellymoser8kHzMono', 6: 'Nellymoser', 7: 'ReservedG711AlawLogarithmicPCM', 8: 'ReservedG711MuLawLogarithmicPCM', 10: 'AAC', 11: 'Speex', 13: 'Opus', 14: 'ReservedMP3_8kHz' };
/** audioObjectType → SRS's AAC profile name (srs_aac_object2str). */
export const AAC_OBJECTS: Readonly<Record<number, string>> = { 1: 'Main', 2: 'LC', 3: 'SSR', 5: 'HE', 29: 'HEv2' };
/** FLV SoundRate (2 bits) for non-AAC audio. */
const FLV_SOUND_RATES = [5512, 11025, 22050, 44100];

const FLV_CODEC_AVC = 7;
const FLV_SOUND_FORMAT_AAC = 10;

/** `VIDEODATA` of a sequence header tag → SRS's video object; null when absent or too short. */
export function videoInfo(tag: Buffer | null | undefined): VideoInfo | null {
  if (!tag || tag.length < 2) return null;
  // Enhanced RTMP (IsExHeader) and legacy codec id 12: HEVC / AV1 / VP9, size and profile from hvcC / av1C.
  if (tag[0] & 0x80 || (tag[0] & 0x0f) === 12) return exVideoDetails(tag);
  const codecId = tag[0] & 0x0f;
  const codec = VIDEO_CODECS[codecId] ?? 'Other';
  if (codecId !== FLV_CODEC_AVC || tag[1] !== 0 || tag.length < 6) return { codec, profile: 'Other', level: 'Other', width: 0, height: 0 };
  try {
    const cfg = parseAvcDecoderConfigurationRecord(tag.subarray(5));
    const sps = parseSps(cfg.sps[0]);
    return { codec, profile: avcProfileName(sps.profileIdc), level: avcLevelName(sps.levelIdc), width: sps.width, height: sps.height };
  } catch {
    // A record or SPS we cannot read: the codec is still known, its details are not.
    return { codec, profile: 'Other', level: 'Other', width: 0, height: 0 };
  }
}

/** `AUDIODATA` of a sequence header (AAC) or any audio tag → SRS's audio object; null when absent. */
export function audioInfo(tag: Buffer | null | undefined): AudioInfo | null {
  if (!tag || tag.length < 1) return null;
  const format = tag[0] >> 4;
  if (format === 9) return exAudioDetails(tag); // Enhanced RTMP ExAudioTagHeader: Opus, mp4a, ... by FourCC
  const codec = AUDIO_CODECS[format] ?? 'Other';
  const flvChannels = (tag[0] & 0x01) + 1;
  const flvRate = FLV_SOUND_RATES[(tag[0] >> 2) & 0x03];
  if (format !== FLV_SOUND_FORMAT_AAC || tag[1] !== 0 || tag.length < 4) return { codec, sample_rate: flvRate, channel: flvChannels, profile: 'Other' };
  const asc = tag.subarray(2);
  const objectType = asc[0] >> 3;
  try {
    const cfg = parseAudioSpecificConfig(asc);
    return { codec, sample_rate: cfg.sampleRate, channel: cfg.channelConfig, profile: AAC_OBJECTS[objectType] ?? 'Other' };
  } catch {
    // An AudioSpecificConfig we cannot read: fall back to the FLV header's rate and channels.
    return { codec, sample_rate: flvRate, channel: flvChannels, profile: AAC_OBJECTS[objectType] ?? 'Other' };
  }
}
