import { ADTS_HEADER_SIZE, adtsHeader, parseAudioSpecificConfig } from '../../../protocol/mpegts/aac';
import { MediaFormatError } from '../../../protocol/mpegts/errors';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('AudioSpecificConfig -> ADTS header (ISO/IEC 14496-3 1.6.2.1, 1.A.2)', () => {
  // Vectors from ffmpeg 5.1: the ASC in its FLV sequence header, the first raw frame's length,
  // and the first header of `-f adts` output for the same encode (raw frames compared equal).
  test.each([
    { rate: 44100, ch: 2, asc: '121056e500', raw: 338, adts: 'fff150802b3ffc' },
    { rate: 48000, ch: 1, asc: '118856e500', raw: 212, adts: 'fff14c401b7ffc' },
    { rate: 22050, ch: 2, asc: '139056e500', raw: 617, adts: 'fff15c804e1ffc' },
    { rate: 8000, ch: 1, asc: '158856e500', raw: 601, adts: 'fff16c404c1ffc' },
    { rate: 48000, ch: 6, asc: '11b056e500', raw: 375, adts: 'fff14d802fdffc' },
  ])('AAC LC $rate Hz, $ch ch', ({ rate, ch, asc, raw, adts }) => {
    const cfg = parseAudioSpecificConfig(hex(asc));
    expect(cfg).toMatchObject({ objectType: 2, sampleRate: rate, channelConfig: ch, samplesPerFrame: 1024 });
    expect(adtsHeader(cfg, raw).toString('hex')).toBe(adts);
  });

  test('two-byte ASC without extension, frame length spread over 13 bits', () => {
    const cfg = parseAudioSpecificConfig(hex('1210'));
    expect(adtsHeader(cfg, 100)).toEqual(hex('fff150800d7ffc')); // 107 bytes
    expect(adtsHeader(cfg, 0x1fff - ADTS_HEADER_SIZE)).toEqual(hex('fff150 83 ffff fc')); // 8191 bytes
  });

  test('explicit SBR signalling: ADTS carries the AAC LC core at the core rate (implicit HE-AAC)', () => {
    // AOT 5 | sfi 6 (24 kHz) | ch 2 | ext sfi 3 (48 kHz) | AOT 2
    const cfg = parseAudioSpecificConfig(hex('2b1188'));
    expect(cfg).toMatchObject({ objectType: 2, samplingFrequencyIndex: 6, sampleRate: 24000, channelConfig: 2 });
    expect(adtsHeader(cfg, 10)[2]).toBe(0x58);
  });

  test.each([
    { name: 'explicit frequency (index 15)', asc: '1780000000', code: 'AAC_CONFIG_UNSUPPORTED' },
    { name: 'channel configuration 0 (PCE)', asc: '1200', code: 'AAC_CONFIG_UNSUPPORTED' },
    { name: 'escaped object type 42 (USAC)', asc: 'f9404400', code: 'AAC_CONFIG_UNSUPPORTED' },
    { name: 'object type 0', asc: '0210', code: 'AAC_CONFIG_UNSUPPORTED' },
    { name: 'reserved frequency index 13', asc: '1690', code: 'AAC_CONFIG_INVALID' },
    { name: 'truncated', asc: '12', code: 'AAC_CONFIG_INVALID' },
    { name: 'empty', asc: '', code: 'AAC_CONFIG_INVALID' },
  ])('rejects $name', ({ asc, code }) => {
    expect(() => parseAudioSpecificConfig(hex(asc))).toThrow(expect.objectContaining({ name: 'MediaFormatError', code }) as MediaFormatError);
  });

  test('a frame longer than aac_frame_length can say is refused', () => {
    const cfg = parseAudioSpecificConfig(hex('1210'));
    expect(() => adtsHeader(cfg, 0x1fff - ADTS_HEADER_SIZE + 1)).toThrow(MediaFormatError);
  });
});
