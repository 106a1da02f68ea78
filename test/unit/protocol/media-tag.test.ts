/**
 * The one frame classifier (protocol/media-tag.ts): byte vectors for the legacy FLV tags (FLV spec
 * v10, E.4.2.1 / E.4.3.1) and Enhanced RTMP v1/v2 (ExVideoTagHeader, ExAudioTagHeader, ModEx,
 * Multitrack), built field by field from the specification's tables.
 */
import { randomBytes } from 'node:crypto';
import {
  AudioPacketType,
  classifyTag,
  isAudioSequenceHeader,
  isSequenceHeader,
  isVideoKeyframe,
  isVideoSequenceHeader,
  VideoPacketType,
  type MediaTagInfo,
} from '../../../protocol/media-tag';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fourCc = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
/** ExVideoTagHeader byte 0: IsExHeader | FrameType (3 bits) | VideoPacketType (4 bits). */
const exV = (frameType: number, packetType: number): string => (0x80 | (frameType << 4) | packetType).toString(16).padStart(2, '0');
/** ExAudioTagHeader byte 0: SoundFormat 9 (ExHeader) | AudioPacketType. */
const exA = (packetType: number): string => ((9 << 4) | packetType).toString(16).padStart(2, '0');

type Expect = Partial<MediaTagInfo>;

describe('legacy VIDEODATA (E.4.3.1)', () => {
  test.each<[string, string, Expect]>([
    ['AVC sequence header', '17 00 000000 01640028', { role: 'sequence-header', codec: 'avc', packetType: 0, dataOffset: 5 }],
    ['AVC keyframe', '17 01 000000 00000001', { role: 'keyframe', codec: 'avc', frameType: 1, dataOffset: 5 }],
    ['AVC inter frame, CompositionTime 0x21', '27 01 000021 00', { role: 'frame', codec: 'avc', compositionTime: 0x21 }],
    ['AVC negative CompositionTime (SI24)', '27 01 FFFFFE 00', { role: 'frame', compositionTime: -2 }],
    ['AVC end of sequence', '17 02 000000', { role: 'sequence-end', codec: 'avc' }],
    ['AVC reserved AVCPacketType', '17 07 000000', { role: 'unknown', codec: 'avc' }],
    ['AVC without AVCPacketType', '17', { role: 'unknown', codec: 'avc' }],
    ['HEVC (codec 12 extension) sequence header', '1C 00 000000 01', { role: 'sequence-header', codec: 'hevc' }],
    ['HEVC (codec 12 extension) keyframe', '1C 01 000000 00', { role: 'keyframe', codec: 'hevc' }],
    ['video info / command frame', '57 00', { role: 'command', codec: 'avc', frameType: 5 }],
    ['Sorenson H.263 keyframe', '12 0000', { role: 'keyframe', codec: 'other', dataOffset: 1 }],
    ['VP6 inter frame', '24 00', { role: 'frame', codec: 'other' }],
    ['empty', '', { role: 'unknown', codec: null }],
  ])('%s', (_name, bytes, expected) => {
    const got = classifyTag(9, hex(bytes));
    expect(got).toMatchObject({ track: 'video', exHeader: false, ...expected });
  });
});

