/**
 * Program Specific Information (ISO/IEC 13818-1 2.4.4): the program association section (PAT,
 * 2.4.4.3) and the TS program map section (PMT, 2.4.4.8), each with its CRC_32 (Annex A), and the
 * TS packet that carries a section (pointer_field 2.4.4.2, 0xFF stuffing after the section).
 */
import { crc32Mpeg2 } from './crc32';
import {
  PID_PMT,
  PROGRAM_NUMBER,
  TRANSPORT_STREAM_ID,
  TS_PACKET_SIZE,
  TS_SYNC_BYTE,
} from './constants';

export interface PmtStream {
  streamType: number;
  pid: number;
}

/**
 * Long-form section header (table_id .. last_section_number), `body`, CRC_32.
 * section_length counts the bytes after itself, CRC included; it must be <= 1021.
 */
function section(tableId: number, idExtension: number, version: number, body: Buffer): Buffer {
  const sectionLength = 5 + body.length + 4;
  const s = Buffer.alloc(3 + sectionLength);
  s[0] = tableId;
  // section_syntax_indicator 1 | '0' | reserved '11' | section_length (12)
  s.writeUInt16BE(0xb000 | sectionLength, 1);
  s.writeUInt16BE(idExtension, 3); // transport_stream_id (PAT) / program_number (PMT)
  s[5] = 0xc0 | ((version & 0x1f) << 1) | 0x01; // reserved '11' | version_number | current_next_indicator 1
  s[6] = 0; // section_number
  s[7] = 0; // last_section_number
  body.copy(s, 8);
  s.writeUInt32BE(crc32Mpeg2(s, 0, s.length - 4), s.length - 4);
  return s;
}

/** PAT with one program (2.4.4.3): program_number -> program_map_PID. */
export function patSection(version = 0, pmtPid = PID_PMT, programNumber = PROGRAM_NUMBER, tsId = TRANSPORT_STREAM_ID): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt16BE(programNumber, 0);
  body.writeUInt16BE(0xe000 | pmtPid, 2); // reserved '111' | program_map_PID (13)
  return section(0x00, tsId, version, body);
}

/** PMT (2.4.4.8): PCR_PID, no program descriptors, one entry per elementary stream, no ES descriptors. */
export function pmtSection(streams: readonly PmtStream[], pcrPid: number, version = 0, programNumber = PROGRAM_NUMBER): Buffer {
  const body = Buffer.alloc(4 + 5 * streams.length);
  body.writeUInt16BE(0xe000 | pcrPid, 0); // reserved '111' | PCR_PID
  body.writeUInt16BE(0xf000, 2); // reserved '1111' | program_info_length 0
  streams.forEach((st, i) => {
    const o = 4 + 5 * i;
    body[o] = st.streamType;
    body.writeUInt16BE(0xe000 | st.pid, o + 1); // reserved '111' | elementary_PID
    body.writeUInt16BE(0xf000, o + 3); // reserved '1111' | ES_info_length 0
  });
  return section(0x02, programNumber, version, body);
}

/**
 * One TS packet carrying a whole section: payload_unit_start_indicator 1, payload only,
 * pointer_field 0, section, then 0xFF stuffing (2.4.4: stuffing after a section ends is 0xFF).
 */
export function psiPacket(pid: number, sectionBytes: Buffer, continuityCounter: number): Buffer {
  if (sectionBytes.length > TS_PACKET_SIZE - 5) throw new RangeError(`section of ${sectionBytes.length} bytes needs more than one packet`);
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  p[0] = TS_SYNC_BYTE;
  p[1] = 0x40 | ((pid >> 8) & 0x1f); // transport_error 0 | payload_unit_start 1 | priority 0 | PID high
  p[2] = pid & 0xff;
  p[3] = 0x10 | (continuityCounter & 0x0f); // scrambling 00 | adaptation_field_control 01 | CC
  p[4] = 0; // pointer_field
  sectionBytes.copy(p, 5);
  return p;
}
