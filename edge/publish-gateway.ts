import type { Logger } from '../common/logger';
import { redactUrl } from '../common/logger';
import type { AmfObject } from '../protocol/amf0';
import { isMetadata } from '../protocol/flv';
import { MediaType } from '../protocol/media';
import { classifyMessage } from '../protocol/media-tag';
import { RtmpClient } from '../protocol/rtmp/client';
import { CAPS_EX_RECONNECT } from '../protocol/rtmp/constants';
import type { RtmpMessage } from '../protocol/rtmp/message';
import type { RtmpServerSession, StreamRequest } from '../protocol/rtmp/server-session';
import { StatusCode } from '../protocol/rtmp/status';
import { DEFAULT_GOP_CACHE_MAX_BYTES, GopCache } from './fanout/gop-cache';


export interface GatewayDeps {
  /**
   * Where to push app/name now: an `rtmp://host:port/app` base (placement, or a fallback).
   * `avoid` lists bases that just failed: placement still names a crashed owner until its
   * registration expires, so the caller picks another origin instead.
   */
  place: (app: string, name: string, avoid?: readonly string[]) => Promise<string>;
  /**
   * Whether an origin's say-so may send the push (and the encoder's query, e.g. a publish
   * signature) to `url`: the edge's originHosts. A reconnect request elsewhere is ignored (placement
   * decides instead). Absent: anywhere.
   */
  allowsUrl?: (url: string) => boolean;
  /** How long the gateway keeps re-pushing after losing its origin before it gives up on the encoder. */
  repushGraceMs: number;
  log: Logger;
  /** Largest GOP cached for re-pushes, in payload bytes (default 8 MiB); a larger one is not cached. */
  gopCacheMaxBytes?: number;
  onMoved?: (from: string, to: string, reason: string) => void;
}

const RETRY_MS = [0, 200, 500, 1000, 2000];

/**
 * The edge publish gateway: an encoder publishes to the edge; we push to the
 * origin placement picks, with our own client, which announces capsEx
 * Reconnect. When the origin asks us to move (ReconnectRequest) we open the new
 * push first and switch at a keyframe; when the origin drops us (shed, crash) we
 * re-place and re-push, starting with metadata, sequence headers and the cached
 * GOP. The encoder's own connection never notices either.
 */
export class GatewayPublish {
  private current?: RtmpClient;
  private currentBase = '';
  /** A push opened for a move, waiting for the next keyframe to take over. */
  private next?: { client: RtmpClient; base: string };
  private metadata?: RtmpMessage;
  private videoHeader?: RtmpMessage;
  private audioHeader?: RtmpMessage;
  private readonly gop: GopCache<RtmpMessage>;
  private repushing = false;
  private closed = false;
  moves = 0;
  private readonly log: Logger;

  constructor(private readonly session: RtmpServerSession, private readonly req: StreamRequest, private readonly deps: GatewayDeps) {
    this.log = deps.log.child({ stream: `${req.app}/${req.name}`, session: session.id, gateway: true });
    this.gop = new GopCache<RtmpMessage>((m) => m.payload.length, deps.gopCacheMaxBytes ?? DEFAULT_GOP_CACHE_MAX_BYTES);
  }

  /** Opens the first push; accepts the encoder's publish only once an origin took it. */
  async start(): Promise<void> {
    try {
      const base = await this.deps.place(this.req.app, this.req.name);
      const client = await this.openPush(base);
      this.use(client, base);
    } catch (err) {
      this.log.warn({ err: redactUrl(String(err)) }, 'gateway publish refused: no origin took the stream');
      return this.session.reject('NetStream.Publish.Rejected', `no origin accepted ${this.req.app}/${this.req.name}`);
    }
    this.session.acceptPublish();
    this.session.on('media', (msg) => this.onMedia(msg));
    this.session.once('unpublish', () => this.close('encoder unpublished'));
    this.session.once('close', () => this.close('encoder left'));
    this.log.info({ origin: redactUrl(this.currentBase) }, 'gateway publishing');
  }

  get origin(): string {
    return this.currentBase;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.info({ reason }, 'gateway publish ended');
    this.current?.close();
    this.next?.client.close();
    if (!this.session.isClosed) this.session.close(reason);
  }

