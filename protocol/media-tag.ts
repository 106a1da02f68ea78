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

/** One object shape for every answer (the classifier runs per message per viewer: keep it monomorphic). */
function make(
  track: MediaTagInfo['track'],
  role: MediaRole,
  codec: MediaCodec | null = null,
  exHeader = false,
  frameType: number | null = null,
  packetType: number | null = null,
  fourCc: string | null = null,
  multitrack = false,
  dataOffset = 0,
  compositionTime = 0,
): MediaTagInfo {
  return { track, role, codec, fourCc, exHeader, frameType, packetType, multitrack, dataOffset, compositionTime };
}

function si24(p: Buffer, o: number): number {
  return ((p[o] << 16) | (p[o + 1] << 8) | p[o + 2]) << 8 >> 8;
}

/** Known FourCCs by their big-endian UI32 (no string decoding for the usual ones). */
const FOURCC_BY_U32 = new Map<number, string>(KNOWN_FOURCCS.map((f) => [Buffer.from(f, 'latin1').readUInt32BE(0), f]));

function fourCcAt(p: Buffer, pos: number): string {
  const u32 = ((p[pos] << 24) | (p[pos + 1] << 16) | (p[pos + 2] << 8) | p[pos + 3]) >>> 0;
  return FOURCC_BY_U32.get(u32) ?? p.toString('latin1', pos, pos + 4);
}

function codecOf(fourCc: string | null): MediaCodec | null {
  return fourCc === null ? null : (FOURCC_CODECS[fourCc] ?? 'other');
}

/**
 * The ExHeader prefix after byte 0: E-RTMP v2 ModEx (while the packet type is ModEx,
 * modExDataSize = UI8 + 1, or UI16 + 1 when that is 256, modExData, then modExType (UB4) | next
 * packet type (UB4)), then Multitrack (AvMultitrackType UB4 | packet type UB4, FourCC unless
 * ManyTracksManyCodecs) or a plain FourCC. Video command frames stop before the FourCC.
 * Positions are absolute in `p`; `ok` false when truncated.
 */
interface ExHead {
  ok: boolean;
  packetType: number;
  pos: number;
  fourCc: string | null;
  multitrack: boolean;
  command: boolean;
}

function readExHead(p: Buffer, o: number, modEx: number, multitrackType: number, commandFrame: boolean, metadataType: number): ExHead {
  const head: ExHead = { ok: false, packetType: p[o] & 0x0f, pos: o + 1, fourCc: null, multitrack: false, command: false };
  let pos = o + 1;
  let packetType = head.packetType;
  while (packetType === modEx) {
    if (pos >= p.length) return head;
    let size = p[pos++] + 1;
    if (size === 256) {
      if (pos + 2 > p.length) return head;
      size = p.readUInt16BE(pos) + 1;
      pos += 2;
    }
    pos += size;
    if (pos >= p.length) return head;
    packetType = p[pos++] & 0x0f;
  }
  head.packetType = packetType;
  if (commandFrame && packetType !== metadataType) {
    // VideoCommand UI8 (StartSeek / EndSeek) follows; no FourCC.
    head.ok = true;
    head.command = true;
    head.pos = pos;
    return head;
  }
  let manyCodecs = false;
  if (packetType === multitrackType) {
    if (pos >= p.length) return head;
    manyCodecs = p[pos] >> 4 === AvMultitrackType.ManyTracksManyCodecs;
    head.packetType = p[pos++] & 0x0f;
    head.multitrack = true;
  }
  if (!manyCodecs) {
    if (pos + 4 > p.length) return head;
    head.fourCc = fourCcAt(p, pos);
    pos += 4;
  }
  head.ok = true;
  head.pos = pos;
  return head;
}

function classifyVideo(p: Buffer, o: number): MediaTagInfo {
  if (o >= p.length) return make('video', 'unknown');
  const b0 = p[o];
  if (b0 & 0x80) return classifyExVideo(p, o);
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  const codec: MediaCodec = codecId === VideoCodecId.AVC ? 'avc' : codecId === VideoCodecId.LegacyHEVC ? 'hevc' : codecId === VideoCodecId.LegacyAV1 ? 'av1' : 'other';
  if (frameType === VideoFrameType.Command) return make('video', 'command', codec, false, frameType, null, null, false, 1);
  if (codecId === VideoCodecId.AVC || codecId === VideoCodecId.LegacyHEVC) {
    // AVCVIDEOPACKET: AVCPacketType UI8, CompositionTime SI24, data.
    if (o + 2 > p.length) return make('video', 'unknown', codec, false, frameType);
    const packetType = p[o + 1];
    const cts = o + 5 <= p.length ? si24(p, o + 2) : 0;
    const role: MediaRole =
      packetType === LegacyPacketType.SequenceHeader
        ? 'sequence-header'
        : packetType === LegacyPacketType.EndOfSequence
          ? 'sequence-end'
          : packetType !== LegacyPacketType.Frame
            ? 'unknown'
            : frameType === VideoFrameType.KeyFrame
              ? 'keyframe'
              : 'frame';
    return make('video', role, codec, false, frameType, packetType, null, false, 5, cts);
  }
  return make('video', frameType === VideoFrameType.KeyFrame ? 'keyframe' : 'frame', codec, false, frameType, null, null, false, 1);
}

