/**
 * In-process FLV -> MPEG-TS HLS segmenter (docs/design.md section 6): cuts at video keyframes once a
 * segment reaches the target duration (audio-only streams: before a segment would exceed it),
 * keeps a sliding window of segments in memory, and renders the RFC 8216 live playlist.
 *
 * With `partTargetMs` it also cuts Partial Segments (protocol/hls/parts.ts) and renders the
 * Low-Latency HLS playlist (protocol/hls/ll-playlist.ts) on the same URL; a segment is then the
 * concatenation of its parts: each frame's TS bytes are written once into the segment's buffer and
 * parts are views into it (no copy at a part or segment cut).
 */
import { EventEmitter } from 'node:events';
import { TsMuxer, type MuxedFrame, type TsMuxerStats } from '../mpegts/muxer';
import type { PlaylistPosition } from './blocking';
import { renderLlPlaylist, type LlPart, type LlSegment } from './ll-playlist';
import { partHoldBackMs, partSeqOf, partUri, shouldCutPart } from './parts';
import { playlistEtag, renderPlaylist, type PlaylistEntry } from './playlist';
import type { HlsPartInfo, HlsSegmenterEvents, HlsSegmenterOptions, HlsSegmentInfo, MediaMessage } from './types';

export const HLS_DEFAULTS = {
  namePrefix: 'segment',
  targetDurationMs: 2000,
  windowSize: 6,
  extraSegments: 2,
  maxSegmentBytes: 16 * 1024 * 1024,
} as const;

/** A DTS this far behind the previous frame means the publisher's clock restarted. */
const BACKWARD_JUMP_MS = 1000;
/**
 * Audio that arrives this long before the first video keyframe goes into the first segment
 * (encoders interleave by timestamp, so the first AAC frames usually precede the keyframe).
 */
const AUDIO_PREROLL_MS = 200;

interface OpenSegment {
  seq: number;
  /**
   * The segment's bytes, written once as frames arrive: `buf[0, bytes)`. Parts are views into it, so
   * nothing is concatenated at a part or segment cut; when it is full a larger one takes over (views
   * already handed out keep the old one until the segment completes and they are re-pointed).
   */
  buf: Buffer;
  bytes: number;
  startDts: number;
  lastDts: number;
  discontinuity: boolean;
  independent: boolean;
  /** Frames that drive cutting in this segment, and the DTS of the first and last one. */
  driverFrames: number;
  firstDriverDts: number;
  lastDriverDts: number;
  /** Wall clock at which the segment's first frame arrived here (EXT-X-PROGRAM-DATE-TIME). */
  arrivedAt: number;
  /** Completed parts (LL-HLS only), and the one being written: bytes from `partFrom` on. */
  parts: StoredPart[];
  partFrom: number;
  partStartDts: number;
  partFrames: number;
  partIndependent: boolean;
}

interface StoredPart {
  info: HlsPartInfo;
  data: Buffer;
}

interface StoredSegment {
  info: HlsSegmentInfo;
  data: Buffer;
  arrivedAt: number;
  parts: StoredPart[];
}

/** Parts are listed for the segments within this many target durations of the live edge (4.4.4.9). */
const PART_LIST_TARGET_DURATIONS = 3;
/** CAN-SKIP-UNTIL: the spec's minimum, six target durations (4.4.3.8). */
const SKIP_TARGET_DURATIONS = 6;

/** The first segment's buffer; later ones start at the previous segment's size plus 10 %. */
const INITIAL_SEGMENT_BYTES = 256 * 1024;
const SIZE_HINT_MARGIN = 1.1;
const TS_PACKET_BYTES = 188;

/** Appends `b` to the open segment's buffer, moving to one twice as large when it is full. */
function write(cur: OpenSegment, b: Buffer): void {
  if (cur.bytes + b.length > cur.buf.length) {
    const next = Buffer.allocUnsafe(Math.max(cur.buf.length * 2, cur.bytes + b.length));
    cur.buf.copy(next, 0, 0, cur.bytes);
    cur.buf = next;
  }
  b.copy(cur.buf, cur.bytes);
  cur.bytes += b.length;
}

type CutDecision = 'append' | 'cut' | 'force' | 'jump';

