/**
 * NMS 4.4.3's packet flags for Enhanced RTMP tags, corrected from the one classifier
 * (mediaserver/nms-packet-flags.ts); byte vectors as in test/unit/protocol/media-tag.test.ts.
 */
import Flv from 'node-media-server/src/protocol/flv.js';
import { NmsFlags, nmsPacketFlags } from '../../mediaserver/nms-packet-flags';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cc = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

test.each<[string, number, string, number]>([
  ['avc1 SequenceStart (NMS: audio header!)', 9, `90 ${cc('avc1')} 01640028`, NmsFlags.VideoHeader],
  ['avc1 CodedFrames keyframe (NMS: audio header!)', 9, `91 ${cc('avc1')} 000000 00000001 65`, NmsFlags.KeyFrame],
  ['hvc1 SequenceEnd (NMS: audio header!)', 9, `92 ${cc('hvc1')}`, NmsFlags.VideoFrame],
  ['hvc1 ModEx-wrapped keyframe (NMS: audio header!)', 9, `97 02 0f4240 01 ${cc('hvc1')} 000000 00`, NmsFlags.KeyFrame],
  ['av01 Multitrack SequenceStart (NMS: audio header!)', 9, `96 00 ${cc('av01')} 00 81`, NmsFlags.VideoHeader],
  ['hvc1 SequenceStart (NMS agrees)', 9, `90 ${cc('hvc1')} 01`, NmsFlags.VideoHeader],
  ['hvc1 CodedFramesX inter frame (NMS agrees)', 9, `a3 ${cc('hvc1')} 00`, NmsFlags.VideoFrame],
  ['Opus Multitrack SequenceStart (NMS: frame)', 8, `95 00 ${cc('Opus')} 00`, NmsFlags.AudioHeader],
  ['Opus SequenceStart (NMS agrees)', 8, `90 ${cc('Opus')} 4f707573`, NmsFlags.AudioHeader],
  ['legacy AVC sequence header: NMS flags kept', 9, '17 00 000000 01', NmsFlags.VideoHeader],
  ['legacy AAC frame: NMS flags kept', 8, 'af 01 21', NmsFlags.AudioFrame],
])('%s', (_name, type, bytes, expected) => {
  const body = hex(bytes);
  const nms = Flv.parserTag(type, 0, body.length, body);
  expect(nmsPacketFlags(type, body, nms.flags)).toBe(expected);
});
