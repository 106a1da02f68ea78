/**
 * What the MPEG-TS muxer and the HLS segmenter take in: RTMP messages whose payloads are FLV tag
 * bodies (Adobe FLV spec v10, E.4.2 audio / E.4.3 video / E.4.4 script data). Here, below both,
 * so protocol/mpegts does not import protocol/hls.
 */

/** RTMP message type ids (RTMP spec 7.1.4, 7.1.5, 7.1.2): 8 audio, 9 video, 18 AMF0 data. */
export const MSG_AUDIO = 8;
export const MSG_VIDEO = 9;
export const MSG_DATA = 18;

export interface MediaMessage {
  type: 8 | 9 | 18;
  /** Milliseconds, decode time (RTMP timestamps are DTS). */
  timestamp: number;
  /** FLV tag body (no 11-byte tag header, no PreviousTagSize). */
  payload: Buffer;
}
