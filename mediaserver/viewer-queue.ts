/**
 * A bounded send queue for one viewer of node-media-server (NMS), in front of its `sendBuffer`.
 *
 * NMS writes every media message to every subscriber's socket and never looks back: a viewer that
 * reads slower than the stream grows the process's memory without bound (DESIGN.md section 8).
 * The queue watches the socket's `writableLength`. Above `maxQueueBytes` it drops whole GOPs:
 * audio and video frames are skipped until a video keyframe arrives while the backlog is back
 * under half the bound — never a partial frame, since each buffer NMS passes is one complete
 * message (RTMP chunks from `Rtmp.createMessage`, FLV tags from `Flv.createMessage`), classified
 * by peeking its header. Sequence headers and metadata always go through (the decoder needs them).
 * A viewer that stays behind for longer than `maxLagMs`, or whose backlog passes the hard cap
 * (4 × the bound), is disconnected.
 */

import { MediaType } from '../protocol/media';
import { classifyTag, type MediaRole } from '../protocol/media-tag';

export type MessageClass = 'header' | 'meta' | 'key' | 'frame' | 'other';

const CLASS_OF_ROLE: Record<MediaRole, MessageClass> = {
  'sequence-header': 'header',
  config: 'header',
  'sequence-end': 'header',
  keyframe: 'key',
  frame: 'frame',
  // Malformed or reserved media: droppable like any frame.
  unknown: 'frame',
  command: 'other',
  script: 'meta',
};

/**
 * Classifies the FLV tag body at `offset` of `payload` (an RTMP message / FLV tag of type 8 audio,
 * 9 video, 18 data) with the one classifier, `protocol/media-tag.ts` (legacy and Enhanced RTMP).
 */
export function classifyMedia(type: number, payload: Buffer, offset: number): MessageClass {
  if (type === MediaType.Data) return 'meta';
  if (type !== MediaType.Audio && type !== MediaType.Video) return 'other';
  if (offset >= payload.length) return 'other';
  return CLASS_OF_ROLE[classifyTag(type, payload, offset).role];
}

/** A buffer NMS sends an RTMP viewer: one message written by `Rtmp.createMessage` (fmt 0 first chunk). */
export function classifyRtmpBuffer(buf: Buffer): MessageClass {
  if (buf.length < 1 || buf[0] >> 6 !== 0) return 'other';
  const low = buf[0] & 0x3f;
  const basic = low === 0 ? 2 : low === 1 ? 3 : 1;
  if (buf.length < basic + 11) return 'other';
  const extended = buf.readUIntBE(basic, 3) === 0xffffff;
  const type = buf[basic + 6];
  return classifyMedia(type, buf, basic + 11 + (extended ? 4 : 0));
}

/** A buffer NMS sends an HTTP-FLV viewer: the FLV header, or one tag written by `Flv.createMessage`. */
export function classifyFlvBuffer(buf: Buffer): MessageClass {
  if (buf.length < 11) return 'other';
  const type = buf[0] & 0x1f;
  if (buf[0] !== type) return 'other'; // 'F' of the FLV header, or filter / reserved bits
  return classifyMedia(type, buf, 11);
}

export interface ViewerSink {
  /** Bytes written and not yet handed to the kernel. */
  writableLength(): number;
  write(buf: Buffer): void;
  /** Ends the viewer now (lagging). */
  destroy(reason: string): void;
}

export interface ViewerQueueOptions {
  /** Backlog above which whole GOPs are dropped (bytes). */
  maxQueueBytes: number;
  /** A viewer continuously behind (dropping) for longer than this is disconnected (ms). */
  maxLagMs: number;
  now?: () => number;
}

export interface ViewerQueueStats {
  gopsDropped: number;
  framesDropped: number;
  bytesDropped: number;
  disconnected: boolean;
}

export class ViewerQueue {
  readonly stats: ViewerQueueStats = { gopsDropped: 0, framesDropped: 0, bytesDropped: 0, disconnected: false };
  private dropping = false;
  private behindSince = 0;
  private readonly now: () => number;

  constructor(
    private readonly classify: (buf: Buffer) => MessageClass,
    private readonly sink: ViewerSink,
    private readonly opts: ViewerQueueOptions,
    /** Called once when the viewer starts dropping and when it is disconnected. */
    private readonly onChange?: (event: 'dropping' | 'resumed' | 'disconnected', stats: ViewerQueueStats) => void,
  ) {
    this.now = opts.now ?? Date.now;
  }

  get isDropping(): boolean {
    return this.dropping;
  }

  offer(buf: Buffer): void {
    if (this.stats.disconnected) return;
    const backlog = this.sink.writableLength();
    const cls = this.classify(buf);
    if (backlog > this.opts.maxQueueBytes * 4) return this.disconnect(`backlog of ${backlog} bytes`);
    if (!this.dropping && backlog > this.opts.maxQueueBytes && (cls === 'key' || cls === 'frame')) {
      this.dropping = true;
      this.behindSince = this.now();
      this.stats.gopsDropped++;
      this.onChange?.('dropping', this.stats);
    }
    if (this.dropping) {
      if (this.now() - this.behindSince > this.opts.maxLagMs) return this.disconnect(`behind for more than ${this.opts.maxLagMs} ms`);
      if (cls === 'key' && backlog <= this.opts.maxQueueBytes / 2) {
        this.dropping = false;
        this.onChange?.('resumed', this.stats);
      } else if (cls === 'key' || cls === 'frame') {
        this.stats.framesDropped++;
        this.stats.bytesDropped += buf.length;
        // A keyframe we cannot take starts another dropped GOP.
        if (cls === 'key') this.stats.gopsDropped++;
        return;
      }
    }
    this.sink.write(buf);
  }

  private disconnect(reason: string): void {
    this.stats.disconnected = true;
    this.onChange?.('disconnected', this.stats);
    this.sink.destroy(reason);
  }
}
