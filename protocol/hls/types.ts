/**
 * Input and option types of the HLS segmenter (docs/design.md section 6).
 *
 * Media arrives as `MediaMessage`s (protocol/media.ts): RTMP messages whose payloads are FLV tag
 * bodies (Adobe FLV spec v10, E.4.2 audio / E.4.3 video / E.4.4 script data).
 */
export type { MediaMessage } from '../media';

export interface HlsSegmenterOptions {
  /** Segment URIs are `${namePrefix}-${seq}.ts`, relative to the playlist. Default `segment`. */
  namePrefix?: string;
  /** Cut at the first keyframe once a segment is this long (audio-only: before it would exceed it). Default 2000. */
  targetDurationMs?: number;
  /** Segments listed in the playlist. Default 6. */
  windowSize?: number;
  /**
   * Segments kept in memory after they left the playlist, so a client that fetched the playlist
   * just before it slid does not get a 404 for the oldest entry. Default 2. RFC 8216 section 6.2.2
   * asks for availability of (segment duration + playlist duration) after removal, which for a
   * 6 x 2 s window is about windowSize + 1 segments; players start near the live edge
   * (hls.js: 3 target durations back), so 2 covers the real race at a third of the memory.
   */
  extraSegments?: number;
  /** A segment that reaches this many bytes is cut at the next frame, keyframe or not. Default 16 MiB. */
  maxSegmentBytes?: number;
  /** A segment that reaches this duration (no keyframe came) is cut at the next frame. Default 10 x target. */
  maxSegmentDurationMs?: number;
  /**
   * Low-Latency HLS: PART-TARGET in ms (parts are cut at most this long, and before every
   * keyframe); the playlist becomes an LL-HLS playlist. 0 or absent: regular HLS only.
   */
  partTargetMs?: number;
  /** Wall clock (ms since epoch) for `completedAt` and EXT-X-PROGRAM-DATE-TIME; injectable for tests. Default Date.now. */
  now?: () => number;
}

/** What a completed segment looks like to listeners and to `segmentInfo()`. */
export interface HlsSegmentInfo {
  seq: number;
  uri: string;
  durationMs: number;
  byteLength: number;
  /** The playlist carries `#EXT-X-DISCONTINUITY` before this segment. */
  discontinuity: boolean;
  /** First frame is a video keyframe (or an audio frame of an audio-only stream). */
  independent: boolean;
  completedAt: number;
}

/** A completed Partial Segment (LL-HLS). */
export interface HlsPartInfo {
  /** Part number, counted across segments (the URI carries it). */
  seq: number;
  /** Media sequence number of the segment it belongs to, and its index there. */
  segment: number;
  index: number;
  uri: string;
  durationMs: number;
  /** Starts with a keyframe: `INDEPENDENT=YES`. */
  independent: boolean;
  byteLength: number;
}

export interface HlsSegmenterEvents {
  /** A Partial Segment completed (LL-HLS only); the last part of a segment comes just before `segment`. */
  part: [info: HlsPartInfo];
  /** A segment completed and is listed in the playlist. */
  segment: [info: HlsSegmentInfo];
  /** `end()` was called; the playlist carries `#EXT-X-ENDLIST`. */
  end: [];
}
