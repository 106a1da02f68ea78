/**
 * What the TS muxer makes of an RTMP media message, from the one classifier (protocol/media-tag.ts):
 * legacy FLV tags (FLV spec v10, E.4.2.1 AACAUDIODATA, E.4.3.1 AVCVIDEOPACKET) and Enhanced RTMP
 * (ExVideoTagHeader `avc1` / `hvc1`, ExAudioTagHeader `mp4a`). MPEG-TS here carries H.264, HEVC and
 * AAC; other Enhanced RTMP codecs are `unserved` (the HLS routes say so), other legacy ones ignored.
 */
import { MediaType, type MediaMessage } from '../media';
import { classifyTag, VideoPacketType, type MediaCodec } from '../media-tag';
import { MediaFormatError } from './errors';

export type TsVideoCodec = 'avc' | 'hevc';

export type FlvMedia =
  | { kind: 'video-config'; codec: TsVideoCodec; record: Buffer }
  | { kind: 'video-frame'; codec: TsVideoCodec; keyframe: boolean; /** CompositionTime, ms (PTS - DTS) */ cts: number; data: Buffer }
  | { kind: 'video-end' }
  | { kind: 'aac-config'; config: Buffer }
  | { kind: 'aac-frame'; data: Buffer }
  /** An Enhanced RTMP codec MPEG-TS is not given here (AV1, VP9, Opus, ...). */
  | { kind: 'unserved'; track: 'audio' | 'video'; codec: MediaCodec }
  | { kind: 'ignored'; reason: string };

export function parseFlvMedia(msg: MediaMessage): FlvMedia {
  const p = msg.payload;
  if (msg.type === MediaType.Video) {
    if (p.length < 1) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'empty video tag');
    const tag = classifyTag(MediaType.Video, p);
    if (tag.exHeader && tag.codec === null && !tag.multitrack && tag.role === 'unknown') throw new MediaFormatError('FLV_TAG_TRUNCATED', `Enhanced RTMP video header of ${p.length} bytes`);
    if (tag.role === 'command') return { kind: 'ignored', reason: 'video info / command frame' };
    const codec = tag.codec;
    if (codec !== 'avc' && codec !== 'hevc') {
      if (tag.exHeader && codec !== null && codec !== 'other') return { kind: 'unserved', track: 'video', codec };
      return { kind: 'ignored', reason: tag.exHeader ? `video FourCC ${tag.fourCc ?? '(per track)'} is not supported` : `video codec id ${p[0] & 0x0f} is not supported` };
    }
    if (tag.multitrack) return { kind: 'ignored', reason: 'multitrack video is not supported' };
    if (!tag.exHeader && p.length < 5) throw new MediaFormatError('FLV_TAG_TRUNCATED', `AVC video tag of ${p.length} bytes`);
    if (tag.role === 'unknown' && tag.packetType === null) throw new MediaFormatError('FLV_TAG_TRUNCATED', `video tag of ${p.length} bytes`);
    const data = p.subarray(tag.dataOffset);
    switch (tag.role) {
      case 'sequence-header':
        if (tag.packetType === VideoPacketType.MPEG2TSSequenceStart) return { kind: 'ignored', reason: 'MPEG2TSSequenceStart' };
        return { kind: 'video-config', codec, record: data };
      case 'keyframe':
      case 'frame':
        return { kind: 'video-frame', codec, keyframe: tag.role === 'keyframe', cts: tag.compositionTime, data };
      case 'sequence-end':
        return { kind: 'video-end' };
      default:
        return { kind: 'ignored', reason: `video packet type ${String(tag.packetType)}` };
    }
  }
  if (msg.type === MediaType.Audio) {
    if (p.length < 1) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'empty audio tag');
    const tag = classifyTag(MediaType.Audio, p);
    if (tag.exHeader && tag.codec === null && !tag.multitrack) throw new MediaFormatError('FLV_TAG_TRUNCATED', `Enhanced RTMP audio header of ${p.length} bytes`);
    if (tag.codec !== 'aac') {
      if (tag.exHeader && tag.codec !== null && tag.codec !== 'other') return { kind: 'unserved', track: 'audio', codec: tag.codec };
      return { kind: 'ignored', reason: tag.exHeader ? `audio FourCC ${tag.fourCc ?? '(per track)'} is not supported` : `sound format ${p[0] >> 4} is not supported` };
    }
    if (tag.multitrack) return { kind: 'ignored', reason: 'multitrack audio is not supported' };
    if (tag.packetType === null) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'AAC audio tag without AACPacketType');
    const data = p.subarray(tag.dataOffset);
    if (tag.role === 'sequence-header') return { kind: 'aac-config', config: data };
    if (tag.role === 'frame') return { kind: 'aac-frame', data };
    return { kind: 'ignored', reason: `AAC packet type ${tag.packetType}` };
  }
  return { kind: 'ignored', reason: 'script data' };
}
