/**
 * AAC in FLV (raw access units + AudioSpecificConfig, ISO/IEC 14496-3 1.6.2.1) to ADTS
 * (ISO/IEC 14496-3 1.A.2, adts_frame), as MPEG-TS carries it (ISO/IEC 13818-1 stream_type 0x0F).
 */
import { MediaFormatError } from './errors';

/** sampling_frequency_index table (14496-3 table 1.18). */
export const AAC_SAMPLE_RATES: readonly number[] = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

export interface AacConfig {
  /** audioObjectType of the core coder (2 = AAC LC); for explicit SBR/PS signalling the underlying type. */
  objectType: number;
  /** sampling_frequency_index of the core coder (ADTS carries the core rate; HE-AAC is implicit there). */
  samplingFrequencyIndex: number;
  sampleRate: number;
  channelConfig: number;
  /** Samples per frame: 1024 (ADTS cannot signal the 960-sample frameLengthFlag variant). */
  samplesPerFrame: number;
}

/** Reads bits MSB first. */
class BitReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.pos >> 3;
      if (byte >= this.buf.length) throw new MediaFormatError('AAC_CONFIG_INVALID', 'AudioSpecificConfig truncated');
      v = v * 2 + ((this.buf[byte] >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }
}

/** GetAudioObjectType() (14496-3 1.6.2.1, table 1.14): 5 bits, 31 escapes to 32 + 6 bits. */
function readObjectType(r: BitReader): number {
  const t = r.read(5);
  return t === 31 ? 32 + r.read(6) : t;
}

function readFrequencyIndex(r: BitReader): number {
  const idx = r.read(4);
  if (idx === 0x0f) {
    r.read(24);
    throw new MediaFormatError('AAC_CONFIG_UNSUPPORTED', 'explicit samplingFrequency (index 15) cannot be expressed in ADTS');
  }
  if (idx >= AAC_SAMPLE_RATES.length) throw new MediaFormatError('AAC_CONFIG_INVALID', `reserved sampling_frequency_index ${idx}`);
  return idx;
}

export function parseAudioSpecificConfig(asc: Buffer): AacConfig {
  const r = new BitReader(asc);
  let objectType = readObjectType(r);
  const samplingFrequencyIndex = readFrequencyIndex(r);
  const channelConfig = r.read(4);
  // Explicit hierarchical SBR (5) / PS (29) signalling: extensionSamplingFrequencyIndex, then
  // the core audioObjectType. ADTS carries the core (implicit HE-AAC signalling).
  if (objectType === 5 || objectType === 29) {
    readFrequencyIndex(r);
    objectType = readObjectType(r);
  }
  // ADTS profile_ObjectType is 2 bits = audioObjectType - 1 (14496-3 1.A.3.2.1): Main, LC, SSR, LTP.
  if (objectType < 1 || objectType > 4) {
    throw new MediaFormatError('AAC_CONFIG_UNSUPPORTED', `audioObjectType ${objectType} has no ADTS profile`);
  }
  if (channelConfig === 0 || channelConfig > 7) {
    throw new MediaFormatError('AAC_CONFIG_UNSUPPORTED', `channelConfiguration ${channelConfig} (PCE or reserved) is not supported`);
  }
  return {
    objectType,
    samplingFrequencyIndex,
    sampleRate: AAC_SAMPLE_RATES[samplingFrequencyIndex],
    channelConfig,
    samplesPerFrame: 1024,
  };
}

export const ADTS_HEADER_SIZE = 7;
/** aac_frame_length is 13 bits and includes the header. */
export const ADTS_MAX_FRAME = 0x1fff;

/**
 * adts_fixed_header + adts_variable_header (14496-3 1.A.2.2.1 / 1.A.2.2.2), protection_absent = 1
 * (no CRC), ID = 0 (MPEG-4), adts_buffer_fullness 0x7FF (VBR), one raw_data_block.
 */
export function adtsHeader(cfg: AacConfig, rawLength: number): Buffer {
  const len = rawLength + ADTS_HEADER_SIZE;
  if (len > ADTS_MAX_FRAME) throw new MediaFormatError('AAC_FRAME_TOO_LARGE', `AAC frame of ${rawLength} bytes exceeds ADTS aac_frame_length`);
  const h = Buffer.allocUnsafe(ADTS_HEADER_SIZE);
  h[0] = 0xff; // syncword 0xFFF (12 bits)
  h[1] = 0xf1; // syncword cont. | ID 0 | layer 00 | protection_absent 1
  h[2] = ((cfg.objectType - 1) << 6) | (cfg.samplingFrequencyIndex << 2) | ((cfg.channelConfig >> 2) & 0x01); // private_bit 0
  h[3] = ((cfg.channelConfig & 0x03) << 6) | ((len >> 11) & 0x03); // original_copy, home, copyright bits 0
  h[4] = (len >> 3) & 0xff;
  h[5] = ((len & 0x07) << 5) | 0x1f; // adts_buffer_fullness high 5 bits
  h[6] = 0xfc; // fullness low 6 bits | number_of_raw_data_blocks_in_frame 0
  return h;
}
