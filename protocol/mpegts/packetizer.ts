/**
 * Splits a PES packet into 188-byte transport packets (ISO/IEC 13818-1 2.4.3.2 / 2.4.3.4 / 2.4.3.5):
 * payload_unit_start_indicator on the first, an adaptation field with PCR / random_access_indicator
 * on the first when asked, and adaptation-field stuffing on the last one (payload-only packets must
 * carry exactly 184 payload bytes, so a short tail is padded through the adaptation field).
 */
import { TS_PACKET_SIZE, TS_PAYLOAD_SIZE, TS_SYNC_BYTE } from './constants';
import { wrap33 } from './pes';

/** continuity_counter per PID (2.4.3.3): 4 bits, +1 for every packet with payload. */
export class ContinuityCounters {
  private readonly counters = new Map<number, number>();

  /** The counter for the next packet on `pid`, then advances it. */
  next(pid: number): number {
    const cc = this.counters.get(pid) ?? 0;
    this.counters.set(pid, (cc + 1) & 0x0f);
    return cc;
  }

  reset(): void {
    this.counters.clear();
  }
}

export interface PacketizeOptions {
  pid: number;
  /** program_clock_reference_base in 90 kHz ticks (extension 0), on the first packet. */
  pcr?: number;
  /** random_access_indicator on the first packet (2.4.3.5): a keyframe / audio frame starts here. */
  randomAccess?: boolean;
  /** discontinuity_indicator on the first packet: continuity counter / time base restart. */
  discontinuity?: boolean;
}

export const PCR_SIZE = 6;

/** program_clock_reference_base (33) | reserved '111111' | program_clock_reference_extension (9). */
export function writePcr(out: Buffer, offset: number, base90k: number, extension = 0): void {
  const base = wrap33(base90k);
  const high32 = Math.floor(base / 2); // bits 32..1
  out.writeUInt32BE(high32 >>> 0, offset);
  out[offset + 4] = ((base % 2) << 7) | 0x7e | ((extension >> 8) & 0x01);
  out[offset + 5] = extension & 0xff;
}

/**
 * Packetizes `chunks` (PES header, then payload pieces) as one PES packet on `opts.pid`.
 * Returns the packets back to back in one buffer (length is a multiple of 188).
 */
export function packetizePes(chunks: readonly Buffer[], opts: PacketizeOptions, cc: ContinuityCounters): Buffer {
  let total = 0;
  for (const c of chunks) total += c.length;
  const firstFlags = opts.pcr !== undefined || opts.randomAccess === true || opts.discontinuity === true;
  // adaptation_field_length byte + flags byte (+ PCR) on the first packet.
  const firstAf = firstFlags ? 2 + (opts.pcr !== undefined ? PCR_SIZE : 0) : 0;
  const firstCap = TS_PAYLOAD_SIZE - firstAf;
  const count = total <= firstCap ? 1 : 1 + Math.ceil((total - firstCap) / TS_PAYLOAD_SIZE);
  const out = Buffer.allocUnsafe(count * TS_PACKET_SIZE);

  let chunkIdx = 0;
  let chunkOff = 0;
  let remaining = total;
  for (let i = 0; i < count; i++) {
    const p = i * TS_PACKET_SIZE;
    const cap = i === 0 ? firstCap : TS_PAYLOAD_SIZE;
    const take = Math.min(cap, remaining);
    const afSize = (i === 0 ? firstAf : 0) + (cap - take);

    out[p] = TS_SYNC_BYTE;
    out[p + 1] = (i === 0 ? 0x40 : 0) | ((opts.pid >> 8) & 0x1f);
    out[p + 2] = opts.pid & 0xff;
    out[p + 3] = (afSize > 0 ? 0x30 : 0x10) | cc.next(opts.pid); // adaptation_field_control 11 or 01

    let w = p + 4;
    if (afSize > 0) {
      out[w++] = afSize - 1; // adaptation_field_length excludes itself
      if (afSize > 1) {
        const first = i === 0 && firstFlags;
        const hasPcr = first && opts.pcr !== undefined;
        out[w++] =
          (first && opts.discontinuity === true ? 0x80 : 0) |
          (first && opts.randomAccess === true ? 0x40 : 0) |
          (hasPcr ? 0x10 : 0);
        if (hasPcr) {
          writePcr(out, w, opts.pcr ?? 0);
          w += PCR_SIZE;
        }
        const stuffEnd = p + 4 + afSize;
        out.fill(0xff, w, stuffEnd); // stuffing_byte
        w = stuffEnd;
      }
    }

    let need = take;
    while (need > 0) {
      const c = chunks[chunkIdx];
      const n = Math.min(need, c.length - chunkOff);
      c.copy(out, w, chunkOff, chunkOff + n);
      w += n;
      need -= n;
      chunkOff += n;
      if (chunkOff === c.length) {
        chunkIdx++;
        chunkOff = 0;
      }
    }
    remaining -= take;
  }
  return out;
}
