import {
  avccToAnnexB,
  containsIdr,
  parseAvcDecoderConfigurationRecord,
  splitAvcc,
} from '../../../protocol/mpegts/avc';
import { MediaFormatError } from '../../../protocol/mpegts/errors';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SC = '00000001';
const AUD = `${SC}09f0`;

// SPS/PPS as x264 writes them for 320x240 constrained baseline (ffmpeg 5.1, -preset ultrafast).
const SPS = '6742c00dda0507ec0440000003004000000f03c50aa8';
const PPS = '68ce0fc8';
// Their AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1), byte for byte: version 1, profile 0x42, compat 0xc0,
// level 13, lengthSizeMinusOne 3 (0xff), 1 SPS (0xe1), 1 PPS.
const RECORD = `01 42c00d ff e1 0016 ${SPS} 01 0004 ${PPS}`;

describe('AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)', () => {
  test('parses profile, NAL length size, SPS and PPS', () => {
    const cfg = parseAvcDecoderConfigurationRecord(hex(RECORD));
    expect(cfg).toMatchObject({ profile: 0x42, compatibility: 0xc0, level: 13, nalLengthSize: 4 });
    expect(cfg.sps.map((b) => b.toString('hex'))).toEqual([SPS]);
    expect(cfg.pps.map((b) => b.toString('hex'))).toEqual([PPS]);
  });

  test('two-byte NAL lengths and several parameter sets; trailing high-profile fields ignored', () => {
    const rec = hex(`01 640028 fd e2 0002 6701 0002 6702 02 0002 6801 0002 6802 fdf8f800`);
    const cfg = parseAvcDecoderConfigurationRecord(rec);
    expect(cfg.nalLengthSize).toBe(2);
    expect(cfg.sps.map((b) => b.toString('hex'))).toEqual(['6701', '6702']);
    expect(cfg.pps.map((b) => b.toString('hex'))).toEqual(['6801', '6802']);
  });

  test.each([
    { name: 'too short', rec: '0142c0' },
    { name: 'configurationVersion 0', rec: `00 42c00d ff e1 0002 6701 01 0002 6801` },
    { name: 'lengthSizeMinusOne 2', rec: `01 42c00d fe e1 0002 6701 01 0002 6801` },
    { name: 'SPS length past the end', rec: `01 42c00d ff e1 0010 6701` },
    { name: 'no PPS count', rec: `01 42c00d ff e1 0002 6701` },
    { name: 'zero PPS', rec: `01 42c00d ff e1 0002 6701 00` },
    { name: 'zero-length SPS', rec: `01 42c00d ff e1 0000 01 0002 6801` },
  ])('rejects $name', ({ rec }) => {
    expect(() => parseAvcDecoderConfigurationRecord(hex(rec))).toThrow(expect.objectContaining({ code: 'AVC_CONFIG_INVALID' }) as MediaFormatError);
  });
});

describe('AVCC -> Annex B (ISO/IEC 14496-15 5.3.4.2 -> H.264 Annex B)', () => {
  const cfg = parseAvcDecoderConfigurationRecord(hex(RECORD));
  const avcc = (...nalus: string[]): Buffer =>
    Buffer.concat(nalus.map((n) => { const b = hex(n); const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); }));

  test.each([
    {
      name: 'IDR without parameter sets: AUD, SPS, PPS inserted',
      nalus: ['06050102', '65888400'], key: true,
      out: `${AUD} ${SC}${SPS} ${SC}${PPS} ${SC}06050102 ${SC}65888400`,
    },
    {
      name: 'IDR that carries its own SPS/PPS: only the AUD added',
      nalus: ['6701', '6801', '65888400'], key: true,
      out: `${AUD} ${SC}6701 ${SC}6801 ${SC}65888400`,
    },
    {
      name: 'IDR with its own SPS but no PPS: PPS from the record',
      nalus: ['6701', '65888400'], key: true,
      out: `${AUD} ${SC}${PPS} ${SC}6701 ${SC}65888400`,
    },
    {
      name: 'non-IDR slice: AUD only',
      nalus: ['419a212f'], key: false,
      out: `${AUD} ${SC}419a212f`,
    },
    {
      name: 'FLV keyframe with a non-IDR slice (open GOP / recovery point): parameter sets too',
      nalus: ['06060102', '419a212f'], key: true,
      out: `${AUD} ${SC}${SPS} ${SC}${PPS} ${SC}06060102 ${SC}419a212f`,
    },
    {
      name: 'an AUD already in the sample is not duplicated',
      nalus: ['0910', '419a212f'], key: false,
      out: `${AUD} ${SC}419a212f`,
    },
    {
      name: 'IDR flagged by nal_unit_type even when the FLV frame type says inter',
      nalus: ['25b80000'], key: false, // nal_ref_idc 1, type 5
      out: `${AUD} ${SC}${SPS} ${SC}${PPS} ${SC}25b80000`,
    },
  ])('$name', ({ nalus, key, out }) => {
    const split = splitAvcc(avcc(...nalus), 4);
    expect(split.map((n) => n.toString('hex'))).toEqual(nalus);
    expect(avccToAnnexB(split, { config: cfg, keyframe: key }).toString('hex')).toBe(out.replace(/\s+/g, ''));
  });

  test('without a record nothing can be inserted but the AUD', () => {
    expect(avccToAnnexB(splitAvcc(avcc('65888400'), 4)).toString('hex')).toBe(`${AUD}${SC}65888400`);
  });

  test('1- and 2-byte NAL length fields; zero-length NAL units skipped', () => {
    expect(splitAvcc(hex('02 6501 00 01 41'), 1).map((n) => n.toString('hex'))).toEqual(['6501', '41']);
    expect(splitAvcc(hex('0002 6501 0001 41'), 2).map((n) => n.toString('hex'))).toEqual(['6501', '41']);
    expect(containsIdr(splitAvcc(hex('0002 6501'), 2))).toBe(true);
    expect(containsIdr(splitAvcc(hex('0002 4101'), 2))).toBe(false);
  });

  test.each([
    { name: 'length field cut', data: '000000' },
    { name: 'NAL longer than the sample', data: '00000005 6588' },
  ])('rejects a truncated sample: $name', ({ data }) => {
    expect(() => splitAvcc(hex(data), 4)).toThrow(expect.objectContaining({ code: 'AVC_NALU_TRUNCATED' }) as MediaFormatError);
  });
});
