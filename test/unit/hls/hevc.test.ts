/**
 * HEVC for HLS-TS: hvcC (ISO/IEC 14496-15 8.3.3.1) → Annex B (H.265 Annex B) with VPS/SPS/PPS
 * before each IRAP and an AUD first; the TS muxer lists stream_type 0x24 (H.222.0 table 2-34).
 */
import { MediaFormatError } from '../../../protocol/mpegts/errors';
import { containsIrap, hevcAnnexBChunks, hevcNalType, parseHevcDecoderConfigurationRecord } from '../../../protocol/mpegts/hevc';
import { randomBytes } from 'node:crypto';
import { TsMuxer } from '../../../protocol/mpegts/muxer';
import { exAudioDetails, exVideoDetails, parseAv1SequenceHeader, parseHevcSps } from '../../../protocol/codec-names';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// VPS / SPS / PPS as x265 (ffmpeg 5.1, -preset ultrafast) writes them for 320x240 Main.
const VPS = '40010c01ffff01600000030090000003000003003c959409';
const SPS = '42010101600000030090000003000003003ca00a080f16595952930bc05a020000030002000003003c10';
const PPS = '4401c073c189';
const u16 = (n: number): string => n.toString(16).padStart(4, '0');
const array = (type: number, nal: string): string => `${(0x80 | type).toString(16)} 0001 ${u16(nal.length / 2)} ${nal}`;
/** HEVCDecoderConfigurationRecord: version 1, Main profile, level 60 (2.0), 4:2:0, lengthSizeMinusOne 3, 3 arrays. */
const HVCC = `01 01 60000000 900000000000 3c f000 fc fd f8 f8 0000 0f 03 ${array(32, VPS)} ${array(33, SPS)} ${array(34, PPS)}`;
const IDR = '2601af0011'; // nal_unit_type 19 (IDR_W_RADL)
const TRAIL = '0201d00011'; // nal_unit_type 1 (TRAIL_R)
const lp = (...nals: string[]): Buffer => Buffer.concat(nals.map((n) => Buffer.concat([Buffer.from(u16(0) + u16(n.length / 2), 'hex'), hex(n)])));

describe('HEVCDecoderConfigurationRecord', () => {
  test('parses profile, level, NAL length size and the parameter sets', () => {
    const cfg = parseHevcDecoderConfigurationRecord(hex(HVCC));
    expect(cfg).toMatchObject({ profileIdc: 1, levelIdc: 60, chromaFormatIdc: 1, nalLengthSize: 4 });
    expect([cfg.vps[0].toString('hex'), cfg.sps[0].toString('hex'), cfg.pps[0].toString('hex')]).toEqual([VPS, SPS, PPS]);
  });

  test.each([
    ['too short', '0101600000'],
    ['configurationVersion 0', HVCC.replace(/^01/, '00')],
    ['no PPS', `01 01 60000000 900000000000 3c f000 fc fd f8 f8 0000 0f 02 ${array(32, VPS)} ${array(33, SPS)}`],
    ['NAL past the end', `01 01 60000000 900000000000 3c f000 fc fd f8 f8 0000 0f 01 a0 0001 0040 4001`],
  ])('%s → MediaFormatError', (_name, rec) => {
    expect(() => parseHevcDecoderConfigurationRecord(hex(rec))).toThrow(MediaFormatError);
  });
});