describe('Enhanced RTMP ExVideoTagHeader', () => {
  const hvc1 = fourCc('hvc1');
  const av01 = fourCc('av01');
  const vp09 = fourCc('vp09');
  const avc1 = fourCc('avc1');
  test.each<[string, string, Expect]>([
    ['hvc1 SequenceStart', `${exV(1, 0)} ${hvc1} 01`, { role: 'sequence-header', codec: 'hevc', fourCc: 'hvc1', packetType: VideoPacketType.SequenceStart, dataOffset: 5 }],
    ['hvc1 CodedFrames keyframe, CompositionTime 16', `${exV(1, 1)} ${hvc1} 000010 00000002 2601`, { role: 'keyframe', codec: 'hevc', compositionTime: 16, dataOffset: 8 }],
    ['hvc1 CodedFramesX keyframe (no CompositionTime)', `${exV(1, 3)} ${hvc1} 00000002 2601`, { role: 'keyframe', compositionTime: 0, dataOffset: 5 }],
    ['hvc1 CodedFramesX inter frame', `${exV(2, 3)} ${hvc1} 00000002 0201`, { role: 'frame', frameType: 2 }],
    ['hvc1 disposable inter frame', `${exV(3, 1)} ${hvc1} 000000`, { role: 'frame', frameType: 3 }],
    ['hvc1 CodedFrames truncated before CompositionTime', `${exV(1, 1)} ${hvc1} 00`, { role: 'unknown' }],
    ['hvc1 SequenceEnd', `${exV(1, 2)} ${hvc1}`, { role: 'sequence-end', codec: 'hevc' }],
    ['hvc1 Metadata (colorInfo)', `${exV(1, 4)} ${hvc1} 02000a636f6c6f72496e666f`, { role: 'config', packetType: VideoPacketType.Metadata }],
    ['av01 SequenceStart', `${exV(1, 0)} ${av01} 81080c00`, { role: 'sequence-header', codec: 'av1', fourCc: 'av01' }],
    ['av01 CodedFrames keyframe (no CompositionTime for AV1)', `${exV(1, 1)} ${av01} 12000a0b`, { role: 'keyframe', codec: 'av1', dataOffset: 5, compositionTime: 0 }],
    ['av01 MPEG2TSSequenceStart', `${exV(1, 5)} ${av01} 80`, { role: 'sequence-header', packetType: VideoPacketType.MPEG2TSSequenceStart }],
    ['vp09 SequenceStart', `${exV(1, 0)} ${vp09} 01000000`, { role: 'sequence-header', codec: 'vp9' }],
    ['vp09 inter frame', `${exV(2, 1)} ${vp09} 00`, { role: 'frame', codec: 'vp9', dataOffset: 5 }],
    ['avc1 CodedFrames with CompositionTime', `${exV(1, 1)} ${avc1} 000005 00`, { role: 'keyframe', codec: 'avc', compositionTime: 5, dataOffset: 8 }],
    ['unknown FourCC', `${exV(1, 1)} ${fourCc('xxxx')}`, { role: 'keyframe', codec: 'other', fourCc: 'xxxx' }],
    ['Command frame (VideoCommand StartSeek), no FourCC', `${exV(5, 1)} 00`, { role: 'command', frameType: 5, fourCc: null }],
    ['Command frame with Metadata packet type is metadata', `${exV(5, 4)} ${hvc1} 02`, { role: 'config', fourCc: 'hvc1' }],
    ['Multitrack OneTrack hvc1 CodedFrames', `${exV(1, 6)} 01 ${hvc1} 00 000000`, { role: 'keyframe', multitrack: true, codec: 'hevc', dataOffset: 6 }],
    ['Multitrack ManyTracks av01 SequenceStart', `${exV(1, 6)} 10 ${av01} 00 000004 81080c00`, { role: 'sequence-header', multitrack: true, codec: 'av1' }],
    ['Multitrack ManyTracksManyCodecs: FourCC per track', `${exV(2, 6)} 21 ${hvc1}`, { role: 'frame', multitrack: true, fourCc: null, codec: null, dataOffset: 2 }],
    ['ModEx (3 bytes TimestampOffsetNano) then CodedFrames', `${exV(1, 7)} 02 0f4240 01 ${hvc1} 000000 00`, { role: 'keyframe', codec: 'hevc', packetType: 1, dataOffset: 13 }],
    ['ModEx with the UI16 size escape', `${exV(1, 7)} ff 0100 ${'00'.repeat(257)} 00 ${hvc1}`, { role: 'sequence-header', codec: 'hevc' }],
    ['ModEx truncated', `${exV(1, 7)} 05 aa`, { role: 'unknown' }],
    ['reserved VideoPacketType 8', `${exV(1, 8)} ${hvc1}`, { role: 'unknown', packetType: 8 }],
    ['FourCC truncated', `${exV(1, 0)} 6876`, { role: 'unknown' }],
    ['IsExHeader alone', '80', { role: 'unknown' }],
  ])('%s', (_name, bytes, expected) => {
    expect(classifyTag(9, hex(bytes))).toMatchObject({ track: 'video', exHeader: true, ...expected });
  });
});

describe('legacy AUDIODATA (E.4.2.1)', () => {
  test.each<[string, string, Expect]>([
    ['AAC sequence header (AudioSpecificConfig)', 'AF 00 1210', { role: 'sequence-header', codec: 'aac', packetType: 0, dataOffset: 2 }],
    ['AAC raw frame', 'AF 01 2100', { role: 'frame', codec: 'aac', dataOffset: 2 }],
    ['AAC without AACPacketType', 'AF', { role: 'unknown', codec: 'aac' }],
    ['MP3', '2F 00', { role: 'frame', codec: 'mp3', dataOffset: 1 }],
    ['Speex', 'B2 00', { role: 'frame', codec: 'other' }],
    ['empty', '', { role: 'unknown', codec: null }],
  ])('%s', (_name, bytes, expected) => {
    expect(classifyTag(8, hex(bytes))).toMatchObject({ track: 'audio', exHeader: false, ...expected });
  });
});

