/**
 * Classifies an RTMP media message by its FLV tag body header (Adobe FLV spec v10:
 * E.4.2.1 AUDIODATA / AACAUDIODATA, E.4.3.1 VIDEODATA / AVCVIDEOPACKET).
 */
import type { MediaMessage } from '../media';
import { MediaType } from '../media';
import { MediaFormatError } from './errors';

export type FlvMedia =
  | { kind: 'avc-config'; record: Buffer }
  | { kind: 'avc-frame'; keyframe: boolean; /** CompositionTime, ms (PTS - DTS) */ cts: number; data: Buffer }
  | { kind: 'avc-end' }
  | { kind: 'aac-config'; config: Buffer }
  | { kind: 'aac-frame'; data: Buffer }
  | { kind: 'ignored'; reason: string };

const FRAME_KEY = 1;
const FRAME_VIDEO_INFO = 5;
const CODEC_AVC = 7;
const SOUND_AAC = 10;

export function parseFlvMedia(msg: MediaMessage): FlvMedia {
  const p = msg.payload;
  if (msg.type === MediaType.Video) {
    if (p.length < 1) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'empty video tag');
    if (p[0] & 0x80) return { kind: 'ignored', reason: 'enhanced RTMP video (HEVC/AV1/VP9) is not supported' };
    const frameType = p[0] >> 4;
    const codecId = p[0] & 0x0f;
    if (codecId !== CODEC_AVC) return { kind: 'ignored', reason: `video codec id ${codecId} is not supported` };
    if (frameType === FRAME_VIDEO_INFO) return { kind: 'ignored', reason: 'video info / command frame' };
    if (p.length < 5) throw new MediaFormatError('FLV_TAG_TRUNCATED', `AVC video tag of ${p.length} bytes`);
    const packetType = p[1];
    const cts = ((p[2] << 16) | (p[3] << 8) | p[4]) << 8 >> 8; // SI24
    const data = p.subarray(5);
    switch (packetType) {
      case 0:
        return { kind: 'avc-config', record: data };
      case 1:
        return { kind: 'avc-frame', keyframe: frameType === FRAME_KEY, cts, data };
      case 2:
        return { kind: 'avc-end' };
      default:
        return { kind: 'ignored', reason: `AVCPacketType ${packetType}` };
    }
  }
  if (msg.type === MediaType.Audio) {
    if (p.length < 1) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'empty audio tag');
    const soundFormat = p[0] >> 4;
    if (soundFormat !== SOUND_AAC) return { kind: 'ignored', reason: `sound format ${soundFormat} is not supported` };
    if (p.length < 2) throw new MediaFormatError('FLV_TAG_TRUNCATED', 'AAC audio tag without AACPacketType');
    const data = p.subarray(2);
    if (p[1] === 0) return { kind: 'aac-config', config: data };
    if (p[1] === 1) return { kind: 'aac-frame', data };
    return { kind: 'ignored', reason: `AACPacketType ${p[1]}` };
  }
  return { kind: 'ignored', reason: 'script data' };
}
