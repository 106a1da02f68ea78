/** MPEG-TS layout used by the muxer (ISO/IEC 13818-1). PIDs follow ffmpeg / Apple defaults. */
export const TS_PACKET_SIZE = 188;
export const TS_HEADER_SIZE = 4;
export const TS_PAYLOAD_SIZE = TS_PACKET_SIZE - TS_HEADER_SIZE;
export const TS_SYNC_BYTE = 0x47;

export const PID_PAT = 0x0000;
export const PID_PMT = 0x1000;
export const PID_VIDEO = 0x100;
export const PID_AUDIO = 0x101;

export const PROGRAM_NUMBER = 1;
export const TRANSPORT_STREAM_ID = 1;

/**
 * stream_type (13818-1 / ITU-T H.222.0 table 2-34; 0x1B from the AVC amendment, 0x24 = HEVC video
 * stream (ITU-T H.265 | ISO/IEC 23008-2) from the HEVC amendment, 0x0F = ISO/IEC 13818-7 ADTS).
 */
export const STREAM_TYPE_H264 = 0x1b;
export const STREAM_TYPE_HEVC = 0x24;
export const STREAM_TYPE_AAC_ADTS = 0x0f;

/** PES stream_id (13818-1 table 2-22): first video / first audio stream. */
export const STREAM_ID_VIDEO = 0xe0;
export const STREAM_ID_AUDIO = 0xc0;

/** 33-bit PTS/DTS/PCR base wraps here (13818-1 2.4.3.7, 2.4.3.5). */
export const TIMESTAMP_MODULO = 2 ** 33;