  private async openPush(base: string): Promise<RtmpClient> {
    const client = await RtmpClient.connect(`${base}/${this.req.name}`, { capsEx: CAPS_EX_RECONNECT, timeoutMs: 5000 });
    try {
      await client.publish(`${this.req.name}${this.req.query}`);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  private use(client: RtmpClient, base: string): void {
    this.current = client;
    this.currentBase = base;
    client.on('status', (info) => this.onUpstreamStatus(client, info));
    client.on('close', () => {
      if (client === this.current) void this.repush('origin closed the push');
    });
  }

  private onMedia(msg: RtmpMessage): void {
    // Any codec, legacy FLV or Enhanced RTMP (HEVC, AV1, VP9, Opus...): protocol/media-tag.ts.
    const tag = classifyMessage(msg);
    const key = tag.track === 'video' && tag.role === 'keyframe';
    const header = tag.role === 'sequence-header';
    if (msg.type === MediaType.Data && isMetadata(msg)) this.metadata = msg;
    else if (header && tag.track === 'video') this.videoHeader = msg;
    else if (header && tag.track === 'audio') this.audioHeader = msg;
    const cached = this.gop.push(msg, key);
    if (cached === 'overflow' && this.gop.overflows === 1) {
      this.log.warn({ maxBytes: this.deps.gopCacheMaxBytes ?? DEFAULT_GOP_CACHE_MAX_BYTES }, 'GOP larger than gopCacheMaxBytes: not cached (a re-push starts at the next keyframe); logged once per publish');
    }
    if (key && this.next) this.switchToNext();
    if (this.repushing || !this.current) return; // the GOP cache carries it to the next origin
    this.current.sendMedia(msg);
  }

  /** Metadata, sequence headers, then the cached GOP: what a new origin needs to start mid-stream. */
  private primer(includeGop: boolean): RtmpMessage[] {
    const head = [this.metadata, this.audioHeader, this.videoHeader].filter((m): m is RtmpMessage => m !== undefined);
    return includeGop ? [...head, ...this.gop.items] : head;
  }

  private switchToNext(): void {
    const next = this.next;
    if (!next) return;
    this.next = undefined;
    if (!next.client.connected) {
      // The new origin dropped the prepared push: stay where we are (a later drop re-pushes).
      this.log.info({ to: redactUrl(next.base) }, 'the push prepared for a move closed before the keyframe; staying on the current origin');
      return;
    }
    const old = this.current;
    const from = this.currentBase;
    for (const m of this.primer(false)) next.client.sendMedia(m);
    this.use(next.client, next.base);
    old?.close();
    this.moves++;
    this.log.info({ from: redactUrl(from), to: redactUrl(next.base) }, 'gateway moved the publish at a keyframe');
    this.deps.onMoved?.(from, next.base, 'reconnect request');
  }

  /** The origin asks us to move (E-RTMP v2): open the new push now, switch at the next keyframe. */
  private onUpstreamStatus(client: RtmpClient, info: AmfObject): void {
    if (client !== this.current || info.code !== StatusCode.ReconnectRequest || this.next || this.closed) return;
    let tcUrl = typeof info.tcUrl === 'string' && info.tcUrl.startsWith('rtmp://') ? info.tcUrl.replace(/\/+$/, '') : '';
    if (tcUrl && this.deps.allowsUrl && !this.deps.allowsUrl(tcUrl)) {
      this.log.warn({ to: redactUrl(tcUrl) }, 'reconnect request: redirect to a host outside originHosts refused; placement decides instead');
      tcUrl = '';
    }
    this.log.info({ to: tcUrl ? redactUrl(tcUrl) : '(placement)' }, 'origin sent a reconnect request');
    void (async () => {
      try {
        const base = tcUrl || (await this.deps.place(this.req.app, this.req.name));
        const pushed = await this.openPush(base);
        if (this.closed || client !== this.current) return pushed.close();
        this.next = { client: pushed, base };
      } catch (err) {
        // The new origin may refuse until the old lease is released: fall back to a plain re-push.
        this.log.info({ err: redactUrl(String(err)) }, 'move by reconnect request failed; re-pushing after the old origin lets go');
        if (client === this.current) {
          this.current = undefined;
          client.close();
          void this.repush('reconnect request');
        }
      }
    })();
  }

  /** Lost the origin: place again and push again, primed with the cached GOP, until the grace runs out. */
  private async repush(reason: string): Promise<void> {
    if (this.closed || this.repushing) return;
    const from = this.currentBase;
    this.current = undefined;
    // The origin let go before the keyframe a prepared move waits for: that push carries on now
    // (placing again would leave it open, unfed, holding the stream at the new origin).
    const next = this.next;
    this.next = undefined;
    if (next?.client.connected) {
      for (const m of this.primer(true)) next.client.sendMedia(m);
      this.use(next.client, next.base);
      this.moves++;
      this.log.info({ from: redactUrl(from), to: redactUrl(next.base), reason }, 'gateway moved the publish to the prepared origin');
      this.deps.onMoved?.(from, next.base, reason);
      return;
    }
    next?.client.close();
    this.repushing = true;
    this.log.warn({ from: redactUrl(from), reason }, 'gateway lost its origin; re-pushing');
    const giveUpAt = Date.now() + this.deps.repushGraceMs;
    const failed = [from];
    for (let attempt = 0; !this.closed && Date.now() < giveUpAt; attempt++) {
      await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
      let base = '';
      try {
        base = await this.deps.place(this.req.app, this.req.name, failed);
        const client = await this.openPush(base);
        if (this.closed) return client.close();
        for (const m of this.primer(true)) client.sendMedia(m);
        this.use(client, base);
        this.repushing = false;
        this.moves++;
        this.log.info({ from: redactUrl(from), to: redactUrl(base), attempt }, 'gateway re-pushed to a new origin');
        this.deps.onMoved?.(from, base, reason);
        return;
      } catch (err) {
        if (base && !failed.includes(base)) failed.push(base);
        if (failed.length > 4) failed.splice(1, failed.length - 2); // keep the lost origin and the latest failure
        this.log.info({ err: redactUrl(String(err)), attempt }, 're-push attempt failed');
      }
    }
    this.repushing = false;
    if (!this.closed) this.close('no origin took the stream back in time');
  }
}
