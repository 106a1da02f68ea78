/**
 * Partial Segments of Low-Latency HLS (draft-pantos-hls-rfc8216bis-17, section 4.4.4.9
 * EXT-X-PART and 4.4.3.7 EXT-X-PART-INF): where the segmenter cuts a part, and how parts are named.
 *
 * A part is a run of whole TS frames; the segment is the concatenation of its parts, so a player
 * that never asks for parts reads exactly the bytes it read before. Every part begins with PAT and
 * PMT (the segmenter writes them), so a player may start at any INDEPENDENT part.
 */

/** What the cutter needs to know about the open part and the frame about to be appended. */
export interface PartCutInput {
  /** DTS (ms) of the first frame in the open part. */
  partStartDts: number;
  /** Frames in the open part (a part is never empty). */
  partFrames: number;
  /** DTS (ms) of the frame about to be appended. */
  frameDts: number;
  /** The frame drives cutting (video if the stream has video, else audio). */
  driver: boolean;
  keyframe: boolean;
  /** Recent spacing of driving frames in ms (0 when unknown). */
  intervalMs: number;
  /** PART-TARGET in ms. */
  partTargetMs: number;
}

/**
 * Millisecond RTMP timestamps jitter by a millisecond around the true frame spacing
 * (33, 34, 33 ms at 30 fps); the cutter keeps this much headroom below the part target.
 */
export const PART_JITTER_MS = 2;

/**
 * 4.4.4.9: every Partial Segment but the last of its segment lasts at least 85% of PART-TARGET.
 */
export const PART_MIN_FRACTION = 0.85;

/**
 * true: close the open part before this frame. Parts end only before a driving frame, so audio
 * stays with the video it was interleaved with. A part ends
 * - before a driving keyframe (the next part is INDEPENDENT=YES and a player can start there), once
 *   the part has lasted `PART_MIN_FRACTION` of PART-TARGET; a keyframe that comes sooner stays
 *   inside the part (keyframe intervals that are a multiple of the part duration, the usual case,
 *   always align);
 * - before the driving frame whose inclusion could make the part longer than PART-TARGET
 *   (4.4.4.9: a Partial Segment's duration must not exceed the Part Target Duration): its DTS plus
 *   one frame interval, with `PART_JITTER_MS` headroom.
 * Segment cuts (segmenter.ts) end the last part of a segment whatever its length.
 */
export function shouldCutPart(p: PartCutInput): boolean {
  if (!p.driver || p.partFrames === 0) return false;
  const elapsed = p.frameDts - p.partStartDts;
  if (elapsed <= 0) return false;
  if (p.keyframe && elapsed >= PART_MIN_FRACTION * p.partTargetMs) return true;
  const interval = p.intervalMs > 0 ? p.intervalMs + PART_JITTER_MS : 0;
  return elapsed + interval > p.partTargetMs;
}

/** `${prefix}-part${n}.ts`: parts are numbered across segments, so a preload hint always names the next one. */
export function partUri(prefix: string, partSeq: number): string {
  return `${prefix}-part${partSeq}.ts`;
}

/** The part number in a URI `partUri` made for `prefix`, or undefined. */
export function partSeqOf(prefix: string, uri: string): number | undefined {
  const head = `${prefix}-part`;
  if (!uri.startsWith(head) || !uri.endsWith('.ts')) return undefined;
  const digits = uri.slice(head.length, -3);
  return /^\d{1,15}$/.test(digits) ? Number(digits) : undefined;
}

/**
 * PART-HOLD-BACK (4.4.3.8): at least twice PART-TARGET, SHOULD be at least three times; we use three.
 */
export function partHoldBackMs(partTargetMs: number): number {
  return 3 * partTargetMs;
}

/**
 * Advance Part Limit (6.2.5.2): how far past the last part of the playlist a blocking request may
 * ask: three divided by PART-TARGET in seconds when it is under one second, else three.
 */
export function advancePartLimit(partTargetMs: number): number {
  return partTargetMs < 1000 ? Math.ceil(3000 / partTargetMs) : 3;
}
