import { flvHeader, flvTag, isMetadata, stripSetDataFrame } from '../../protocol/flv';
import { MediaType } from '../../protocol/media';
import { classifyMessage } from '../../protocol/media-tag';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import type { RtmpMessage } from '../../protocol/rtmp/message';
import { MEDIA_STREAM_ID, SERVER_CHUNK_SIZE } from '../../protocol/rtmp/server-session';
import { DEFAULT_GOP_CACHE_MAX_BYTES, GopCache } from './gop-cache';

/** A viewer socket as the hub sees it: RTMP chunks or FLV tags, and how much is still queued. */
export interface FanoutViewer {
  readonly kind: 'rtmp' | 'flv';
  /** Bytes written but not yet taken by the kernel (socket.writableLength). */
  readonly backlog: number;
  write(buf: Buffer): void;
  /** The stream ended for good: end-of-stream, then close. */
  end(reason: string): void;
  /** The viewer fell too far behind: disconnect it. */
  kick(reason: string): void;
  /** The connection behind it, for the node API's client list (edge/clients.ts). */
  readonly client?: ViewerConnection;
}

/** A viewer's connection as the node API lists it (`GET /api/v1/clients`). */
export interface ViewerConnection {
  readonly id: string;
  /** "address:port" of the peer. */
  readonly ip: string;
  readonly createTime: number;
  readonly inBytes: number;
  readonly outBytes: number;
}

/**
 * How the hub cuts batches (edge config `fanoutBatchMode`):
 * - `frame`: a video frame is written FRAME_COALESCE_MS after it arrived, together with whatever
 *   audio came before it and anything else that arrived meanwhile (a burst of frames shares one
 *   write); audio and data alone wait for the next video frame, at most `batchMs` (an audio-only
 *   stream: the window). At most one write per viewer per video frame, and video waits in the hub
 *   only FRAME_COALESCE_MS.
 * - `window`: every message waits up to `batchMs` (one write per viewer per window).
 */
export type FanoutBatchMode = 'frame' | 'window';

/** How long a video frame waits in `frame` mode for the rest of its burst. */
export const FRAME_COALESCE_MS = 4;

/** What kind of message the hub is given (protocol/media-tag.ts classifies it). */
export type FanoutMessageKind = 'keyframe' | 'video' | 'audio' | 'header' | 'metadata';

/**
 * The hub's batching decision for one message: `cut` — flush what is pending first (a keyframe
 * always starts a batch, so a lagging viewer can resume at a batch start); `flush` — when the batch
 * holding the message is written: `soon` FRAME_COALESCE_MS later (one timer for all hubs; messages
 * that arrive meanwhile share the write), `window` at most `batchMs` after the batch opened.
 */
export interface BatchStep {
  cut: boolean;
  flush: 'soon' | 'window';
}

export function batchStep(mode: FanoutBatchMode, kind: FanoutMessageKind): BatchStep {
  const cut = kind === 'keyframe';
  if (mode === 'frame' && (kind === 'keyframe' || kind === 'video')) return { cut, flush: 'soon' };
  return { cut, flush: 'window' };
}

export interface FanoutOptions {
  /** Messages are written to viewers in batches at most this old (one write per viewer per batch). */
  batchMs: number;
  /** How batches are cut (see FanoutBatchMode); default `window`. */
  batchMode?: FanoutBatchMode;
  /** A viewer with more queued than this stops receiving until the next keyframe. */
  maxBacklogBytes: number;
  /** A viewer behind for longer than this is disconnected. */
  maxLagMs: number;
  /** Largest cached GOP, in bytes of what the cache holds (payload + RTMP chunks + FLV tag). Default 8 MiB. */
  maxGopBytes?: number;
}

export const FANOUT_DEFAULTS: FanoutOptions = { batchMs: 50, batchMode: 'frame', maxBacklogBytes: 4 * 1024 * 1024, maxLagMs: 10_000, maxGopBytes: DEFAULT_GOP_CACHE_MAX_BYTES };

/** One message encoded once for every viewer kind. */
interface Encoded {
  msg: RtmpMessage;
  rtmp: Buffer;
  flv: Buffer;
}

interface ViewerState {
  /** 0 while in sync; the time it started lagging otherwise. */
  lagSince: number;
  drops: number;
}