describe('hvcC samples to Annex B', () => {
  const cfg = parseHevcDecoderConfigurationRecord(hex(HVCC));
  const annexB = (nals: string[], keyframe = false): string => Buffer.concat(hevcAnnexBChunks(nals.map(hex), { config: cfg, keyframe })).toString('hex');

  test('IRAP: AUD (type 35), then VPS, SPS, PPS, then the slice', () => {
    expect(annexB([IDR])).toBe(`00000001 460150 00000001${VPS} 00000001${SPS} 00000001${PPS} 00000001${IDR}`.replace(/\s+/g, ''));
  });

  test('non-IRAP: AUD and the slice only; an FLV keyframe gets the parameter sets anyway', () => {
    expect(annexB([TRAIL])).toBe(`00000001460150 00000001${TRAIL}`.replace(/\s+/g, ''));
    expect(annexB([TRAIL], true)).toContain(VPS);
  });

  test('parameter sets already in the sample are not repeated; AUDs in the sample are dropped', () => {
    const out = annexB(['460150', VPS, SPS, PPS, IDR]);
    expect(out.split(VPS)).toHaveLength(2);
    expect(out.split('460150')).toHaveLength(2);
  });

  test('IRAP types 16..23 are keyframes, others not', () => {
    for (let t = 0; t < 41; t++) expect(containsIrap([Buffer.from([t << 1, 1])])).toBe(t >= 16 && t <= 23);
    expect(hevcNalType(hex(IDR))).toBe(19);
  });
});

describe('TsMuxer with HEVC (E-RTMP hvc1)', () => {
  const header = (packetTypeByte: number): Buffer => Buffer.concat([Buffer.from([packetTypeByte]), Buffer.from('hvc1', 'latin1')]);
  test('SequenceStart then CodedFramesX: PMT lists stream_type 0x24; the keyframe carries VPS/SPS/PPS', () => {
    const m = new TsMuxer();
    expect(m.push({ type: 9, timestamp: 0, payload: Buffer.concat([header(0x90), hex(HVCC)]) })).toBeUndefined();
    expect(m.hasVideo).toBe(true);
    const key = m.push({ type: 9, timestamp: 0, payload: Buffer.concat([header(0x93), lp(IDR)]) });
    expect(key).toMatchObject({ kind: 'video', keyframe: true });
    const bytes = key?.bytes ?? Buffer.alloc(0);
    // PMT (second packet): the ES loop's stream_type.
    const pmt = bytes.subarray(188, 376);
    const sectionStart = 5;
    const esLoop = sectionStart + 12;
    expect(pmt[esLoop]).toBe(0x24);
    expect(bytes.includes(hex(VPS))).toBe(true);
    // CodedFrames (with CompositionTime) inter frame.
    const inter = m.push({ type: 9, timestamp: 33, payload: Buffer.concat([header(0xa1), hex('000021'), lp(TRAIL)]) });
    expect(inter).toMatchObject({ keyframe: false, dtsMs: 33 });
    expect(m.stats.dropped).toBe(0);
  });

  test('frames before the sequence header are dropped', () => {
    const m = new TsMuxer();
    expect(m.push({ type: 9, timestamp: 0, payload: Buffer.concat([header(0x93), lp(IDR)]) })).toBeUndefined();
    expect(m.stats).toMatchObject({ dropped: 1, lastDropReason: 'video frame before HEVC sequence header' });
  });
});

describe('TsMuxer with E-RTMP avc1 (H.264 in an ExVideoTagHeader)', () => {
  // AVCDecoderConfigurationRecord of x264 320x240 baseline (as in avc.test.ts).
  const AVCC = '0142c00dffe10016 6742c00dda0507ec0440000003004000000f03c50aa8 01 0004 68ce0fc8';
  test('SequenceStart + CodedFrames (with CompositionTime) take the H.264 path: stream_type 0x1B', () => {
    const m = new TsMuxer();
    m.push({ type: 9, timestamp: 0, payload: Buffer.concat([Buffer.from([0x90]), Buffer.from('avc1'), hex(AVCC)]) });
    const key = m.push({ type: 9, timestamp: 0, payload: Buffer.concat([Buffer.from([0x91]), Buffer.from('avc1'), hex('000000'), lp('6588840021')]) });
    expect(key).toMatchObject({ keyframe: true });
    expect(key?.bytes[188 + 5 + 12]).toBe(0x1b);
    expect(m.stats.dropped).toBe(0);
  });
});

