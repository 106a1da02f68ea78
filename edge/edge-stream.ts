import type { Logger } from '../common/logger';
import { redactUrl } from '../common/logger';
import type { NmsHost, InjectedStream } from '../mediaserver/nms-host';
import type { HlsHub, HlsFeed } from '../mediaserver/hls-hub';
import type { RtmpClient } from '../protocol/rtmp/client';
import type { RtmpMessage } from '../protocol/rtmp/message';
import { playWithRedirects } from '../protocol/redirect';

export type EdgeStreamState = 'idle' | 'connecting' | 'live' | 'closed';

export interface EdgeStreamDeps {
  nms: NmsHost;
  hls: HlsHub;
  /** Origin base URLs in the order to try, rotated round-robin by the caller. */
  nextOrigins: () => string[];
  maxRedirects: number;
  pullTimeoutMs: number;
  closeAfterMs: number;
  log: Logger;
  onClosed: (stream: EdgeStream) => void;
}

export interface EdgeStreamView {
  app: string;
  name: string;
  state: EdgeStreamState;
  viewers: number;
  upstream: string | null;
  hops: number;
  since: number;
  bytesIn: number;
}

/**
 * One stream at an edge: a single upstream RTMP pull shared by every viewer
 * (fed into node-media-server's broadcast), closed a while after the last
 * viewer leaves. States: idle → connecting → live → closed.
 */
export class EdgeStream {
  state: EdgeStreamState = 'idle';
  viewers = 0;
  upstream: string | null = null;
  hops = 0;
  readonly since = Date.now();
  /** Resolves when the first media is flowing; rejects when no origin has the stream. */
  readonly ready: Promise<void>;
  private client?: RtmpClient;
  private injected?: InjectedStream;
  private feed?: HlsFeed;
  private closeTimer?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(readonly app: string, readonly name: string, private readonly query: string, private readonly deps: EdgeStreamDeps) {
    this.log = deps.log.child({ stream: `${app}/${name}` });
    this.ready = this.pull();
    this.ready.catch(() => undefined); // observed by callers; never an unhandled rejection
  }

  addViewer(): void {
    this.viewers++;
    clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
  }

  removeViewer(): void {
    this.viewers = Math.max(0, this.viewers - 1);
    if (this.viewers === 0) this.scheduleClose();
  }

  view(): EdgeStreamView {
    return {
      app: this.app,
      name: this.name,
      state: this.state,
      viewers: this.viewers,
      upstream: this.upstream ? redactUrl(this.upstream) : null,
      hops: this.hops,
      since: this.since,
      bytesIn: this.client?.bytesIn ?? 0,
    };
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.closeTimer);
    this.log.info({ reason }, 'edge stream closed');
    this.client?.close();
    if (this.injected) {
      this.injected.closeViewers();
      this.injected.end();
    }
    if (this.feed) this.deps.hls.close(this.app, this.name, this.feed);
    this.deps.onClosed(this);
  }

  /** A method, not an inline comparison: the state changes while pull() awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private scheduleClose(): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => {
      // HLS players hold no connection: a recent playlist or segment request counts as a viewer.
      if (this.feed && Date.now() - this.feed.lastRequestAt < this.deps.closeAfterMs) return this.scheduleClose();
      this.close('no viewers');
    }, this.deps.closeAfterMs);
  }

  private async pull(): Promise<void> {
    this.state = 'connecting';
    const path = `/${this.app}/${this.name}${this.query}`;
    const deadline = Date.now() + this.deps.pullTimeoutMs;
    let lastError: unknown = new Error('no origin configured');
    for (const base of this.deps.nextOrigins()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.isClosed()) break;
      try {
        const result = await playWithRedirects(base + path, { maxHops: this.deps.maxRedirects, timeoutMs: remaining });
        if (this.isClosed()) {
          result.client.close();
          break;
        }
        this.attach(result.client, result.url, result.hops, result.firstMessages);
        return;
      } catch (err) {
        lastError = err;
        this.log.info({ origin: redactUrl(base), err: String(err) }, 'pull attempt failed');
      }
    }
    this.close('no origin has the stream');
    throw lastError;
  }

  private attach(client: RtmpClient, url: string, hops: number, first: readonly RtmpMessage[]): void {
    this.client = client;
    this.upstream = url;
    this.hops = hops;
    this.injected = this.deps.nms.inject(this.app, this.name);
    this.state = 'live';
    this.log.info({ upstream: redactUrl(url), hops }, 'upstream live');
    const injected = this.injected;
    const feed = (this.feed = this.deps.hls.open(this.app, this.name));
    const forward = (msg: RtmpMessage): void => {
      injected.push(msg);
      feed.push(msg);
    };
    for (const msg of first) forward(msg);
    client.on('media', forward);
    client.on('close', () => this.close('upstream ended'));
    if (this.viewers === 0) this.scheduleClose();
  }
}
