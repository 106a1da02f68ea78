/**
 * Bit-level reading shared by the codec parsers (H.264 SPS, HEVC SPS, AV1 sequence header): NAL unit
 * payloads without emulation prevention, and an MSB-first bit reader with the Exp-Golomb codes of
 * ITU-T H.264 / H.265 section 9 and the uvlc code of AV1 section 4.10.3. Pure, no I/O.
 */

/** Removes emulation_prevention_three_byte (H.264 7.4.1, H.265 7.4.2: 0x000003 → 0x0000) to get the RBSP. */
export function nalToRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Thrown by BitReader past the end of its buffer or on an Exp-Golomb code longer than 32 bits. */
export class BitsEnd extends Error {
  constructor(message = 'truncated') {
    super(message);
    this.name = 'BitsEnd';
  }
}

/** MSB-first bit reader. Reading past the end throws BitsEnd. */
export class BitReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  bit(): number {
    const byte = this.pos >> 3;
    if (byte >= this.buf.length) throw new BitsEnd();
    const v = (this.buf[byte] >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  skip(n: number): void {
    for (let i = 0; i < n; i++) this.bit();
  }

  /** ue(v) (H.264/H.265 9.1/9.2): leadingZeroBits, then 2^lz - 1 + read(lz). */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new BitsEnd('Exp-Golomb code longer than 32 bits');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  /** se(v): ue mapped 1, -1, 2, -2, ... (H.264 9.1.1). */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }

  /** uvlc() (AV1 4.10.3): 32 or more leading zeros mean 2^32 - 1. */
  uvlc(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros >= 32) return 2 ** 32 - 1;
    return this.bits(zeros) + 2 ** zeros - 1;
  }
}