export class HlsSegmenter extends EventEmitter<HlsSegmenterEvents> {
  readonly namePrefix: string;
  readonly targetDurationMs: number;
  readonly windowSize: number;
  readonly extraSegments: number;
  readonly maxSegmentBytes: number;
  readonly maxSegmentDurationMs: number;
  /** PART-TARGET in ms; 0: no Low-Latency HLS. */
  readonly partTargetMs: number;
  private readonly now: () => number;
  private readonly muxer = new TsMuxer();

  private current: OpenSegment | undefined;
  /** Completed segments still in memory, oldest first, consecutive sequence numbers. */
  private readonly stored: StoredSegment[] = [];
  private nextSeq = 0;
  private completedCount = 0;
  private discontinuitySequence = 0;
  private pendingDiscontinuity = false;
  /** EXT-X-TARGETDURATION: never decreases (RFC 8216 6.2.1 forbids changing it). */
  private targetDurationS: number;
  private ended = false;
  /** The rendered playlist (and its delta update) with its ETag: rendered once per change, not per request. */
  private cachedPlaylist: RenderedPlaylist | undefined;
  private cachedDelta: RenderedPlaylist | undefined;
  /** Number of the part being written (or the next one to be): parts are numbered across segments. */
  private partCounter = 0;
  private lastCompletedSeq = -1;
  /** DTS and spacing of the frames that drive cutting (video if present, else audio). */
  private lastDriverDts: number | undefined;
  private driverIntervalMs = 0;
  /** Audio muxed while waiting for the first video keyframe of a segment run. */
  private preroll: MuxedFrame[] = [];
  /** Bytes allocated for the next segment (the last one's size plus a margin). */
  private sizeHint = INITIAL_SEGMENT_BYTES;

  constructor(options: HlsSegmenterOptions = {}) {
    super();
    this.namePrefix = options.namePrefix ?? HLS_DEFAULTS.namePrefix;
    this.targetDurationMs = positive(options.targetDurationMs ?? HLS_DEFAULTS.targetDurationMs, 'targetDurationMs');
    this.windowSize = Math.floor(positive(options.windowSize ?? HLS_DEFAULTS.windowSize, 'windowSize'));
    this.extraSegments = Math.max(0, Math.floor(options.extraSegments ?? HLS_DEFAULTS.extraSegments));
    this.maxSegmentBytes = positive(options.maxSegmentBytes ?? HLS_DEFAULTS.maxSegmentBytes, 'maxSegmentBytes');
    this.maxSegmentDurationMs = positive(options.maxSegmentDurationMs ?? 10 * this.targetDurationMs, 'maxSegmentDurationMs');
    this.now = options.now ?? Date.now;
    this.partTargetMs = options.partTargetMs ?? 0;
    if (!Number.isFinite(this.partTargetMs) || this.partTargetMs < 0) throw new RangeError(`partTargetMs must be >= 0, got ${this.partTargetMs}`);
    if (!/^[A-Za-z0-9_.-]+$/.test(this.namePrefix)) throw new RangeError(`namePrefix "${this.namePrefix}" is not a plain file name`);
    this.targetDurationS = Math.ceil(this.targetDurationMs / 1000);
  }

