/**
 * The one frame classifier: what an FLV tag body (= RTMP media message payload) is — sequence
 * header, keyframe, frame, end of sequence, command — and which codec, for the legacy FLV tags
 * (Adobe FLV spec v10, E.4.2.1 AUDIODATA, E.4.3.1 VIDEODATA, AVCVIDEOPACKET, AACAUDIODATA) and
 * Enhanced RTMP v1/v2 (veovera enhanced-rtmp: ExVideoTagHeader, ExAudioTagHeader, ModEx,
 * Multitrack).
 *
 * Pure and total: any bytes classify (short or malformed ones as 'unknown'), nothing throws.
 */
import { MediaType, type MediaMessage } from './media';

/** E.4.3.1 VIDEODATA FrameType (UB4; 3 bits after IsExHeader in E-RTMP). */
export const VideoFrameType = {
  KeyFrame: 1,
  InterFrame: 2,
  DisposableInterFrame: 3,
  GeneratedKeyFrame: 4,
  /** Video info / command frame (E-RTMP: VideoCommand UI8 follows, no FourCC). */
  Command: 5,
} as const;

/** E-RTMP VideoPacketType (UB4 after FrameType when IsExHeader is set). */
export const VideoPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  /** CodedFrames without the SI24 CompositionTime (it is 0). */
  CodedFramesX: 3,
  /** AMF-encoded metadata (e.g. colorInfo), not video. */
  Metadata: 4,
  /** The bitstream is carried as MPEG-2 TS; stands in for SequenceStart. */
  MPEG2TSSequenceStart: 5,
  Multitrack: 6,
  ModEx: 7,
} as const;

/** E-RTMP AudioPacketType (UB4 after SoundFormat 9). */
export const AudioPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  MultichannelConfig: 4,
  Multitrack: 5,
  ModEx: 7,
} as const;

/** E-RTMP AvMultitrackType (UB4 before the inner packet type). */
export const AvMultitrackType = { OneTrack: 0, ManyTracks: 1, ManyTracksManyCodecs: 2 } as const;

/** E.4.3.1 CodecID of legacy VIDEODATA (12 = HEVC and 13 = AV1 are the non-standard CDN extension SRS and NMS also read). */
export const VideoCodecId = { SorensonH263: 2, ScreenVideo: 3, VP6: 4, VP6Alpha: 5, ScreenVideo2: 6, AVC: 7, LegacyHEVC: 12, LegacyAV1: 13 } as const;

/** E.4.2.1 SoundFormat of legacy AUDIODATA; 9 is E-RTMP's ExHeader marker. */
export const SoundFormat = { MP3: 2, ExHeader: 9, AAC: 10, Speex: 11, MP3_8kHz: 14 } as const;

/** AVCPacketType / AACPacketType of the legacy forms (E.4.3.1 AVCVIDEOPACKET, E.4.2.1 AACAUDIODATA). */
export const LegacyPacketType = { SequenceHeader: 0, Frame: 1, EndOfSequence: 2 } as const;

export type MediaCodec = 'avc' | 'hevc' | 'av1' | 'vp9' | 'vp8' | 'vvc' | 'aac' | 'opus' | 'mp3' | 'ac3' | 'eac3' | 'flac' | 'other';

/** E-RTMP FourCC → codec (VideoFourCc / AudioFourCc tables). */
export const FOURCC_CODECS: Readonly<Record<string, MediaCodec>> = {
  avc1: 'avc',
  hvc1: 'hevc',
  av01: 'av1',
  vp09: 'vp9',
  vp08: 'vp8',
  vvc1: 'vvc',
  mp4a: 'aac',
  Opus: 'opus',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
  fLaC: 'flac',
  '.mp3': 'mp3',
};

/** The FourCCs the E-RTMP `fourCcList` may name that this project passes through (all of the above). */
export const KNOWN_FOURCCS: readonly string[] = Object.keys(FOURCC_CODECS);

export type MediaRole =
  /** Decoder configuration: AVC/HEVC/AV1/VP9 record, AudioSpecificConfig, Opus header, MPEG2TSSequenceStart. */
  | 'sequence-header'
  /** Side information that must reach the decoder but is not *the* header: E-RTMP video Metadata, audio MultichannelConfig. */
  | 'config'
  | 'keyframe'
  | 'frame'
  | 'sequence-end'
  /** Video info / command frame (FrameType 5). */
  | 'command'
  /** AMF0 data (onMetaData & co). */
  | 'script'
  /** Too short, reserved packet type, or not a media message. */
  | 'unknown';

export interface MediaTagInfo {
  track: 'audio' | 'video' | 'data' | 'other';
  role: MediaRole;
  /** null for script data and unknown input. */
  codec: MediaCodec | null;
  /** E-RTMP FourCC as sent (null for legacy tags and ManyTracksManyCodecs). */
  fourCc: string | null;
  exHeader: boolean;
  /** FrameType of video, null for audio. */
  frameType: number | null;
  /** E-RTMP packet type after ModEx / Multitrack unwrapping, or the legacy AVC/AAC packet type. */
  packetType: number | null;
  multitrack: boolean;
  /** Where the codec data (record, NAL units, OBUs, raw audio) starts; for multitrack the first track header. */
  dataOffset: number;
  /** SI24 CompositionTime (ms): legacy AVC/HEVC and E-RTMP CodedFrames of avc1/hvc1; 0 otherwise. */
  compositionTime: number;
}