function classifyExVideo(p: Buffer, o: number): MediaTagInfo {
  const frameType = (p[o] >> 4) & 0x07;
  const head = readExHead(p, o, VideoPacketType.ModEx, VideoPacketType.Multitrack, frameType === VideoFrameType.Command, VideoPacketType.Metadata);
  if (!head.ok) return make('video', 'unknown', null, true);
  const { packetType, fourCc, multitrack } = head;
  if (head.command) return make('video', 'command', null, true, frameType, packetType, null, false, head.pos - o);
  const codec = codecOf(fourCc);
  let role: MediaRole;
  let dataOffset = head.pos - o;
  let cts = 0;
  switch (packetType) {
    case VideoPacketType.SequenceStart:
    case VideoPacketType.MPEG2TSSequenceStart:
      role = 'sequence-header';
      break;
    case VideoPacketType.SequenceEnd:
      role = 'sequence-end';
      break;
    case VideoPacketType.Metadata:
      role = 'config';
      break;
    case VideoPacketType.CodedFrames:
    case VideoPacketType.CodedFramesX:
      // CodedFrames of avc1 / hvc1 carry SI24 CompositionTime first (single track only here).
      if (packetType === VideoPacketType.CodedFrames && !multitrack && (fourCc === 'avc1' || fourCc === 'hvc1')) {
        if (head.pos + 3 > p.length) return make('video', 'unknown', null, true);
        cts = si24(p, head.pos);
        dataOffset += 3;
      }
      role = frameType === VideoFrameType.KeyFrame ? 'keyframe' : 'frame';
      break;
    default:
      role = 'unknown';
  }
  return make('video', role, codec, true, frameType, packetType, fourCc, multitrack, dataOffset, cts);
}

function classifyAudio(p: Buffer, o: number): MediaTagInfo {
  if (o >= p.length) return make('audio', 'unknown');
  const format = p[o] >> 4;
  if (format === SoundFormat.ExHeader) return classifyExAudio(p, o);
  if (format === SoundFormat.AAC) {
    if (o + 2 > p.length) return make('audio', 'unknown', 'aac');
    const packetType = p[o + 1];
    const role: MediaRole = packetType === LegacyPacketType.SequenceHeader ? 'sequence-header' : packetType === LegacyPacketType.Frame ? 'frame' : 'unknown';
    return make('audio', role, 'aac', false, null, packetType, null, false, 2);
  }
  const codec: MediaCodec = format === SoundFormat.MP3 || format === SoundFormat.MP3_8kHz ? 'mp3' : 'other';
  return make('audio', 'frame', codec, false, null, null, null, false, 1);
}

function classifyExAudio(p: Buffer, o: number): MediaTagInfo {
  const head = readExHead(p, o, AudioPacketType.ModEx, AudioPacketType.Multitrack, false, -1);
  if (!head.ok) return make('audio', 'unknown', null, true);
  const role: MediaRole =
    head.packetType === AudioPacketType.SequenceStart
      ? 'sequence-header'
      : head.packetType === AudioPacketType.CodedFrames
        ? 'frame'
        : head.packetType === AudioPacketType.SequenceEnd
          ? 'sequence-end'
          : head.packetType === AudioPacketType.MultichannelConfig
            ? 'config'
            : 'unknown';
  return make('audio', role, codecOf(head.fourCc), true, null, head.packetType, head.fourCc, head.multitrack, head.pos - o);
}

/**
 * Classifies the FLV tag body of the given tag / message type (8 audio, 9 video, 18 data) that
 * starts at `offset` of `body` (default 0: the whole buffer; `dataOffset` is relative to it).
 */
export function classifyTag(type: number, body: Buffer, offset = 0): MediaTagInfo {
  if (type === MediaType.Video) return classifyVideo(body, offset);
  if (type === MediaType.Audio) return classifyAudio(body, offset);
  if (type === MediaType.Data) return make('data', 'script');
  return make('other', 'unknown');
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
  return msg.type === MediaType.Video && classifyVideo(msg.payload, 0).role === 'keyframe';
}

export function isVideoSequenceHeader(msg: MediaMessage): boolean {
  return msg.type === MediaType.Video && classifyVideo(msg.payload, 0).role === 'sequence-header';
}

export function isAudioSequenceHeader(msg: MediaMessage): boolean {
  return msg.type === MediaType.Audio && classifyAudio(msg.payload, 0).role === 'sequence-header';
}
