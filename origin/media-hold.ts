/**
 * Holding media while an asynchronous check (an `on_publish` / `on_play` webhook) decides.
 *
 * node-media-server answers `Publish.Start` / `Play.Start` before any check of ours runs, so a
 * publisher's media would reach viewers, and a viewer would receive the cached GOP, before the
 * hook has answered. These holds close that gap: a held publisher's packets are buffered (not
 * broadcast) until `release()`, a held viewer's outgoing bytes are buffered until `release()`;
 * `drop()` discards everything. Both are bounded: past `maxBytes` the hold calls `onOverflow`.
 *
 * (A candidate for mediaserver/nms-host.ts: `NmsHost.holdPublisher(session)` / `holdViewer(session)`.)
 */
import type AVPacket from 'node-media-server/src/core/avpacket.js';
import type { BaseSession, RtmpSession } from '../mediaserver/nms-host';

export interface HoldOptions {
  /** Largest amount of media buffered; beyond it `onOverflow` runs once and the rest is dropped. */
  maxBytes?: number;
  onOverflow?: () => void;
}

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

export class PublisherHold {
  private readonly original: (packet: AVPacket) => void;
  private buffered: AVPacket[] = [];
  private bytes = 0;
  private settled = false;

  constructor(private readonly session: RtmpSession, private readonly opts: HoldOptions = {}) {
    this.original = session.rtmp.onPacketCallback;
    session.rtmp.onPacketCallback = (p) => this.buffer(p);
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Media flows again: `beforeReplay` runs first (e.g. to tap the publisher for HLS), then the held
   * packets go through the session's packet callback in order, so NMS caches the sequence headers.
   */
  release(beforeReplay?: () => void): void {
    if (this.settled) return;
    this.settled = true;
    this.session.rtmp.onPacketCallback = this.original;
    beforeReplay?.();
    const packets = this.buffered;
    this.buffered = [];
    for (const p of packets) this.session.rtmp.onPacketCallback(p);
  }

  /** Discards held media; anything the publisher still sends is ignored. */
  drop(): void {
    this.settled = true;
    this.buffered = [];
    this.session.rtmp.onPacketCallback = () => undefined;
  }

  private buffer(p: AVPacket): void {
    if (this.settled) return;
    this.bytes += p.size;
    if (this.bytes > (this.opts.maxBytes ?? DEFAULT_MAX_BYTES)) {
      this.drop();
      this.opts.onOverflow?.();
      return;
    }
    // NMS reuses its chunk payload buffer per chunk stream: keep a copy.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(p) as object) as AVPacket, p);
    copy.data = Buffer.from(p.data.subarray(0, p.size));
    this.buffered.push(copy);
  }
}

export class ViewerHold {
  private readonly original: (buffer: Buffer) => void;
  private buffered: Buffer[] = [];
  private bytes = 0;
  private settled = false;

  constructor(private readonly session: BaseSession, private readonly opts: HoldOptions = {}) {
    this.original = session.sendBuffer;
    session.sendBuffer = (b) => this.buffer(b);
  }

  /** Sends what was held, then lets media flow. */
  release(): void {
    if (this.settled) return;
    this.settled = true;
    this.session.sendBuffer = this.original;
    const held = this.buffered;
    this.buffered = [];
    for (const b of held) this.session.sendBuffer(b);
  }

  /** Discards held media; nothing more is sent to this viewer (it is about to be closed). */
  drop(): void {
    this.settled = true;
    this.buffered = [];
    this.session.sendBuffer = () => undefined;
  }

  private buffer(b: Buffer): void {
    if (this.settled) return;
    this.bytes += b.length;
    if (this.bytes > (this.opts.maxBytes ?? DEFAULT_MAX_BYTES)) {
      this.drop();
      this.opts.onOverflow?.();
      return;
    }
    this.buffered.push(b);
  }
}
