/**
 * Publish admission: which RTMP publishers this origin takes. In order: the signed publish URL
 * (publishSecret), one publisher per name, the load (refused above high-water and while draining,
 * naming the origin placement would pick instead), the `on_publish` webhook (media held while it
 * decides), then the lease claim in discovery. It keeps the admitted publishers; the load shedder,
 * the API feeds and shutdown read them from here.
 */
import type { Logger } from '../common/logger';
import { redactUrl } from '../common/logger';
import { verifySignedQuery } from '../common/signed-url';
import type { RejectionReason } from '../mediaserver/metrics';
import type { PlacementRequest, PlacementResult } from '../discovery/types';
import type { ClaimOutcome } from './lease-keeper';
import { hookClientOf, type HookPort } from './hooks';
import type { MediaMessage } from '../protocol/media';
import type { OriginMedia, OriginSession } from './media-port';
import type { HookClient } from './webhooks';

/** A publisher that passed every check (signature, on_publish); its lease may still be pending. */
export interface Publisher {
  app: string;
  name: string;
  session: OriginSession;
  since: number;
  frames: number;
  client: HookClient;
}

export interface MediaFeed {
  /** false: the feed drops messages now (a dormant on-demand HLS feed); absent: true. */
  readonly wanted?: boolean;
  push(msg: MediaMessage): void;
}

/** Where an admitted stream's media also goes (the HLS hub fits). */
export interface FeedSink {
  open(app: string, name: string): MediaFeed;
  close(app: string, name: string, feed?: MediaFeed): void;
}

export interface PublishAdmissionOptions {
  originId: string;
  /** This origin's public RTMP base (`rtmp://host:port`), for hook clients. */
  rtmpUrl: string;
  /** Signed publish URLs: '' = off. */
  publishSecret: string;
  signedUrlMaxTtlS: number;
  media: OriginMedia;
  hooks: HookPort;
  leases: {
    claim(app: string, name: string, holder: OriginSession): Promise<ClaimOutcome>;
    release(app: string, name: string, holder: object): void;
  };
  load: { admits(): boolean; readonly draining: boolean; readonly utilisation: number };
  /** Where placement would put the stream (the refusal names it). */
  place: (req: PlacementRequest) => Promise<PlacementResult>;
  feeds: FeedSink;
  /** Count a refusal (metrics). */
  reject: (reason: RejectionReason) => void;
  log: Logger;
  now?: () => number;
}

export class PublishAdmission {
  /** Admitted publishers by session id. */
  private readonly publishers = new Map<string, Publisher>();
  private readonly feeds = new Map<string, MediaFeed>();
  /** Sessions that ended (a pending hook answer for them is ignored). */
  private readonly gone = new WeakSet<object>();
  private readonly now: () => number;

  constructor(private readonly opts: PublishAdmissionOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.publishers.size;
  }

  list(): Publisher[] {
    return [...this.publishers.values()];
  }

  has(sessionId: string): boolean {
    return this.publishers.has(sessionId);
  }

  find(app: string, name: string): Publisher | undefined {
    return this.list().find((p) => p.app === app && p.name === name);
  }

  /** prePublish: NMS sent Publish.Start already; every check runs now. */
  onPublish(session: OriginSession): void {
    const { media, hooks } = this.opts;
    const { streamApp: app, streamName: name } = session;
    const log = this.opts.log.child({ stream: `${app}/${name}`, session: session.id });
    const client = hookClientOf(session, this.opts.rtmpUrl);
    const url = redactUrl(`${client.tcUrl}/${name}${client.param}`);
    // The signature first: an unauthenticated client learns nothing else.
    if (this.opts.publishSecret) {
      const verdict = verifySignedQuery(this.opts.publishSecret, app, name, session.streamQuery, this.now(), { maxTtlS: this.opts.signedUrlMaxTtlS });
      if (!verdict.ok) {
        // NMS makes this session the publisher once we return: let its end free the name at once.
        if (media.publisherSlot(session) === 'none') media.endWithoutGrace(session);
        this.refuse(session, log, 'unauthorized', 'NetStream.Publish.Unauthorized', `publish not authorized: ${verdict.message}`);
        log.warn({ reason: verdict.reason, url, ip: client.ip }, 'publish refused: not authorized');
        return;
      }
    }
    // A second publisher of a live name must not touch the stream.
    if (media.publisherSlot(session) === 'other') {
      this.refuse(session, log, 'duplicate', 'NetStream.Publish.BadName', `${app}/${name} is already being published`);
      log.warn('duplicate publisher refused');
      return;
    }
    media.endWithoutGrace(session);
    if (!this.opts.load.admits()) {
      media.dropIncomingMedia(session);
      void this.refuseOverloaded(session, log);
      return;
    }
    if (!hooks.enabled('on_publish')) return this.admit(session, client, log, url);
    const hold = media.holdPublisher(session, () => {
      log.warn('publisher sent too much media while on_publish was deciding; closed');
      session.close();
    });
    void hooks.authorize('on_publish', client).then((verdict) => {
      if (this.gone.has(session) || session.socket.destroyed || media.publisherSlot(session) !== 'self') return hold.drop();
      if (!verdict.allowed) {
        hold.drop();
        if (verdict.outcome === 'denied') {
          this.refuse(session, log, 'hook_denied', 'NetStream.Publish.Unauthorized', 'publish denied by the on_publish hook');
          log.warn({ url, ip: client.ip, answer: verdict.detail }, 'publish refused: denied by on_publish');
        } else {
          this.refuse(session, log, 'hook_unavailable', 'NetStream.Publish.Rejected', 'publish authorization unavailable, try again');
          log.warn({ url, ip: client.ip, err: verdict.detail }, 'publish refused: on_publish unavailable (fail-closed)');
        }
        return;
      }
      if (verdict.outcome === 'fail_open') log.warn({ err: verdict.detail }, 'on_publish unavailable; publish allowed (webhookFailOpen)');
      hold.release(() => this.admit(session, client, log, url));
    });
  }

