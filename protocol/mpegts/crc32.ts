/**
 * CRC_32 of ISO/IEC 13818-1 Annex A (table 2-29 / 2-30 sections): polynomial 0x04C11DB7,
 * initial value 0xFFFFFFFF, MSB first (no reflection), no final XOR. A section followed by its
 * CRC has a CRC of 0, which is how decoders check it.
 */
const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32Mpeg2(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ data[i]) & 0xff]) >>> 0;
  return crc >>> 0;
}