/**
 * Fan-out of one stream to many viewers (docs/design.md section 9: bounded viewer
 * queues that drop whole GOPs). Each message is encoded once per kind (RTMP
 * chunks, FLV tag); messages are collected for `batchMs` and each batch is
 * concatenated once, so a viewer costs one write of a shared buffer per batch
 * instead of one write per message. A keyframe always starts a new batch: a
 * viewer that fell behind skips whole batches and resumes on a keyframe with the
 * current sequence headers, so it never sees a partial frame or a broken GOP.
 * New viewers start with metadata, sequence headers and the cached GOP, so their
 * first decodable frame is a keyframe at once.
 */
export class StreamHub {
  private readonly viewers = new Map<FanoutViewer, ViewerState>();
  private readonly writer = new ChunkWriter();
  private metadata?: Encoded;
  private videoHeader?: Encoded;
  private audioHeader?: Encoded;
  /** The cached GOP, bounded in bytes and messages (a stream with no keyframes would grow it without bound). */
  private readonly gop: GopCache<Encoded>;
  private batch: Encoded[] = [];
  private batchStartsWithKeyframe = false;
  private timer?: NodeJS.Timeout;
  private readonly mode: FanoutBatchMode;
  private ended = false;
  /** Messages not delivered to lagging viewers, all viewers together. */
  drops = 0;
  kicked = 0;

  constructor(
    private readonly opts: FanoutOptions = FANOUT_DEFAULTS,
    private readonly onDrop?: (messages: number) => void,
    /** A GOP went over the byte cap and was dropped from the cache (`overflows` counts them). */
    private readonly onGopOverflow?: (overflows: number, maxBytes: number) => void,
  ) {
    this.writer.chunkSize = SERVER_CHUNK_SIZE;
    this.mode = opts.batchMode ?? 'window';
    const maxGopBytes = opts.maxGopBytes ?? DEFAULT_GOP_CACHE_MAX_BYTES;
    this.gop = new GopCache<Encoded>((e) => e.msg.payload.length + e.rtmp.length + e.flv.length, maxGopBytes);
  }

  /** Bytes held by the cached GOP. */
  get gopBytes(): number {
    return this.gop.bytes;
  }

  get size(): number {
    return this.viewers.size;
  }

  /** Viewers by kind (the edge's discovery reports). */
  countByKind(): { rtmp: number; flv: number } {
    const out = { rtmp: 0, flv: 0 };
    for (const v of this.viewers.keys()) out[v.kind]++;
    return out;
  }

  push(msg: RtmpMessage): void {
    if (this.ended) return;
    const meta = msg.type === MediaType.Data && isMetadata(msg);
    if (msg.type === MediaType.Data && !meta) return; // other data messages are not part of the stream
    const out: RtmpMessage = meta ? { ...msg, payload: stripSetDataFrame(msg.payload) } : msg;
    const enc = this.encode(out);
    // Any codec, legacy FLV or Enhanced RTMP (HEVC, AV1, VP9, Opus...): protocol/media-tag.ts.
    const tag = classifyMessage(msg);
    const key = tag.track === 'video' && tag.role === 'keyframe';
    const header = tag.role === 'sequence-header';
    if (meta) this.metadata = enc;
    else if (header && tag.track === 'video') this.videoHeader = enc;
    else if (header && tag.track === 'audio') this.audioHeader = enc;
    else if (this.gop.push(enc, key) === 'overflow') this.onGopOverflow?.(this.gop.overflows, this.opts.maxGopBytes ?? DEFAULT_GOP_CACHE_MAX_BYTES);
    const kind: FanoutMessageKind = meta ? 'metadata' : header ? 'header' : key ? 'keyframe' : tag.track === 'video' ? 'video' : 'audio';
    const step = batchStep(this.mode, kind);
    if (step.cut) {
      this.flush();
      this.batchStartsWithKeyframe = true;
    }
    this.batch.push(enc);
    if (step.flush === 'soon') flushSoon(this);
    else this.timer ??= setTimeout(() => this.flush(), this.opts.batchMs);
  }

  /** Starts a viewer with the FLV header (HTTP-FLV), metadata, sequence headers and the last GOP. */
  add(viewer: FanoutViewer): void {
    if (this.ended) return viewer.end('stream ended');
    this.flush(); // the cached GOP already holds the pending batch: deliver it to the others first
    const parts = this.headers(viewer.kind);
    for (const enc of this.gop.items) parts.push(enc[viewer.kind]);
    if (viewer.kind === 'flv') parts.unshift(flvHeader());
    if (parts.length > 0) viewer.write(Buffer.concat(parts));
    this.viewers.set(viewer, { lagSince: 0, drops: 0 });
  }

