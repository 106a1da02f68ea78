/**
 * The one media message of the project: an RTMP audio / video / data message whose payload is an
 * FLV tag body (Adobe FLV spec v10, Annex E: E.4.2 AUDIODATA, E.4.3 VIDEODATA, E.4.4 SCRIPTDATA;
 * Enhanced RTMP v1/v2 for the ExAudioTagHeader / ExVideoTagHeader forms).
 *
 * Every layer uses it: the RTMP client and server session (`RtmpMessage` extends it with the
 * message stream id and chunk stream), the edge fan-out and gateway, the HLS segmenter and the
 * node-media-server tap. `protocol/media-tag.ts` classifies it.
 */

/** RTMP message type ids of media (RTMP 1.0 section 7.1.4 audio, 7.1.5 video, 7.1.2 AMF0 data) = FLV TagType (E.4.1). */
export const MediaType = {
  Audio: 8,
  Video: 9,
  Data: 18,
} as const;

export type MediaTypeId = (typeof MediaType)[keyof typeof MediaType];

export interface MediaMessage {
  /** Message type id: `MediaType.Audio`, `MediaType.Video` or `MediaType.Data` for media (other RTMP types elsewhere). */
  type: number;
  /** Milliseconds, decode time (RTMP timestamps are DTS), wrapping at 2^32. */
  timestamp: number;
  /** The FLV tag body (no 11-byte tag header, no PreviousTagSize). */
  payload: Buffer;
}

/** Whether a message type id is audio, video or AMF0 data. */
export function isMediaType(type: number): type is MediaTypeId {
  return type === MediaType.Audio || type === MediaType.Video || type === MediaType.Data;
}
