/**
 * RTMP message type ids and user control events — Adobe RTMP Specification 1.0 (December 2012).
 */

/** Section 5.4 (protocol control), 6.2 / 7.1 (messages). */
export const MessageType = {
  SetChunkSize: 1, // 5.4.1
  Abort: 2, // 5.4.2
  Acknowledgement: 3, // 5.4.3
  UserControl: 4, // 6.2, 7.1.7
  WindowAckSize: 5, // 5.4.4
  SetPeerBandwidth: 6, // 5.4.5
  Audio: 8, // 7.1.4
  Video: 9, // 7.1.5
  DataAmf3: 15, // 7.1.2
  SharedObjectAmf3: 16, // 7.1.3
  CommandAmf3: 17, // 7.1.1
  DataAmf0: 18, // 7.1.2
  SharedObjectAmf0: 19, // 7.1.3
  CommandAmf0: 20, // 7.1.1
  Aggregate: 22, // 7.1.6
} as const;

/** Section 7.1.7: user control event types (first U16 of a type 4 message). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEOF: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

/** Section 5.4.5: limit type of Set Peer Bandwidth. */
export const PeerBandwidthLimit = {
  Hard: 0,
  Soft: 1,
  Dynamic: 2,
} as const;

/** Section 5.4.1: default and maximum chunk size (the size field is 31 bits; 0 is invalid). */
export const DEFAULT_CHUNK_SIZE = 128;
export const MAX_CHUNK_SIZE = 0x7fffffff;

/** Section 5.3.1.2: a 24-bit timestamp field of 0xFFFFFF means "see the extended timestamp". */
export const EXTENDED_TIMESTAMP_MARK = 0xffffff;

/** Chunk stream ids the writer uses by default (conventional, as ffmpeg / SRS use them). */
export const ChunkStreamId = {
  ProtocolControl: 2, // 5.4: protocol control messages MUST use chunk stream id 2
  Command: 3,
  Audio: 4,
  Data: 5,
  Video: 6,
} as const;

/** Section 5.3.1.1: chunk stream ids 2..65599 are encodable (0 and 1 select the long forms). */
export const MIN_CSID = 2;
export const MAX_CSID = 65599;

/**
 * Enhanced RTMP v2 (veovera/enhanced-rtmp, "Reconnect Request"): bit of the `capsEx` number in the
 * connect command object by which a client says it can move to another server when asked
 * (docs/design.md section 7). A server echoes the bits it supports in its `_result`.
 */
export const CAPS_EX_RECONNECT = 0x01;

/** Whether a connect command object's `capsEx` value announces Reconnect. */
export function announcesReconnect(capsEx: unknown): boolean {
  return typeof capsEx === 'number' && (capsEx & CAPS_EX_RECONNECT) === CAPS_EX_RECONNECT;
}
