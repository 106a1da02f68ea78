import { crc32Mpeg2 } from '../../../protocol/mpegts/crc32';
import { PID_AUDIO, PID_PMT, PID_VIDEO, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264 } from '../../../protocol/mpegts/constants';
import { msTo90k, pesHeader, readTimestamp, wrap33, writeTimestamp } from '../../../protocol/mpegts/pes';
import { patSection, pmtSection, psiPacket } from '../../../protocol/mpegts/psi';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('CRC_32 (ISO/IEC 13818-1 Annex A)', () => {
  test.each([
    { name: 'check value of "123456789" (CRC-32/MPEG-2)', data: Buffer.from('123456789'), crc: 0x0376e6e7 },
    { name: 'empty input is the initial value', data: Buffer.alloc(0), crc: 0xffffffff },
    { name: 'PAT section of ffmpeg (tsid 1, program 1 -> PMT 0x1000)', data: hex('00b00d0001c100000001f000'), crc: 0x2ab104b2 },
  ])('$name', ({ data, crc }) => {
    expect(crc32Mpeg2(data)).toBe(crc);
  });

  test('a section followed by its CRC checks to 0', () => {
    expect(crc32Mpeg2(patSection())).toBe(0);
    expect(crc32Mpeg2(pmtSection([{ streamType: STREAM_TYPE_H264, pid: PID_VIDEO }], PID_VIDEO, 7))).toBe(0);
  });
});

describe('PAT / PMT sections (13818-1 2.4.4.3, 2.4.4.8); vectors from ffmpeg 5.1 mpegts output', () => {
  const V = { streamType: STREAM_TYPE_H264, pid: PID_VIDEO };
  const A = { streamType: STREAM_TYPE_AAC_ADTS, pid: PID_AUDIO };
  test.each([
    { name: 'PAT', section: patSection(), bytes: '00b00d0001c100000001f0002ab104b2' },
    { name: 'PMT H.264 + AAC, PCR on video', section: pmtSection([V, A], PID_VIDEO), bytes: '02b0170001c10000e100f0001be100f0000fe101f0002f44b99b' },
    { name: 'PMT H.264 only', section: pmtSection([V], PID_VIDEO), bytes: '02b0120001c10000e100f0001be100f00015bd4d56' },
    // ffmpeg -mpegts_start_pid 0x101 for an audio-only input
    { name: 'PMT AAC only, PCR on audio', section: pmtSection([A], PID_AUDIO), bytes: '02b0120001c10000e101f0000fe101f000ece2b094' },
  ])('$name', ({ section, bytes }) => {
    expect(section.toString('hex')).toBe(bytes);
  });

  test('version_number lands in bits 5..1 of byte 5', () => {
    expect(pmtSection([V], PID_VIDEO, 3)[5]).toBe(0xc0 | (3 << 1) | 1);
    expect(pmtSection([V], PID_VIDEO, 31)[5]).toBe(0xff);
  });

  test('PSI packet: 0x47, PUSI, payload only, pointer_field 0, 0xFF stuffing', () => {
    const p = psiPacket(PID_PMT, pmtSection([V], PID_VIDEO), 5);
    expect(p.length).toBe(188);
    expect(p.subarray(0, 5).toString('hex')).toBe('4750001500');
    expect(p.subarray(5, 26).toString('hex')).toBe('02b0120001c10000e100f0001be100f00015bd4d56');
    expect(p.subarray(26).every((b) => b === 0xff)).toBe(true);
  });
});

describe('PTS / DTS fields (13818-1 2.4.3.6/2.4.3.7): 33-bit, 90 kHz', () => {
  test.each([
    { name: 'PTS 0', prefix: 0x2, ts: 0, bytes: '2100010001' },
    { name: 'PTS 1 s', prefix: 0x2, ts: 90000, bytes: '210005bf21' },
    { name: 'PTS (with DTS) 132030, from ffmpeg', prefix: 0x3, ts: 132030, bytes: '310009077d' },
    { name: 'DTS 126000, from ffmpeg', prefix: 0x1, ts: 126000, bytes: '110007d861' },
    { name: 'bit 32 set', prefix: 0x2, ts: 2 ** 32, bytes: '2900010001' },
    { name: 'largest: 2^33 - 1', prefix: 0x2, ts: 2 ** 33 - 1, bytes: '2fffffffff' },
    { name: 'wraps: 2^33 + 5 = 5', prefix: 0x2, ts: 2 ** 33 + 5, bytes: '210001000b' },
    { name: 'negative wraps: -1 = 2^33 - 1', prefix: 0x2, ts: -1, bytes: '2fffffffff' },
  ])('$name', ({ prefix, ts, bytes }) => {
    const b = Buffer.alloc(5);
    writeTimestamp(b, 0, prefix, ts);
    expect(b.toString('hex')).toBe(bytes);
    expect(readTimestamp(b, 0)).toBe(wrap33(ts));
  });

  test('milliseconds to 90 kHz wrap to 33 bits (26.5 h), including past the RTMP 32-bit range', () => {
    expect(msTo90k(1000)).toBe(90000);
    expect(msTo90k(95443717)).toBe(95443717 * 90); // 62 ticks below the wrap
    expect(msTo90k(95443718)).toBe(95443718 * 90 - 2 ** 33); // 28 ticks past
    expect(msTo90k(2 ** 32 - 1)).toBe(((2 ** 32 - 1) * 90) % 2 ** 33);
  });
});

describe('PES header (13818-1 2.4.3.6)', () => {
  test.each([
    {
      name: 'video, PTS != DTS: both, aligned, 10 header bytes',
      o: { streamId: 0xe0, pts: 132030, dts: 126000, payloadLength: 100, aligned: true },
      bytes: '000001e0 0071 84 c0 0a 310009077d 110007d861',
    },
    {
      name: 'video, PTS == DTS: PTS only',
      o: { streamId: 0xe0, pts: 126000, dts: 126000, payloadLength: 100, aligned: true },
      bytes: '000001e0 006c 84 80 05 210007d861',
    },
    {
      name: 'audio, PTS only',
      o: { streamId: 0xc0, pts: 90000, payloadLength: 345 },
      bytes: '000001c0 0161 80 80 05 210005bf21',
    },
    {
      name: 'video larger than 65535 bytes: PES_packet_length 0 (unbounded)',
      o: { streamId: 0xe0, pts: 0, payloadLength: 70000 },
      bytes: '000001e0 0000 80 80 05 2100010001',
    },
    {
      name: 'DTS equal to PTS only after wrapping is still omitted',
      o: { streamId: 0xe0, pts: 5, dts: 2 ** 33 + 5, payloadLength: 1 },
      bytes: '000001e0 0009 80 80 05 210001000b',
    },
  ])('$name', ({ o, bytes }) => {
    expect(pesHeader(o).toString('hex')).toBe(bytes.replace(/\s+/g, ''));
  });
});