  /** Completed segments since construction (0 until the first one is listed in the playlist). */
  get segmentCount(): number {
    return this.completedCount;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** A completed segment is in memory (false again after `suspend()` until the next one completes). */
  get hasSegment(): boolean {
    return this.stored.length > 0;
  }

  get muxerStats(): Readonly<TsMuxerStats> {
    return this.muxer.stats;
  }

  push(msg: MediaMessage): void {
    if (this.ended) return;
    const frame = this.muxer.push(msg);
    if (!frame) return;
    const driver = this.isDriver(frame);
    const cur = this.current;
    if (cur) {
      const decision = this.decide(cur, frame, driver);
      if (decision === 'append') {
        this.append(cur, frame, driver);
        return;
      }
      if (decision === 'jump') {
        // Timestamps restarted without discontinuity(): close, flag, wait for a clean start.
        this.close(cur, this.estimatedEnd(cur));
        this.pendingDiscontinuity = true;
        this.lastDriverDts = undefined;
        this.preroll = [];
      } else {
        this.close(cur, frame.dtsMs);
        if (decision === 'force') {
          this.append(this.open(frame, this.canStart(frame)), frame, driver);
          return;
        }
      }
    }
    if (!this.canStart(frame)) {
      if (frame.kind === 'audio') this.holdPreroll(frame);
      return;
    }
    const opened = this.open(frame, true);
    this.append(opened, frame, driver);
    for (const a of this.preroll) if (a.dtsMs >= frame.dtsMs - AUDIO_PREROLL_MS) this.append(opened, a, false);
    this.preroll = [];
  }

  private holdPreroll(frame: MuxedFrame): void {
    this.preroll = this.preroll.filter((a) => a.dtsMs >= frame.dtsMs - AUDIO_PREROLL_MS && a.dtsMs <= frame.dtsMs);
    this.preroll.push(frame);
  }

  /**
   * An upstream switch: the open segment is closed, the next one is preceded by
   * `#EXT-X-DISCONTINUITY` (sequence numbers keep increasing), and the muxer forgets codec state
   * and continuity counters (new sequence headers follow; segmentation restarts at a keyframe).
   */
  discontinuity(): void {
    if (this.ended) return;
    if (this.current) this.close(this.current, this.estimatedEnd(this.current));
    this.pendingDiscontinuity = true;
    this.lastDriverDts = undefined;
    this.driverIntervalMs = 0;
    this.preroll = [];
    this.muxer.reset();
  }

  /**
   * Stops segmenting for now and frees the segments (nobody asks for them): the open segment is
   * dropped, the stored ones forgotten. Pushes after it start a new run as after `discontinuity()`:
   * the next segment carries `EXT-X-DISCONTINUITY`, and sequence and part numbers keep increasing,
   * so no URI is ever reused for other bytes (segments are served `immutable`).
   */
  suspend(): void {
    if (this.ended) return;
    this.current = undefined;
    // The listed segments leave the playlist now: count their discontinuity tags (RFC 8216 4.3.3.3).
    for (const s of this.listed()) if (s.info.discontinuity) this.discontinuitySequence++;
    this.stored.length = 0;
    this.pendingDiscontinuity = true;
    this.lastDriverDts = undefined;
    this.driverIntervalMs = 0;
    this.preroll = [];
    this.muxer.reset();
    this.invalidate();
  }

  /** Closes the open segment and adds `#EXT-X-ENDLIST`. Later pushes are ignored. Idempotent. */
  end(): void {
    if (this.ended) return;
    if (this.current) this.close(this.current, this.estimatedEnd(this.current));
    this.ended = true;
    this.invalidate();
    this.emit('end');
  }

  /** EXT-X-TARGETDURATION in seconds (never decreases). */
  get targetDuration(): number {
    return this.targetDurationS;
  }

  get lowLatency(): boolean {
    return this.partTargetMs > 0;
  }

  /** Where the playlist stands for blocking reloads (protocol/hls/blocking.ts). */
  position(): PlaylistPosition {
    return {
      lastMsn: this.lastCompletedSeq,
      openMsn: this.current?.seq ?? this.nextSeq,
      openParts: this.current?.parts.length ?? 0,
      ended: this.ended,
    };
  }

  /**
   * The live playlist: RFC 8216, or with `partTargetMs` the LL-HLS playlist (a superset).
   * `skip`: a Playlist Delta Update (6.2.5.1) when segments can be skipped.
   */
  playlist(opts: { skip?: boolean } = {}): string {
    return this.renderedPlaylist(opts).text;
  }

  /**
   * `playlist(opts)` with its ETag (`playlistEtag`), both kept until the next change: a completed
   * part or segment, a discontinuity, the end of the stream. Without LL-HLS `skip` changes nothing.
   */
  renderedPlaylist(opts: { skip?: boolean } = {}): RenderedPlaylist {
    if (this.lowLatency && opts.skip) return (this.cachedDelta ??= rendered(this.render(true)));
    return (this.cachedPlaylist ??= rendered(this.render(false)));
  }

  /** Renders the playlist now, without the cache. */
  private render(skip: boolean): string {
    if (this.lowLatency) return this.renderLowLatency(skip);
    const listed = this.listed();
    const segments: PlaylistEntry[] = listed.map((s) => ({
      uri: s.info.uri,
      durationMs: s.info.durationMs,
      discontinuity: s.info.discontinuity,
    }));
    return renderPlaylist({
      version: 3,
      targetDuration: this.targetDurationS,
      // Empty: the number the first listed segment will have, so it never goes backwards.
      mediaSequence: listed.length > 0 ? listed[0].info.seq : (this.current?.seq ?? this.nextSeq),
      discontinuitySequence: this.discontinuitySequence,
      segments,
      ended: this.ended,
    });
  }

  private renderLowLatency(skip: boolean): string {
    const listed = this.listed();
    const limitMs = PART_LIST_TARGET_DURATIONS * this.targetDurationS * 1000;
    const openParts = this.ended ? [] : (this.current?.parts ?? []);
    let fromEnd = openParts.reduce((sum, p) => sum + p.info.durationMs, 0);
    // Walk back from the live edge: parts of segments within three target durations are listed.
    const segments: LlSegment[] = new Array<LlSegment>(listed.length);
    let skippable = 0;
    for (let i = listed.length - 1; i >= 0; i--) {
      const s = listed[i];
      segments[i] = {
        uri: s.info.uri,
        durationMs: s.info.durationMs,
        discontinuity: s.info.discontinuity,
        programDateTimeMs: s.arrivedAt,
        parts: fromEnd < limitMs ? s.parts.map((p) => llPart(p.info)) : [],
      };
      fromEnd += s.info.durationMs;
      // Skippable: the segment starts more than CAN-SKIP-UNTIL before the end (6.2.5.1).
      if (skippable === 0 && fromEnd > SKIP_TARGET_DURATIONS * this.targetDurationS * 1000) skippable = i + 1;
    }
    const skipped = skip ? skippable : 0;
    const cur = this.current;
    return renderLlPlaylist({
      version: 3,
      targetDuration: this.targetDurationS,
      mediaSequence: listed.length > 0 ? listed[0].info.seq : (cur?.seq ?? this.nextSeq),
      discontinuitySequence: this.discontinuitySequence,
      partTargetMs: this.partTargetMs,
      partHoldBackMs: partHoldBackMs(this.partTargetMs),
      canSkipUntilMs: SKIP_TARGET_DURATIONS * this.targetDurationS * 1000,
      skippedSegments: skipped,
      segments: segments.slice(skipped),
      open: cur && cur.parts.length > 0 ? { discontinuity: cur.discontinuity, programDateTimeMs: cur.arrivedAt, parts: cur.parts.map((p) => llPart(p.info)) } : undefined,
      preloadHint: this.ended ? undefined : partUri(this.namePrefix, this.partCounter),
      ended: this.ended,
    });
  }

  /** Resolves `NAME-part<n>.ts` to a completed part still in memory. */
  partByUri(uri: string): Buffer | undefined {
    const seq = partSeqOf(this.namePrefix, uri);
    return seq === undefined ? undefined : this.part(seq)?.data;
  }

  /**
   * A part URI of this stream: `ready` (completed, in memory), `pending` (the part being written
   * or one of the next two: a request may wait for it), or `gone` (unknown, too old, too far ahead).
   */
  partState(uri: string): 'ready' | 'pending' | 'gone' {
    const seq = partSeqOf(this.namePrefix, uri);
    if (seq === undefined || !this.lowLatency) return 'gone';
    if (this.part(seq)) return 'ready';
    return !this.ended && seq >= this.partCounter && seq <= this.partCounter + 2 ? 'pending' : 'gone';
  }

  private part(seq: number): StoredPart | undefined {
    const inOpen = this.current?.parts.find((p) => p.info.seq === seq);
    if (inOpen) return inOpen;
    for (let i = this.stored.length - 1; i >= 0; i--) {
      const parts = this.stored[i].parts;
      if (parts.length === 0 || parts[0].info.seq > seq) continue;
      return parts[seq - parts[0].info.seq];
    }
    return undefined;
  }

  /** A completed segment still in memory (listed, or within `extraSegments` after it left). */
  segment(seq: number): Buffer | undefined {
    return this.stored[this.indexOf(seq)]?.data;
  }

  segmentInfo(seq: number): HlsSegmentInfo | undefined {
    return this.stored[this.indexOf(seq)]?.info;
  }

  /** Resolves `NAME-<seq>.ts` (as listed in the playlist) to the segment bytes. */
  segmentByUri(uri: string): Buffer | undefined {
    const prefix = `${this.namePrefix}-`;
    if (!uri.startsWith(prefix) || !uri.endsWith('.ts')) return undefined;
    const digits = uri.slice(prefix.length, -3);
    if (!/^\d{1,15}$/.test(digits)) return undefined;
    return this.segment(Number(digits));
  }

  uriFor(seq: number): string {
    return `${this.namePrefix}-${seq}.ts`;
  }

  private indexOf(seq: number): number {
    if (this.stored.length === 0 || !Number.isInteger(seq)) return -1;
    return seq - this.stored[0].info.seq;
  }

  private listed(): StoredSegment[] {
    return this.stored.slice(Math.max(0, this.stored.length - this.windowSize));
  }

  /** Video streams are cut at video keyframes; audio-only streams at any audio frame. */
  private isDriver(frame: MuxedFrame): boolean {
    return this.muxer.hasVideo ? frame.kind === 'video' : frame.kind === 'audio';
  }

  private canStart(frame: MuxedFrame): boolean {
    return this.isDriver(frame) && frame.keyframe;
  }

  private decide(cur: OpenSegment, frame: MuxedFrame, driver: boolean): CutDecision {
    const t = frame.dtsMs;
    if (t < cur.lastDts - BACKWARD_JUMP_MS || t > cur.lastDts + this.maxSegmentDurationMs) return 'jump';
    const elapsed = t - cur.startDts;
    if (driver && frame.keyframe && elapsed > 0) {
      if (this.muxer.hasVideo) {
        if (elapsed >= this.targetDurationMs) return 'cut';
      } else {
        // Audio-only: cut before this frame if keeping it would push the segment past the target.
        const interval = this.lastDriverDts === undefined ? 0 : Math.max(0, t - this.lastDriverDts);
        if (elapsed + interval > this.targetDurationMs) return 'cut';
      }
    }
    if (cur.bytes >= this.maxSegmentBytes || elapsed >= this.maxSegmentDurationMs) return 'force';
    return 'append';
  }

  private open(frame: MuxedFrame, independent: boolean): OpenSegment {
    const discontinuity = this.pendingDiscontinuity && this.nextSeq > 0;
    this.pendingDiscontinuity = false;
    const tables = this.muxer.beginSegment();
    const arrivedAt = this.now();
    this.current = {
      seq: this.nextSeq++,
      buf: Buffer.allocUnsafe(Math.max(this.sizeHint, tables.length)),
      bytes: 0,
      startDts: frame.dtsMs,
      lastDts: frame.dtsMs,
      discontinuity,
      independent,
      driverFrames: 0,
      firstDriverDts: frame.dtsMs,
      lastDriverDts: frame.dtsMs,
      arrivedAt,
      parts: [],
      partFrom: 0,
      partStartDts: frame.dtsMs,
      partFrames: 0,
      partIndependent: independent,
    };
    write(this.current, tables);
    return this.current;
  }

  private append(cur: OpenSegment, frame: MuxedFrame, driver: boolean): void {
    if (this.lowLatency) {
      const cut = shouldCutPart({
        partStartDts: cur.partStartDts,
        partFrames: cur.partFrames,
        frameDts: frame.dtsMs,
        driver,
        // Audio-only streams: every frame is a keyframe; parts are cut by duration alone.
        keyframe: frame.keyframe && this.muxer.hasVideo,
        intervalMs: this.driverIntervalMs,
        partTargetMs: this.partTargetMs,
      });
      if (cut) {
        this.emit('part', this.closePart(cur, frame.dtsMs).info);
        // Every part starts with PAT and PMT, so a player may start at any independent part.
        write(cur, this.muxer.beginSegment());
        cur.partStartDts = frame.dtsMs;
        cur.partIndependent = frame.keyframe;
      }
      cur.partFrames++;
    }
    write(cur, frame.bytes);
    if (frame.dtsMs > cur.lastDts) cur.lastDts = frame.dtsMs;
    if (driver) {
      if (this.lastDriverDts !== undefined && frame.dtsMs > this.lastDriverDts) this.driverIntervalMs = frame.dtsMs - this.lastDriverDts;
      this.lastDriverDts = frame.dtsMs;
      if (cur.driverFrames === 0) cur.firstDriverDts = frame.dtsMs;
      cur.lastDriverDts = Math.max(cur.lastDriverDts, frame.dtsMs);
      cur.driverFrames++;
    }
  }

  /**
   * End of a segment no next frame delimits: the last driving frame plus the mean frame spacing
   * in the segment (millisecond timestamps make single intervals jitter: 33, 34, 33 ms at 30 fps).
   */
  private estimatedEnd(cur: OpenSegment): number {
    if (cur.driverFrames === 0) return cur.lastDts + this.driverIntervalMs;
    const mean = cur.driverFrames > 1 ? (cur.lastDriverDts - cur.firstDriverDts) / (cur.driverFrames - 1) : this.driverIntervalMs;
    return cur.lastDriverDts + mean;
  }

  /** Completes the part being written (it ends where the next frame starts, or at `endDts`). */
  private closePart(cur: OpenSegment, endDts: number): StoredPart {
    const data = cur.buf.subarray(cur.partFrom, cur.bytes);
    const part: StoredPart = {
      info: {
        seq: this.partCounter++,
        segment: cur.seq,
        index: cur.parts.length,
        uri: partUri(this.namePrefix, this.partCounter - 1),
        durationMs: Math.max(0, Math.round(endDts - cur.partStartDts)),
        independent: cur.partIndependent,
        byteLength: data.length,
      },
      data,
    };
    cur.parts.push(part);
    cur.partFrom = cur.bytes;
    cur.partFrames = 0;
    this.invalidate();
    return part;
  }

  private invalidate(): void {
    this.cachedPlaylist = undefined;
    this.cachedDelta = undefined;
  }

  private close(cur: OpenSegment, endDts: number): void {
    this.current = undefined;
    const durationMs = Math.max(0, Math.round(endDts - cur.startDts));
    // The last part ends with the segment; parts that were emitted become views into its bytes.
    let lastPart: StoredPart | undefined;
    if (this.lowLatency && cur.partFrames > 0) {
      const already = cur.parts.reduce((sum, p) => sum + p.info.durationMs, 0);
      lastPart = this.closePart(cur, endDts);
      lastPart.info.durationMs = Math.max(0, durationMs - already);
    }
    // A buffer much larger than its segment (the first one, a bitrate drop) is not kept for the window.
    const data = cur.buf.length > cur.bytes * 1.5 ? Buffer.from(cur.buf.subarray(0, cur.bytes)) : cur.buf.subarray(0, cur.bytes);
    // The next segment's buffer: this one's size and a margin (grows by doubling when short).
    this.sizeHint = Math.min(this.maxSegmentBytes, Math.ceil(cur.bytes * SIZE_HINT_MARGIN) + TS_PACKET_BYTES * 4);
    let offset = 0;
    for (const p of cur.parts) {
      p.data = data.subarray(offset, offset + p.info.byteLength);
      offset += p.info.byteLength;
    }
    const info: HlsSegmentInfo = {
      seq: cur.seq,
      uri: this.uriFor(cur.seq),
      durationMs,
      byteLength: data.length,
      discontinuity: cur.discontinuity,
      independent: cur.independent,
      completedAt: this.now(),
    };
    this.stored.push({ info, data, arrivedAt: cur.arrivedAt, parts: cur.parts });
    this.lastCompletedSeq = cur.seq;
    this.completedCount++;
    // RFC 8216 4.3.3.1: each EXTINF *rounded to the nearest integer* must be <= the target duration.
    // Rounding (not ceil) keeps a 2.001 s segment from raising a 2 s target for good; it only grows for
    // a GOP really longer than the target, and never shrinks (6.2.1).
    this.targetDurationS = Math.max(this.targetDurationS, Math.round(durationMs / 1000));
    // The segment that just left the playlist window: count its discontinuity tag (RFC 8216 4.3.3.3).
    const leaving = this.stored[this.stored.length - this.windowSize - 1];
    if (leaving?.info.discontinuity) this.discontinuitySequence++;
    while (this.stored.length > this.windowSize + this.extraSegments) this.stored.shift();
    this.invalidate();
    if (lastPart) this.emit('part', lastPart.info);
    this.emit('segment', info);
  }
}

/** A rendered playlist and its strong ETag. */
export interface RenderedPlaylist {
  readonly text: string;
  readonly etag: string;
}

function rendered(text: string): RenderedPlaylist {
  return { text, etag: playlistEtag(text) };
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

function llPart(p: HlsPartInfo): LlPart {
  return { uri: p.uri, durationMs: p.durationMs, independent: p.independent };
}