  /** donePublish: the publisher left (admitted or not). */
  onUnpublish(session: Pick<OriginSession, 'id' | 'streamApp' | 'streamName'>): void {
    this.gone.add(session);
    const pub = this.publishers.get(session.id);
    if (pub) {
      this.publishers.delete(session.id);
      this.opts.hooks.notify('on_unpublish', pub.client);
    }
    const feed = this.feeds.get(session.id);
    if (feed) {
      this.feeds.delete(session.id);
      this.opts.feeds.close(session.streamApp, session.streamName, feed);
    }
    this.opts.leases.release(session.streamApp, session.streamName, session);
  }

  /** A live other origin holds a stream we serve (found on reconciliation): move our publisher off. */
  onFenced(app: string, name: string, session: OriginSession, owner: string): void {
    if (session.socket.destroyed) return;
    this.opts.media.sendStatus(session, 'error', 'NetStream.Publish.BadName', `${app}/${name} is live on ${owner}; this publisher was disconnected`);
    this.opts.log.warn({ stream: `${app}/${name}`, session: session.id, owner }, 'publisher disconnected: the stream is live on another origin (lease fenced)');
    session.close();
  }

  /** Refuse and close every publisher with `description` (this process was replaced). */
  disconnectAll(description: string): void {
    for (const p of this.list()) {
      this.opts.media.sendStatus(p.session, 'error', 'NetStream.Publish.Rejected', description);
      p.session.close();
    }
  }

  /** Shutdown: every admitted publisher's on_unpublish goes out now; later session events find nothing. */
  forgetAll(): void {
    for (const p of this.publishers.values()) this.opts.hooks.notify('on_unpublish', p.client);
    this.publishers.clear();
  }

  private refuse(session: OriginSession, log: Logger, reason: RejectionReason, code: string, description: string): void {
    this.opts.media.dropIncomingMedia(session);
    this.opts.media.sendStatus(session, 'error', code, description);
    this.opts.reject(reason);
    log.debug({ reason, code }, 'closing refused publisher');
    session.close();
  }

  /** Above high-water (or draining): refuse, naming the origin placement would pick instead. */
  private async refuseOverloaded(session: OriginSession, log: Logger): Promise<void> {
    const { streamApp: app, streamName: name } = session;
    const { originId, load } = this.opts;
    const alt = await this.opts.place({ app, stream: name }).catch((err: unknown) => {
      log.debug({ err: String(err) }, 'placement unavailable for the refusal text');
      return null;
    });
    const better = alt && alt.origin.id !== originId ? ` publish to ${alt.origin.id} instead: ${alt.publishUrl}` : ' no origin has room now; retry later';
    const why = load.draining ? `${originId} is draining;` : `${originId} is above high-water (${Math.round(load.utilisation * 100)} %);`;
    this.refuse(session, log, load.draining ? 'draining' : 'overloaded', 'NetStream.Publish.Rejected', `${why}${better}`);
    log.warn({ utilisation: load.utilisation, better: alt?.origin.id }, 'publish refused: overloaded');
  }

  /** The publisher passed every check: feeds (HLS), frame counting and the lease claim. */
  private admit(session: OriginSession, client: HookClient, log: Logger, url: string): void {
    const { streamApp: app, streamName: name } = session;
    const pub: Publisher = { app, name, session, since: this.now(), frames: 0, client };
    this.publishers.set(session.id, pub);
    log.info({ url, ip: client.ip }, 'publish accepted');
    const feed = this.opts.feeds.open(app, name);
    this.feeds.set(session.id, feed);
    this.opts.media.tapPublisher(session, {
      frame: () => void pub.frames++,
      wanted: () => feed.wanted !== false,
      push: (msg) => feed.push(msg),
    });
    void this.opts.leases.claim(app, name, session).then((outcome) => {
      switch (outcome.kind) {
        case 'held':
          log.info({ token: outcome.token }, 'stream claimed');
          return;
        case 'owned-elsewhere':
          this.refuse(session, log, 'owned_elsewhere', 'NetStream.Publish.BadName', `${app}/${name} is already live on ${outcome.owner}`);
          log.warn({ owner: outcome.owner }, 'publish refused: stream owned by another origin');
          return;
        case 'unavailable':
          // Decided (docs/discovery.md): no provisional publishes while discovery is down, so two origins
          // never serve one name; streams already live keep playing and the encoder retries.
          this.refuse(session, log, 'discovery_unavailable', 'NetStream.Publish.Rejected', 'discovery unavailable, try again');
          log.error({ err: String(outcome.error) }, 'publish refused: cannot claim the stream');
          return;
        case 'gone':
          return;
      }
    });
  }
}