function info(track: MediaTagInfo['track'], role: MediaRole, rest: Partial<MediaTagInfo> = {}): MediaTagInfo {
  return { track, role, codec: null, fourCc: null, exHeader: false, frameType: null, packetType: null, multitrack: false, dataOffset: 0, compositionTime: 0, ...rest };
}

const UNKNOWN_VIDEO = (exHeader: boolean): MediaTagInfo => info('video', 'unknown', { exHeader });
const UNKNOWN_AUDIO = (exHeader: boolean): MediaTagInfo => info('audio', 'unknown', { exHeader });

function si24(p: Buffer, o: number): number {
  return ((p[o] << 16) | (p[o + 1] << 8) | p[o + 2]) << 8 >> 8;
}

/**
 * E-RTMP v2 ModEx: while the packet type is ModEx, modExDataSize = UI8 + 1 (UI16 + 1 when that is
 * 256), modExData, then modExType (UB4) | next packet type (UB4). Returns [packetType, offset] or
 * null when truncated.
 */
function skipModEx(p: Buffer, packetType: number, pos: number, modEx: number): [number, number] | null {
  while (packetType === modEx) {
    if (pos >= p.length) return null;
    let size = p[pos++] + 1;
    if (size === 256) {
      if (pos + 2 > p.length) return null;
      size = p.readUInt16BE(pos) + 1;
      pos += 2;
    }
    pos += size;
    if (pos >= p.length) return null;
    packetType = p[pos++] & 0x0f;
  }
  return [packetType, pos];
}

/** Multitrack (AvMultitrackType UB4 | packet type UB4, FourCC unless ManyTracksManyCodecs) or a plain FourCC. */
function readFourCc(p: Buffer, packetType: number, pos: number, multitrackType: number): { packetType: number; pos: number; fourCc: string | null; multitrack: boolean } | null {
  let multitrack = false;
  let manyCodecs = false;
  if (packetType === multitrackType) {
    if (pos >= p.length) return null;
    manyCodecs = p[pos] >> 4 === AvMultitrackType.ManyTracksManyCodecs;
    packetType = p[pos++] & 0x0f;
    multitrack = true;
  }
  if (manyCodecs) return { packetType, pos, fourCc: null, multitrack };
  if (pos + 4 > p.length) return null;
  return { packetType, pos: pos + 4, fourCc: p.toString('latin1', pos, pos + 4), multitrack };
}

function codecOf(fourCc: string | null): MediaCodec | null {
  return fourCc === null ? null : (FOURCC_CODECS[fourCc] ?? 'other');
}

function classifyVideo(p: Buffer): MediaTagInfo {
  if (p.length < 1) return UNKNOWN_VIDEO(false);
  const b0 = p[0];
  if (b0 & 0x80) return classifyExVideo(p);
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  const codec: MediaCodec = codecId === VideoCodecId.AVC ? 'avc' : codecId === VideoCodecId.LegacyHEVC ? 'hevc' : codecId === VideoCodecId.LegacyAV1 ? 'av1' : 'other';
  if (frameType === VideoFrameType.Command) return info('video', 'command', { codec, frameType, dataOffset: 1 });
  if (codecId === VideoCodecId.AVC || codecId === VideoCodecId.LegacyHEVC) {
    // AVCVIDEOPACKET: AVCPacketType UI8, CompositionTime SI24, data.
    if (p.length < 2) return info('video', 'unknown', { codec, frameType });
    const packetType = p[1];
    const compositionTime = p.length >= 5 ? si24(p, 2) : 0;
    const rest = { codec, frameType, packetType, dataOffset: 5, compositionTime };
    if (packetType === LegacyPacketType.SequenceHeader) return info('video', 'sequence-header', rest);
    if (packetType === LegacyPacketType.EndOfSequence) return info('video', 'sequence-end', rest);
    if (packetType !== LegacyPacketType.Frame) return info('video', 'unknown', rest);
    return info('video', frameType === VideoFrameType.KeyFrame ? 'keyframe' : 'frame', rest);
  }
  return info('video', frameType === VideoFrameType.KeyFrame ? 'keyframe' : 'frame', { codec, frameType, dataOffset: 1 });
}