describe('codec details for the node API', () => {
  test('HEVC SPS: 320x240, Main, level from general_level_idc', () => {
    expect(parseHevcSps(hex(SPS))).toMatchObject({ profileIdc: 1, width: 320, height: 240 });
    const tag = Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), hex(HVCC)]);
    expect(exVideoDetails(tag)).toEqual({ codec: 'HEVC', profile: 'Main', level: '2', width: 320, height: 240 });
  });

  // sequence_header_obu as libaom (ffmpeg 5.1, -cpu-used 8) writes it for 320x240, profile 0.
  const AV1_SEQ = '000000043cffbcdaf90040';
  test('AV1 sequence header: 320x240', () => {
    expect(parseAv1SequenceHeader(hex(AV1_SEQ))).toMatchObject({ seqProfile: 0, width: 320, height: 240 });
    const av1C = hex(`81 00 0c 00 0a0b ${AV1_SEQ}`);
    const tag = Buffer.concat([Buffer.from([0x90]), Buffer.from('av01'), av1C]);
    expect(exVideoDetails(tag)).toEqual({ codec: 'AV1', profile: 'Main', level: '2.0', width: 320, height: 240 });
  });

  test.each([
    ['VP9 by name', Buffer.concat([Buffer.from([0x90]), Buffer.from('vp09'), hex('00')]), 'VP9'],
    ['truncated hvcC', Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), hex('0101')]), 'HEVC'],
    ['SPS cut short', Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), hex(HVCC.replace(SPS, SPS.slice(0, 20)).replace('0001 002a', '0001 000a'))]), 'HEVC'],
  ])('%s: the name, no details, no exception', (_name, tag, codec) => {
    expect(exVideoDetails(tag)).toMatchObject({ codec, width: 0, height: 0 });
  });
});

describe('hostile input', () => {
  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    for (let k = 0; k < 1 + (out.length >> 4); k++) out[Math.floor(Math.random() * out.length)] = Math.floor(Math.random() * 256);
    return out.subarray(0, Math.floor(Math.random() * (out.length + 1)));
  };
  const seqStart = (fourCc: string, body: Buffer): Buffer => Buffer.concat([Buffer.from([0x90]), Buffer.from(fourCc), body]);

  test('mutated hvcC / av1C / samples never throw from the muxer or the codec details', () => {
    const av1C = hex(`81 00 0c 00 0a0b 000000043cffbcdaf90040`);
    for (let i = 0; i < 3000; i++) {
      const m = new TsMuxer();
      m.push({ type: 9, timestamp: 0, payload: seqStart('hvc1', mutate(hex(HVCC))) });
      m.push({ type: 9, timestamp: i, payload: Buffer.concat([Buffer.from([0x93]), Buffer.from('hvc1'), mutate(lp(IDR, TRAIL))]) });
      m.push({ type: 9, timestamp: i, payload: mutate(Buffer.concat([Buffer.from([0x91]), Buffer.from('hvc1'), hex('000000'), lp(IDR)])) });
      expect(() => exVideoDetails(seqStart('hvc1', mutate(hex(HVCC))))).not.toThrow();
      expect(() => exVideoDetails(seqStart('av01', mutate(av1C)))).not.toThrow();
      expect(() => exVideoDetails(Buffer.concat([hex('1c00000000'), mutate(hex(HVCC))]))).not.toThrow();
      expect(() => exAudioDetails(Buffer.concat([hex('90'), Buffer.from('Opus'), mutate(Buffer.from('OpusHead\x01\x02\x00\x00', 'latin1'))]))).not.toThrow();
      expect(() => exVideoDetails(randomBytes(i % 40))).not.toThrow();
    }
  });

  test('Opus details from the OpusHead', () => {
    const head = Buffer.concat([Buffer.from('OpusHead', 'latin1'), hex('01 06 3801 80bb0000 0000 01')]);
    expect(exAudioDetails(Buffer.concat([hex('90'), Buffer.from('Opus'), head]))).toEqual({ codec: 'Opus', sample_rate: 48000, channel: 6, profile: 'Other' });
  });
});