describe('Enhanced RTMP ExAudioTagHeader (SoundFormat 9)', () => {
  test.each<[string, string, Expect]>([
    ['Opus SequenceStart (OpusHead)', `${exA(0)} ${fourCc('Opus')} 4f707573`, { role: 'sequence-header', codec: 'opus', fourCc: 'Opus', dataOffset: 5 }],
    ['Opus CodedFrames', `${exA(1)} ${fourCc('Opus')} fc`, { role: 'frame', codec: 'opus' }],
    ['Opus SequenceEnd', `${exA(2)} ${fourCc('Opus')}`, { role: 'sequence-end' }],
    ['MultichannelConfig', `${exA(4)} ${fourCc('Opus')} 00 02`, { role: 'config', packetType: AudioPacketType.MultichannelConfig }],
    ['mp4a SequenceStart', `${exA(0)} ${fourCc('mp4a')} 1210`, { role: 'sequence-header', codec: 'aac' }],
    ['ac-3 frame', `${exA(1)} ${fourCc('ac-3')} 0b77`, { role: 'frame', codec: 'ac3' }],
    ['ec-3 frame', `${exA(1)} ${fourCc('ec-3')} 0b77`, { role: 'frame', codec: 'eac3' }],
    ['fLaC SequenceStart', `${exA(0)} ${fourCc('fLaC')}`, { role: 'sequence-header', codec: 'flac' }],
    ['.mp3 frame', `${exA(1)} ${fourCc('.mp3')} fffb`, { role: 'frame', codec: 'mp3' }],
    ['Multitrack OneTrack Opus SequenceStart', `${exA(5)} 00 ${fourCc('Opus')} 00`, { role: 'sequence-header', multitrack: true, codec: 'opus', dataOffset: 6 }],
    ['Multitrack ManyTracksManyCodecs CodedFrames', `${exA(5)} 21 ${fourCc('Opus')}`, { role: 'frame', multitrack: true, fourCc: null }],
    ['ModEx then CodedFrames', `${exA(7)} 00 aa 01 ${fourCc('Opus')} fc`, { role: 'frame', codec: 'opus', dataOffset: 8 }],
    ['reserved AudioPacketType 3', `${exA(3)} ${fourCc('Opus')}`, { role: 'unknown' }],
    ['FourCC truncated', `${exA(0)} 4f70`, { role: 'unknown' }],
  ])('%s', (_name, bytes, expected) => {
    expect(classifyTag(8, hex(bytes))).toMatchObject({ track: 'audio', exHeader: true, ...expected });
  });
});

describe('messages and predicates', () => {
  const m = (type: number, bytes: string): { type: number; timestamp: number; payload: Buffer } => ({ type, timestamp: 0, payload: hex(bytes) });
  test('script data and other message types', () => {
    expect(classifyTag(18, hex('02000a6f6e4d65746144617461'))).toMatchObject({ track: 'data', role: 'script' });
    expect(classifyTag(20, hex('00'))).toMatchObject({ track: 'other', role: 'unknown' });
  });

  test.each<[string, ReturnType<typeof m>, { seq: boolean; video: boolean; audio: boolean; key: boolean }]>([
    ['AVC sequence header', m(9, '17 00 000000'), { seq: true, video: true, audio: false, key: false }],
    ['AVC keyframe', m(9, '17 01 000000'), { seq: false, video: false, audio: false, key: true }],
    ['hvc1 SequenceStart (keyframe bit set, but a header)', m(9, `${exV(1, 0)} ${fourCc('hvc1')}`), { seq: true, video: true, audio: false, key: false }],
    ['av01 keyframe', m(9, `${exV(1, 1)} ${fourCc('av01')}`), { seq: false, video: false, audio: false, key: true }],
    ['Opus SequenceStart', m(8, `${exA(0)} ${fourCc('Opus')}`), { seq: true, video: false, audio: true, key: false }],
    ['AAC sequence header', m(8, 'AF 00 1210'), { seq: true, video: false, audio: true, key: false }],
    ['metadata', m(18, '02000a6f6e4d65746144617461'), { seq: false, video: false, audio: false, key: false }],
  ])('%s', (_name, msg, expected) => {
    expect({ seq: isSequenceHeader(msg), video: isVideoSequenceHeader(msg), audio: isAudioSequenceHeader(msg), key: isVideoKeyframe(msg) }).toEqual(expected);
  });

  test('random bytes never throw and always name a role', () => {
    for (let i = 0; i < 5000; i++) {
      const body = randomBytes(i % 24);
      if (i % 3 === 0 && body.length > 0) body[0] |= 0x80; // favour the E-RTMP paths
      for (const type of [8, 9]) expect(typeof classifyTag(type, body).role).toBe('string');
    }
  });
});
