import { EventEmitter, once } from 'node:events';
import { BlockingSlots, waitUntil, type WaitOutcome } from '../protocol/hls/blocking';
import { HlsSegmenter } from '../protocol/hls/segmenter';
import { isMediaType, type MediaMessage } from '../protocol/media';

export interface HlsHubOptions {
  targetDurationMs: number;
  windowSize: number;
  /** LL-HLS PART-TARGET (ms); 0 or absent: regular HLS only. */
  partTargetMs?: number;
  /** Blocked LL-HLS requests allowed per stream and in total (docs/hls.md). */
  maxBlockedPerStream?: number;
  maxBlocked?: number;
  /**
   * Segment a stream only while someone plays it over HLS (origins): a feed starts dormant, its first
   * playlist request starts the segmenter from `seed` (the sequence headers and last GOP the process
   * already holds), and it stops after `idleStopMs` without an HLS request. Absent: every stream is
   * segmented from its first message (edges, which open a feed only on an HLS request anyway).
   */
  onDemand?: HlsOnDemand;
}

export interface HlsOnDemand {
  idleStopMs: number;
  /** The stream's sequence headers and the GOP being played now, oldest first. */
  seed: (app: string, name: string) => Iterable<MediaMessage>;
  /** Segmenting of a stream started or stopped (a log line). */
  onChange?: (app: string, name: string, change: 'started' | 'stopped') => void;
}

/** The HLS keys origins and edges share in their configs. */
export interface HlsConfig {
  hlsTargetDurationMs: number;
  hlsWindow: number;
  hlsPartTargetMs: number;
  hlsMaxBlockedPerStream: number;
  hlsMaxBlocked: number;
}

export function hlsHubOptions(config: HlsConfig): HlsHubOptions {
  return {
    targetDurationMs: config.hlsTargetDurationMs,
    windowSize: config.hlsWindow,
    partTargetMs: config.hlsPartTargetMs,
    maxBlockedPerStream: config.hlsMaxBlockedPerStream,
    maxBlocked: config.hlsMaxBlocked,
  };
}

/** A stream's HLS output: the segmenter plus when a player last asked for it. */
export class HlsFeed {
  readonly segmenter: HlsSegmenter;
  lastRequestAt = 0;
  /**
   * Messages go to the segmenter (false: a dormant on-demand feed, which drops them, and whose
   * publisher tap does not even copy them).
   */
  wanted: boolean;
  /** The route logged that this stream's codec is not served as HLS (once per stream). */
  unservedLogged = false;
  private readonly codecs = new EventEmitter<{ unserved: [] }>();
  constructor(name: string, opts: HlsHubOptions) {
    this.segmenter = new HlsSegmenter({ namePrefix: name, targetDurationMs: opts.targetDurationMs, windowSize: opts.windowSize, partTargetMs: opts.partTargetMs ?? 0 });
    this.wanted = !opts.onDemand;
  }

  push(msg: MediaMessage): void {
    if (!this.wanted || !isMediaType(msg.type)) return;
    const before = this.segmenter.muxerStats.unservedCodecs.length;
    this.segmenter.push(msg);
    if (before === 0 && this.segmenter.muxerStats.unservedCodecs.length > 0) this.codecs.emit('unserved');
  }

  /**
   * Enhanced RTMP codecs of this stream that HLS-TS does not carry here (AV1, VP9, Opus, ...):
   * the playlist answers CODEC_NOT_SERVED_AS_HLS instead of segments without them.
   */
  get unservedCodecs(): readonly string[] {
    return this.segmenter.muxerStats.unservedCodecs;
  }

  /** The upstream changed (edge failover, publisher moved): players see EXT-X-DISCONTINUITY. */
  discontinuity(): void {
    this.segmenter.discontinuity();
  }

  /** Resolves once the first segment exists or a codec turned out unserved (or after `ms`); false on timeout. */
  async waitFirstSegment(ms: number): Promise<boolean> {
    if (this.segmenter.hasSegment || this.unservedCodecs.length > 0) return true;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    try {
      await Promise.race([once(this.segmenter, 'segment', { signal: ac.signal }), once(this.codecs, 'unserved', { signal: ac.signal })]);
      return true;
    } catch {
      return false; // aborted by the timer: no segment in time (the caller answers 404)
    } finally {
      clearTimeout(timer);
      ac.abort(); // the other waiter of the race
    }
  }

