import type { Logger } from '../common/logger';
import { redactUrl } from '../common/logger';
import type { HlsHub, HlsFeed } from '../mediaserver/hls-hub';
import { RtmpClient, type RtmpConnectOptions } from '../protocol/rtmp/client';
import type { RtmpMessage } from '../protocol/rtmp/message';
import { playWithRedirects, RedirectRefusedError } from '../protocol/redirect';
import { Timeline } from './timeline';
import { StreamHub, type FanoutOptions } from './fanout/hub';

export type EdgeStreamState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface EdgeStreamDeps {
  hls: HlsHub;
  fanout: FanoutOptions;
  /** Upstream base URLs (`rtmp://host:port`) in the order to try for this attempt. */
  upstreams: () => Promise<string[]>;
  maxRedirects: number;
  /**
   * The query every pull carries: `?cascade_auth=<this edge's credential>`, or '' without a cluster
   * secret. Never a viewer's query: viewers are checked here, and their URLs expire.
   */
  upstreamQuery: string;
  /** Hosts an RTMP 302 may lead to (originHosts + the hosts of `origins`); others are refused. */
  allowHost: (host: string) => boolean;
  pullTimeoutMs: number;
  closeAfterMs: number;
  /** After the upstream is lost, how long to keep trying before viewers get end-of-stream. */
  failoverGraceMs: number;
  log: Logger;
  onClosed: (stream: EdgeStream) => void;
  onEvent?: (event: 'reconnect' | 'redirects' | 'drops', n: number) => void;
}

export interface EdgeStreamView {
  app: string;
  name: string;
  state: EdgeStreamState;
  viewers: number;
  upstream: string | null;
  hops: number;
  reconnects: number;
  /** Upstream connections opened (each attempt, before redirects). */
  pulls: number;
  since: number;
  bytesIn: number;
  kbpsIn: number;
  /** Messages not delivered to lagging viewers (whole GOPs), and viewers disconnected for lag. */
  drops: number;
  kicked: number;
}

/** Retry delays after an upstream loss: the first retry is immediate, then bounded backoff. */
export const RETRY_DELAYS_MS = [0, 250, 500, 1000, 2000];

/**
 * One stream at an edge: a single upstream RTMP pull shared by every viewer
 * (fed into the fan-out hub and the HLS segmenter).
 *
 * idle → connecting → live ⇄ reconnecting → closed. When the upstream ends the
 * viewers stay connected while we re-pull (round-robin + 302 finds the new
 * owner); timestamps are rebased so each viewer's timeline stays monotonic and
 * the new upstream's sequence headers reach every viewer. Closed a while after
 * the last viewer leaves, or when the stream is gone for longer than the grace.
 */
export class EdgeStream {
  state: EdgeStreamState = 'idle';
  viewers = 0;
  upstream: string | null = null;
  hops = 0;
  reconnects = 0;
  pulls = 0;
  readonly since = Date.now();
  /** Resolves when the first media is flowing; rejects when no origin has the stream. */
  readonly ready: Promise<void>;
  readonly hub: StreamHub;
  private client?: RtmpClient;
  /** Connections of a pull attempt still waiting for media (closed by close(), so no attempt outlives the stream). */
  private readonly attempts = new Set<RtmpClient>();
  private live = false;
  private feed?: HlsFeed;
  private closeTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** While reconnecting: the next attempt, waiting for `retryTimer` (repull() runs it at once). */
  private nextAttempt?: () => void;
  private readonly timeline = new Timeline();
  private readonly log: Logger;
  private bytesBefore = 0;
  private rate = { at: Date.now(), bytes: 0, kbps: 0 };

  constructor(readonly app: string, readonly name: string, private readonly deps: EdgeStreamDeps) {
    this.log = deps.log.child({ stream: `${app}/${name}` });
    this.hub = new StreamHub(
      deps.fanout,
      (n) => deps.onEvent?.('drops', n),
      (overflows, maxBytes) => {
        if (overflows === 1) this.log.warn({ maxBytes }, 'GOP larger than gopCacheMaxBytes: not cached (late joiners wait for the next keyframe); logged once per stream');
      },
    );
    this.state = 'connecting';
    this.ready = this.connect(deps.pullTimeoutMs).then((ok) => {
      if (!ok) {
        this.close('no origin has the stream');
        throw new Error(`no origin has ${app}/${name}`);
      }
    });
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

  get bytesIn(): number {
    return this.bytesBefore + (this.client?.bytesIn ?? 0);
  }

  view(): EdgeStreamView {
    const now = Date.now();
    if (now - this.rate.at >= 1000) {
      this.rate = { at: now, bytes: this.bytesIn, kbps: Math.round(((this.bytesIn - this.rate.bytes) * 8) / (now - this.rate.at)) };
    }
    return {
      app: this.app,
      name: this.name,
      state: this.state,
      viewers: this.viewers,
      upstream: this.upstream ? redactUrl(this.upstream) : null,
      hops: this.hops,
      reconnects: this.reconnects,
      pulls: this.pulls,
      since: this.since,
      bytesIn: this.bytesIn,
      kbpsIn: this.rate.kbps,
      drops: this.hub.drops,
      kicked: this.hub.kicked,
    };
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.closeTimer);
    clearTimeout(this.retryTimer);
    this.log.info({ reason }, 'edge stream closed');
    this.client?.close();
    for (const c of [...this.attempts]) c.close();
    this.hub.end(reason);
    if (this.feed) this.deps.hls.close(this.app, this.name, this.feed);
    this.deps.onClosed(this);
  }

