/**
 * node-media-server 4.4.3 sorts every media packet by `flags` (Flv.parserTag): 0 audio sequence
 * header, 1 audio frame, 2 video sequence header, 3 keyframe (starts the GOP cache), 4 other video,
 * 5 metadata. Its Enhanced RTMP reading is partial: a video tag whose FourCC is not `hvc1` / `av01`
 * / `vp09` (e.g. `avc1`, `vp08`), or whose packet type is SequenceEnd, MPEG2TSSequenceStart,
 * Multitrack or ModEx, keeps flags 0 and **replaces the stream's cached audio sequence header**;
 * a multitrack audio SequenceStart is cached as a frame. For Enhanced RTMP tags we set the flags
 * from the one classifier (protocol/media-tag.ts) instead; legacy tags keep NMS's own flags.
 */
import { MediaType } from '../protocol/media';
import { classifyTag, SoundFormat } from '../protocol/media-tag';

export const NmsFlags = { AudioHeader: 0, AudioFrame: 1, VideoHeader: 2, KeyFrame: 3, VideoFrame: 4, Metadata: 5 } as const;

export function nmsPacketFlags(type: number, payload: Buffer, nmsFlags: number): number {
  if (payload.length === 0) return nmsFlags;
  if (type === MediaType.Video && payload[0] & 0x80) {
    const role = classifyTag(type, payload).role;
    if (role === 'sequence-header') return NmsFlags.VideoHeader;
    return role === 'keyframe' ? NmsFlags.KeyFrame : NmsFlags.VideoFrame;
  }
  if (type === MediaType.Audio && payload[0] >> 4 === SoundFormat.ExHeader) {
    return classifyTag(type, payload).role === 'sequence-header' ? NmsFlags.AudioHeader : NmsFlags.AudioFrame;
  }
  return nmsFlags;
}