  /**
   * Waits until `ready()` holds after a new part, a new segment or the end of the stream, at most
   * `timeoutMs`; an aborted `signal` (the client went away) ends the wait at once.
   */
  waitFor(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    const seg = this.segmenter;
    return waitUntil({
      ready,
      timeoutMs,
      signal,
      subscribe: (onChange) => {
        seg.on('part', onChange).on('segment', onChange).on('end', onChange);
        return () => void seg.off('part', onChange).off('segment', onChange).off('end', onChange);
      },
    });
  }
}

/**
 * In-process HLS for every live stream of this process (docs/design.md section 6):
 * no ffmpeg per stream, segments in memory with a bound, sliding playlists.
 */
export class HlsHub {
  private readonly feeds = new Map<string, HlsFeed>();
  /** Blocked LL-HLS requests (playlist reloads and parts being written), per stream and in total. */
  readonly blocked: BlockingSlots;
  /** On demand: the feeds being segmented now, and the timer that stops the idle ones. */
  private readonly segmenting = new Map<string, HlsFeed>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  constructor(private readonly opts: HlsHubOptions, now: () => number = Date.now) {
    this.blocked = new BlockingSlots(opts.maxBlockedPerStream ?? 1000, opts.maxBlocked ?? 5000);
    this.now = now;
  }

  get targetDurationMs(): number {
    return this.opts.targetDurationMs;
  }

  get windowSize(): number {
    return this.opts.windowSize;
  }

  /** Starts (or continues, with a discontinuity) the HLS output of a stream. */
  open(app: string, name: string): HlsFeed {
    const key = `${app}/${name}`;
    const existing = this.feeds.get(key);
    if (existing && !existing.segmenter.isEnded) {
      existing.discontinuity();
      return existing;
    }
    const feed = new HlsFeed(name, this.opts);
    this.feeds.set(key, feed);
    return feed;
  }

  get(app: string, name: string): HlsFeed | undefined {
    return this.feeds.get(`${app}/${name}`);
  }

  /**
   * An HLS request for the stream: counts as a player. `start` (playlist requests): a dormant
   * on-demand feed starts segmenting now, from the seed; the caller then waits for its first segment.
   */
  touch(app: string, name: string, feed: HlsFeed, start: boolean): void {
    feed.lastRequestAt = this.now();
    const od = this.opts.onDemand;
    if (!od || feed.wanted || !start || feed.segmenter.isEnded) return;
    feed.wanted = true;
    const key = `${app}/${name}`;
    for (const msg of od.seed(app, name)) feed.push(msg);
    this.segmenting.set(key, feed);
    od.onChange?.(app, name, 'started');
    if (!this.idleTimer) {
      const every = Math.max(250, Math.min(5000, Math.floor(od.idleStopMs / 4)));
      this.idleTimer = setInterval(() => this.stopIdle(), every).unref();
    }
  }

  /** Streams being segmented now. */
  get segmentingCount(): number {
    return this.opts.onDemand ? this.segmenting.size : this.feeds.size;
  }

  /**
   * On demand: stops segmenting the streams nobody asked HLS of for `idleStopMs` (and with no request
   * waiting on them): their segments are freed; the next playlist request starts them again.
   */
  stopIdle(): void {
    const od = this.opts.onDemand;
    if (!od) return;
    const now = this.now();
    for (const [key, feed] of this.segmenting) {
      if (now - feed.lastRequestAt < od.idleStopMs || this.blocked.activeFor(key) > 0) continue;
      this.segmenting.delete(key);
      feed.wanted = false;
      feed.segmenter.suspend();
      const slash = key.indexOf('/');
      od.onChange?.(key.slice(0, slash), key.slice(slash + 1), 'stopped');
    }
    this.stopTimerIfIdle();
  }

  private stopTimerIfIdle(): void {
    if (this.segmenting.size > 0 || !this.idleTimer) return;
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** The stream is gone: the playlist ends (EXT-X-ENDLIST) and memory is freed. */
  close(app: string, name: string, feed?: HlsFeed): void {
    const key = `${app}/${name}`;
    const current = this.feeds.get(key);
    if (!current || (feed && current !== feed)) return;
    current.segmenter.end();
    this.feeds.delete(key);
    if (this.segmenting.get(key) === current) this.segmenting.delete(key);
    this.stopTimerIfIdle();
  }

  get size(): number {
    return this.feeds.size;
  }
}