  /** A method, not an inline comparison: the state changes while we await. */
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

  /** Tries every upstream once (in the order given) within `budgetMs`; true when media flows. */
  private async connect(budgetMs: number): Promise<boolean> {
    const deadline = Date.now() + budgetMs;
    let bases: string[];
    try {
      bases = await this.deps.upstreams();
    } catch (err) {
      // Counts as a failed attempt: never a rejected `ready` on an open stream, nor an unhandled rejection on a re-pull.
      this.log.warn({ err: redactUrl(String(err)) }, 'no upstream list for this pull attempt');
      return false;
    }
    for (const base of bases) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.isClosed()) break;
      this.pulls++;
      try {
        const result = await playWithRedirects(`${base}/${this.app}/${this.name}${this.deps.upstreamQuery}`, {
          maxHops: this.deps.maxRedirects,
          timeoutMs: remaining,
          allowHost: this.deps.allowHost,
          connect: (url, opts) => this.connectAttempt(url, opts),
        });
        if (this.isClosed()) {
          result.client.close();
          return false;
        }
        this.attach(result.client, result.url, result.hops, result.firstMessages);
        return true;
      } catch (err) {
        if (err instanceof RedirectRefusedError) this.log.warn({ origin: redactUrl(base), to: err.host }, 'redirect to a host outside originHosts refused; trying the next origin');
        else this.log.info({ origin: redactUrl(base), err: redactUrl(String(err)) }, 'pull attempt failed');
      }
    }
    return false;
  }

  private async connectAttempt(url: string, opts?: RtmpConnectOptions): Promise<RtmpClient> {
    const client = await RtmpClient.connect(url, opts);
    if (this.isClosed()) {
      client.close();
      throw new Error(`${this.app}/${this.name} closed during the pull`);
    }
    this.attempts.add(client);
    client.once('close', () => this.attempts.delete(client));
    return client;
  }

  private attach(client: RtmpClient, url: string, hops: number, first: readonly RtmpMessage[]): void {
    this.attempts.delete(client);
    const switching = this.live;
    this.live = true;
    this.client = client;
    this.upstream = url;
    this.hops = hops;
    if (hops > 0) this.deps.onEvent?.('redirects', hops);
    if (switching) {
      this.timeline.switchUpstream();
      this.feed?.discontinuity();
    }
    this.state = 'live';
    this.log.info({ upstream: redactUrl(url), hops, reconnects: this.reconnects }, switching ? 'upstream switched' : 'upstream live');
    for (const msg of first) this.forward(msg);
    client.on('media', (msg) => this.forward(msg));
    client.on('close', () => this.onUpstreamLost(client));
    if (this.viewers === 0) this.scheduleClose();
  }

  private forward(msg: RtmpMessage): void {
    const out = { ...msg, timestamp: this.timeline.map(msg) };
    this.hub.push(out);
    this.feed?.push(out);
  }

  /**
   * HLS is segmented only for streams someone asks HLS of (segmenting costs CPU for
   * every stream otherwise). The segmenter starts from the cached headers and GOP.
   */
  enableHls(): void {
    if (this.feed || this.isClosed()) return;
    const feed = (this.feed = this.deps.hls.open(this.app, this.name));
    for (const msg of this.hub.snapshot()) feed.push(msg);
  }

  /** Reconnecting and waiting out a backoff before the next pull attempt. */
  get retryPending(): boolean {
    return this.nextAttempt !== undefined;
  }

  /**
   * Discovery says the owner changed (or our upstream's process restarted): drop the upstream now and
   * pull again, as if it had ended (viewers stay; timestamps rebased; the first retry is immediate).
   * Between re-pull attempts (the owner had gone, e.g. drained or shed): the next attempt now.
   */
  repull(reason: string): void {
    if (this.state === 'reconnecting' && this.nextAttempt) {
      // Between attempts (the stream had no owner a moment ago): the new owner is known now, do not wait out the backoff.
      const attempt = this.nextAttempt;
      this.nextAttempt = undefined;
      clearTimeout(this.retryTimer);
      this.log.info({ reason }, 'ownership known again: retrying the pull now');
      return attempt();
    }
    if (this.state !== 'live' || !this.client) return;
    this.log.info({ reason, upstream: this.upstream ? redactUrl(this.upstream) : null }, 'ownership changed: re-pulling now');
    this.client.close();
  }

  /** The upstream ended: keep viewers, re-pull with backoff until the grace period runs out. */
  private onUpstreamLost(client: RtmpClient): void {
    if (this.isClosed() || client !== this.client) return;
    this.bytesBefore += client.bytesIn;
    this.client = undefined;
    this.state = 'reconnecting';
    this.log.warn({ upstream: this.upstream ? redactUrl(this.upstream) : null }, 'upstream lost; re-pulling');
    const giveUpAt = Date.now() + this.deps.failoverGraceMs;
    const attempt = (n: number): void => {
      if (this.isClosed()) return;
      const left = giveUpAt - Date.now();
      if (left <= 0) return this.close('stream gone (failover grace expired)');
      this.reconnects++;
      this.deps.onEvent?.('reconnect', 1);
      void this.connect(Math.min(this.deps.pullTimeoutMs, left)).then((ok) => {
        if (ok || this.isClosed()) return;
        const next = (): void => {
          this.nextAttempt = undefined;
          attempt(n + 1);
        };
        this.nextAttempt = next;
        this.retryTimer = setTimeout(next, RETRY_DELAYS_MS[Math.min(n + 1, RETRY_DELAYS_MS.length - 1)]);
      });
    };
    attempt(0);
  }
}