  remove(viewer: FanoutViewer): void {
    this.viewers.delete(viewer);
  }

  /** The viewers being served now. */
  members(): IterableIterator<FanoutViewer> {
    return this.viewers.keys();
  }

  /** What a late joiner needs, as messages: metadata, sequence headers and the cached GOP. */
  snapshot(): RtmpMessage[] {
    return [this.metadata, this.audioHeader, this.videoHeader, ...this.gop.items].filter((e): e is Encoded => e !== undefined).map((e) => e.msg);
  }

  /** The current sequence headers as FLV tag bodies (the node API reads codec details from them). */
  sequenceHeaders(): { video: Buffer | null; audio: Buffer | null } {
    return { video: this.videoHeader?.msg.payload ?? null, audio: this.audioHeader?.msg.payload ?? null };
  }

  dropsOf(viewer: FanoutViewer): number {
    return this.viewers.get(viewer)?.drops ?? 0;
  }

  /** End-of-stream for every viewer. */
  end(reason: string): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    for (const v of [...this.viewers.keys()]) v.end(reason);
    this.viewers.clear();
  }

  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    dueSoon.delete(this);
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const startsWithKeyframe = this.batchStartsWithKeyframe;
    this.batch = [];
    this.batchStartsWithKeyframe = false;
    const joined: Partial<Record<'rtmp' | 'flv', Buffer>> = {};
    const now = Date.now();
    for (const [viewer, state] of this.viewers) {
      const kind = viewer.kind;
      if (state.lagSince > 0) {
        // Resume only on a keyframe and once the socket has drained; headers first (they may have changed).
        if (!startsWithKeyframe || viewer.backlog > this.opts.maxBacklogBytes / 2) {
          this.countDrop(state, batch.length);
          if (now - state.lagSince > this.opts.maxLagMs) this.kick(viewer);
          continue;
        }
        state.lagSince = 0;
        viewer.write(Buffer.concat([...this.headers(kind), (joined[kind] ??= concat(batch, kind))]));
        continue;
      }
      if (viewer.backlog > this.opts.maxBacklogBytes) {
        state.lagSince = now;
        this.countDrop(state, batch.length);
        continue;
      }
      viewer.write((joined[kind] ??= concat(batch, kind)));
    }
  }

  private headers(kind: 'rtmp' | 'flv'): Buffer[] {
    return [this.metadata, this.audioHeader, this.videoHeader].filter((e): e is Encoded => e !== undefined).map((e) => e[kind]);
  }

  private countDrop(state: ViewerState, messages: number): void {
    state.drops += messages;
    this.drops += messages;
    this.onDrop?.(messages);
  }

  private kick(viewer: FanoutViewer): void {
    this.viewers.delete(viewer);
    this.kicked++;
    viewer.kick(`behind for more than ${this.opts.maxLagMs} ms`);
  }

  private encode(msg: RtmpMessage): Encoded {
    return { msg, rtmp: this.writer.write({ ...msg, streamId: MEDIA_STREAM_ID }), flv: flvTag(msg) };
  }
}

/**
 * Hubs with a video frame pending, flushed together by one timer FRAME_COALESCE_MS after the first
 * of them: what arrives from the upstreams meanwhile (the rest of a burst: origins and networks
 * often deliver a few frames back to back) shares the write. Under load the timer fires late, so
 * the writes coalesce further by themselves.
 */
const dueSoon = new Set<StreamHub>();
let soonTimer: NodeJS.Timeout | undefined;

function flushSoon(hub: StreamHub): void {
  dueSoon.add(hub);
  soonTimer ??= setTimeout(flushDue, FRAME_COALESCE_MS);
}

function flushDue(): void {
  soonTimer = undefined;
  const hubs = [...dueSoon];
  dueSoon.clear();
  for (const hub of hubs) hub.flush();
}

function concat(batch: readonly Encoded[], kind: 'rtmp' | 'flv'): Buffer {
  return batch.length === 1 ? batch[0][kind] : Buffer.concat(batch.map((e) => e[kind]));
}