function classifyExVideo(p: Buffer): MediaTagInfo {
  const frameType = (p[0] >> 4) & 0x07;
  const skipped = skipModEx(p, p[0] & 0x0f, 1, VideoPacketType.ModEx);
  if (!skipped) return UNKNOWN_VIDEO(true);
  const [packetType, pos] = skipped;
  if (packetType !== VideoPacketType.Metadata && frameType === VideoFrameType.Command) {
    // VideoCommand UI8 (StartSeek / EndSeek); no FourCC.
    return info('video', 'command', { exHeader: true, frameType, packetType, dataOffset: pos });
  }
  const head = readFourCc(p, packetType, pos, VideoPacketType.Multitrack);
  if (!head) return UNKNOWN_VIDEO(true);
  const rest: Partial<MediaTagInfo> = {
    exHeader: true,
    frameType,
    packetType: head.packetType,
    fourCc: head.fourCc,
    codec: codecOf(head.fourCc),
    multitrack: head.multitrack,
    dataOffset: head.pos,
  };
  switch (head.packetType) {
    case VideoPacketType.SequenceStart:
    case VideoPacketType.MPEG2TSSequenceStart:
      return info('video', 'sequence-header', rest);
    case VideoPacketType.SequenceEnd:
      return info('video', 'sequence-end', rest);
    case VideoPacketType.Metadata:
      return info('video', 'config', rest);
    case VideoPacketType.CodedFrames:
    case VideoPacketType.CodedFramesX: {
      // CodedFrames of avc1 / hvc1 carry SI24 CompositionTime first (single track only here).
      if (head.packetType === VideoPacketType.CodedFrames && !head.multitrack && (head.fourCc === 'avc1' || head.fourCc === 'hvc1')) {
        if (head.pos + 3 > p.length) return UNKNOWN_VIDEO(true);
        rest.compositionTime = si24(p, head.pos);
        rest.dataOffset = head.pos + 3;
      }
      return info('video', frameType === VideoFrameType.KeyFrame ? 'keyframe' : 'frame', rest);
    }
    default:
      return info('video', 'unknown', rest);
  }
}

function classifyAudio(p: Buffer): MediaTagInfo {
  if (p.length < 1) return UNKNOWN_AUDIO(false);
  const format = p[0] >> 4;
  if (format === SoundFormat.ExHeader) return classifyExAudio(p);
  if (format === SoundFormat.AAC) {
    if (p.length < 2) return info('audio', 'unknown', { codec: 'aac' });
    const packetType = p[1];
    const rest = { codec: 'aac' as const, packetType, dataOffset: 2 };
    if (packetType === LegacyPacketType.SequenceHeader) return info('audio', 'sequence-header', rest);
    return info('audio', packetType === LegacyPacketType.Frame ? 'frame' : 'unknown', rest);
  }
  const codec: MediaCodec = format === SoundFormat.MP3 || format === SoundFormat.MP3_8kHz ? 'mp3' : 'other';
  return info('audio', 'frame', { codec, dataOffset: 1 });
}

function classifyExAudio(p: Buffer): MediaTagInfo {
  const skipped = skipModEx(p, p[0] & 0x0f, 1, AudioPacketType.ModEx);
  if (!skipped) return UNKNOWN_AUDIO(true);
  const head = readFourCc(p, skipped[0], skipped[1], AudioPacketType.Multitrack);
  if (!head) return UNKNOWN_AUDIO(true);
  const rest: Partial<MediaTagInfo> = {
    exHeader: true,
    packetType: head.packetType,
    fourCc: head.fourCc,
    codec: codecOf(head.fourCc),
    multitrack: head.multitrack,
    dataOffset: head.pos,
  };
  switch (head.packetType) {
    case AudioPacketType.SequenceStart:
      return info('audio', 'sequence-header', rest);
    case AudioPacketType.CodedFrames:
      return info('audio', 'frame', rest);
    case AudioPacketType.SequenceEnd:
      return info('audio', 'sequence-end', rest);
    case AudioPacketType.MultichannelConfig:
      return info('audio', 'config', rest);
    default:
      return info('audio', 'unknown', rest);
  }
}

/** Classifies an FLV tag body of the given tag / message type (8 audio, 9 video, 18 data). */
export function classifyTag(type: number, body: Buffer): MediaTagInfo {
  if (type === MediaType.Video) return classifyVideo(body);
  if (type === MediaType.Audio) return classifyAudio(body);
  if (type === MediaType.Data) return info('data', 'script');
  return info('other', 'unknown');
}

export function classifyMessage(msg: MediaMessage): MediaTagInfo {
  return classifyTag(msg.type, msg.payload);
}

/** A decoder configuration (any codec, audio or video): cached and sent to late joiners first. */
export function isSequenceHeader(msg: MediaMessage): boolean {
  return msg.type !== MediaType.Data && classifyMessage(msg).role === 'sequence-header';
}

/** A video keyframe with coded data (not a sequence header, not a command), any codec. */
export function isVideoKeyframe(msg: MediaMessage): boolean {
  return msg.type === MediaType.Video && classifyVideo(msg.payload).role === 'keyframe';
}

export function isVideoSequenceHeader(msg: MediaMessage): boolean {
  return msg.type === MediaType.Video && classifyVideo(msg.payload).role === 'sequence-header';
}

export function isAudioSequenceHeader(msg: MediaMessage): boolean {
  return msg.type === MediaType.Audio && classifyAudio(msg.payload).role === 'sequence-header';
}
