import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import { memberCredential } from '../common/cluster-credentials';
import { redactUrl } from '../common/logger';
import { HttpDiscoveryClient } from '../discovery/client';
import { NmsHost, BaseSession, isRtmpSession, sendJson, RtmpSession } from '../mediaserver/nms-host';
import { createMediaHttpApp } from '../mediaserver/http-app';
import { connectionLimitsOf } from '../mediaserver/limits-config';
import { HlsHub, HlsFeed } from '../mediaserver/hls-hub';
import { registerHlsRoutes, PlayDecision } from '../mediaserver/hls-routes';
import { clientAddress, registerNodeApi, streamId, type NodeApi, type NodeStreamSource } from '../mediaserver/node-api';
import { countViewers, registerOriginMetrics, type OriginMetrics, type RejectionReason } from '../mediaserver/metrics';
import type { OriginConfig } from './config';
import { capacityOf, DEFAULT_WEIGHTS, type StreamLoad } from './overload/weight';
import { OverloadController } from './overload/controller';
import { writeAuth } from '../mediaserver/node-api';
import { CascadeError, StreamNotFoundError } from '../common/errors';
import { isValidStreamPart } from '../common/lifecycle';
import { PublisherHold, ViewerHold } from './media-hold';
import { parseQuery, verifySignedQuery, type StreamQuery } from '../common/signed-url';
import { PlayAuth, refusalText } from '../common/play-auth';
import { CREDENTIAL_QUERY_PARAM } from '../common/cluster-credentials';
import { Webhooks, type HookClient } from './webhooks';
import { LeaseKeeper } from './lease-keeper';

/** A publisher that passed every check (signature, on_publish); its lease may still be pending. */
interface Publisher {
  app: string;
  name: string;
  session: RtmpSession;
  since: number;
  frames: number;
  client: HookClient;
}

/**
 * The query as SRS passes it to hooks: `?a=1&b=2`, or `''`. Never with an edge's member credential:
 * a webhook is no cluster member (docs/play-auth.md).
 */
function queryParam(query: StreamQuery): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (k === CREDENTIAL_QUERY_PARAM) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else if (v !== undefined) q.append(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * An origin: node-media-server takes RTMP publishes; each published stream is
 * claimed in discovery under a fenced lease that we keep renewing. Players of a
 * stream owned elsewhere get the SRS RTMP 302 (or HTTP 302); unknown streams get
 * StreamNotFound / 404 at once instead of NMS's endless wait.
 *
 * Admission: signed publish / play URLs (publishSecret, playSecret), then the SRS-style
 * on_publish / on_play webhooks (media is held while they decide). The node API
 * (/api/v1/summaries, streams, clients) and /metrics are served on the HTTP port.
 */
export class OriginService implements Service {
  readonly nms: NmsHost;
  readonly http: FastifyInstance;
  readonly hls: HlsHub;
  readonly api: NodeApi;
  readonly metrics: OriginMetrics;
  readonly hooks: Webhooks;
  private readonly feeds = new Map<string, HlsFeed>();
  private readonly discovery: HttpDiscoveryClient;
  readonly leases: LeaseKeeper;
  /** Admitted publishers by session id. */
  private readonly publishers = new Map<string, Publisher>();
  /** Admitted players by session id (their on_stop goes out when they leave). */
  private readonly viewers = new Map<string, HookClient>();
  /** HTTP-FLV requests the gate admitted through on_play: the hook client, for on_stop. */
  private readonly flvClients = new WeakMap<IncomingMessage, HookClient>();
  /** Sessions that ended (a pending hook answer for them is ignored). */
  private readonly gone = new WeakSet<BaseSession>();
  private readonly capacity: number;
  readonly overload: OverloadController;
  /** Signed play URLs (playSecret), or an edge's credential in their place (common/play-auth.ts). */
  private readonly playAuth: PlayAuth;
  private draining?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly config: OriginConfig, private readonly log: Logger) {
    this.log = log.child({ origin: config.id });
    this.capacity = capacityOf(os.availableParallelism(), config.capacity);
    // With a cluster secret the origin proves its id (docs/security.md); a shared token otherwise.
    const token = config.clusterSecret ? memberCredential(config.clusterSecret, 'origin', config.id) : config.discoveryToken;
    this.discovery = new HttpDiscoveryClient(config.discoveryUrl, { token: token || undefined });
    this.nms = new NmsHost({ host: config.host, rtmpPort: config.rtmpPort, httpPort: config.httpPort, logger: this.log, ...connectionLimitsOf(config) });
    this.http = createMediaHttpApp(this.nms, this.flvGate, this.log);
    // 503 while draining: balancers and readiness probes stop sending new publishers here.
    this.http.get('/healthz', async (_req, reply) =>
      reply
        .status(this.overload.draining || this.leases.isReplaced ? 503 : 200)
        .send({ status: this.leases.isReplaced ? 'replaced' : this.overload.draining ? 'draining' : 'ok', role: 'origin', id: config.id, registered: this.leases.registered, incarnation: this.leases.incarnation }),
    );
    this.registerOverloadRoutes();
    this.leases = new LeaseKeeper(this.discovery, {
      originId: config.id,
      log: this.log,
      registration: () => ({
        rtmp: this.rtmpUrl,
        http: this.httpUrl,
        ...(this.config.region ? { region: this.config.region } : {}),
        state: this.overload.draining ? 'draining' : 'active',
        capacity: this.capacity,
        load: { weight: this.overload.snapshot().weight, publishers: this.leases.size, viewers: countViewers(this.nms) },
      }),
      onFenced: (app, name, holder, owner) => this.onFenced(app, name, holder as RtmpSession, owner),
      onReplaced: () => this.onReplaced(),
      onHeartbeatFailure: () => this.metrics.leaseRenewFailures.inc(),
    });
    this.overload = new OverloadController(
      { streams: () => this.streamLoads(), shed: (app, name, reason) => this.shed(app, name, reason) },
      this.capacity,
      { highWater: config.highWater, lowWater: config.lowWater, sustainMs: config.shedSustainMs, cooldownMs: config.shedCooldownMs },
      { ...DEFAULT_WEIGHTS, weightPerMbit: config.weightPerMbit },
      this.log.child({ component: 'overload' }),
    );
    this.api = registerNodeApi(this.http, { media: this.nms, config, streams: () => this.streamSources(), log: this.log });
    this.metrics = registerOriginMetrics(this.http, {
      media: this.nms,
      streams: () => this.streamLoads(),
      publishers: () => this.publishers.size,
      utilisation: () => this.overload.instantUtilisation(),
      highWater: config.highWater,
      bytes: () => this.api.stats.totalBytes(),
      webhookPending: () => this.hooks.pendingCount,
      connectionsRefused: () => this.nms.connectionRefusals(),
    });
    this.hooks = new Webhooks({
      urls: { on_publish: config.webhookOnPublish, on_unpublish: config.webhookOnUnpublish, on_play: config.webhookOnPlay, on_stop: config.webhookOnStop },
      secret: config.webhookSecret,
      timeoutMs: config.webhookTimeoutMs,
      failOpen: config.webhookFailOpen,
      serverId: config.id,
      serviceId: this.api.serviceId,
      streamId,
      log: this.log.child({ component: 'webhooks' }),
      maxPending: config.webhookMaxPending,
      maxResponseBytes: config.webhookMaxResponseBytes,
      onDropped: (action) => this.metrics.webhookDrops.inc({ action }),
      onOversized: (action) => this.metrics.webhookTooLarge.inc({ action }),
    });
    this.playAuth = new PlayAuth({ playSecret: config.playSecret, memberSecret: config.clusterSecret, maxTtlS: config.signedUrlMaxTtlS }, this.log, () => this.metrics.reject('play_unauthorized'));
    this.hls = new HlsHub({ targetDurationMs: config.hlsTargetDurationMs, windowSize: config.hlsWindow });
    registerHlsRoutes(this.http, {
      hub: this.hls,
      resolve: async (app, name) => {
        const decision = await this.resolvePlay(app, name);
        if (decision.kind === 'redirect') this.metrics.redirects.inc();
        return decision;
      },
      playlistWaitMs: config.hlsPlaylistWaitMs,
      cdnSecret: config.cdnSecret,
      authorize: (path, query, ip) => this.playAuth.check(path, query, { ip, via: 'hls' }),
    });
    this.nms.on('prePublish', (s) => this.onPublish(s));
    this.nms.on('donePublish', (s) => this.onUnpublish(s));
    this.nms.on('prePlay', (s) => this.onPlay(s));
    this.nms.on('donePlay', (s) => this.onViewerDone(s));
  }

  get rtmpUrl(): string {
    return `rtmp://${this.config.publicHost}:${this.config.rtmpPort}`;
  }

  get httpUrl(): string {
    return `http://${this.config.publicHost}:${this.config.httpPort}`;
  }

  async start(): Promise<void> {
    await this.nms.start();
    await this.http.listen({ host: this.config.host, port: this.config.httpPort });
    await this.leases.beat();
    this.heartbeat = setInterval(() => void this.leases.beat(), this.config.heartbeatMs);
    this.overload.start();
    this.log.info(
      {
        rtmp: this.rtmpUrl,
        http: this.httpUrl,
        publishAuth: this.config.publishSecret !== '',
        playAuth: this.config.playSecret !== '',
        hooks: (['on_publish', 'on_unpublish', 'on_play', 'on_stop'] as const).filter((h) => this.hooks.enabled(h)),
        apiWrites: this.config.apiTokens.length > 0,
      },
      'origin listening',
    );
  }

  /**
   * Drain (SIGTERM, POST /api/v1/drain, a Kubernetes preStop): `draining` in
   * discovery, admit nothing, move publishers off one at a time within the
   * deadline (E-RTMP reconnect request where the publisher supports it,
   * disconnect otherwise).
   */
  drain(deadlineMs: number): Promise<void> {
    this.draining ??= this.drainPublishers(deadlineMs);
    return this.draining;
  }

  private async drainPublishers(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    this.overload.draining = true;
    this.log.info({ publishers: this.publishers.size, deadlineMs }, 'draining');
    await this.leases.beat();
    while (this.publishers.size > 0 && Date.now() < deadline) {
      const next = [...this.publishers.values()].sort((a, b) => this.viewersOf(a) - this.viewersOf(b))[0];
      await this.shed(next.app, next.name, 'draining').catch((err: unknown) => this.log.warn({ err: String(err) }, 'drain: shed failed'));
      const gone = Date.now() + Math.min(this.config.reconnectWaitMs + 1000, Math.max(0, deadline - Date.now()));
      while (this.publishers.has(next.session.id) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    }
    this.log.info({ left: this.publishers.size }, this.publishers.size === 0 ? 'drained: every publisher moved' : 'drain deadline reached');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.overload.stop();
    // Leases first: deregistering drops them all in one request, so edges find the stream gone (or its
    // new owner) without waiting for the TTL. Not after a newer process took our id: its leases are its own.
    const streams = this.leases.clear();
    if (!this.leases.isReplaced) {
      await this.discovery.deregisterOrigin(this.config.id).then(
        () => streams.length > 0 && this.log.info({ streams }, 'leases released on shutdown'),
        (err: unknown) => this.log.warn({ err: String(err), streams: streams.length }, 'deregister failed on shutdown; the leases expire with the registration'),
      );
    }
    // Every admitted client gets its closing notification now; the session events that follow find nothing.
    for (const p of this.publishers.values()) this.hooks.notify('on_unpublish', p.client);
    for (const c of this.viewers.values()) this.hooks.notify('on_stop', c);
    this.publishers.clear();
    this.viewers.clear();
    await this.nms.stop();
    await this.hooks.flush(this.config.webhookTimeoutMs * 3);
    await this.http.close();
    await this.hooks.close();
  }

  /** A live other origin holds a stream we serve (found on reconciliation): move our publisher off. */
  private onFenced(app: string, name: string, session: RtmpSession, owner: string): void {
    this.metrics.leaseRenewFailures.inc();
    if (session.socket.destroyed) return;
    this.nms.sendStatus(session, 'error', 'NetStream.Publish.BadName', `${app}/${name} is live on ${owner}; this publisher was disconnected`);
    this.log.warn({ stream: `${app}/${name}`, session: session.id, owner }, 'publisher disconnected: the stream is live on another origin (lease fenced)');
    session.close();
  }

  /** A later-started process took our origin id: it owns our streams now; stop serving them. */
  private onReplaced(): void {
    clearInterval(this.heartbeat);
    for (const p of [...this.publishers.values()]) {
      this.nms.sendStatus(p.session, 'error', 'NetStream.Publish.Rejected', `${this.config.id} was replaced by a newer process; re-publish`);
      p.session.close();
    }
  }

  // ------------------------------------------------------------------ publishers

  private onPublish(session: BaseSession): void {
    if (!isRtmpSession(session)) return session.close();
    const { streamApp: app, streamName: name } = session;
    const log = this.log.child({ stream: `${app}/${name}`, session: session.id });
    const broadcast = session.broadcast;
    const client = this.hookClient(session);
    const url = redactUrl(`${client.tcUrl}/${name}${client.param}`);
    // NMS sent Publish.Start already. The signature first: an unauthenticated client learns nothing else.
    if (this.config.publishSecret) {
      const verdict = verifySignedQuery(this.config.publishSecret, app, name, session.streamQuery, Date.now(), { maxTtlS: this.config.signedUrlMaxTtlS });
      if (!verdict.ok) {
        // NMS makes this session the publisher once we return: let its end free the name at once.
        if (broadcast.publisher === null) broadcast.publishGraceMs = 0;
        this.refusePublisher(session, log, 'unauthorized', 'NetStream.Publish.Unauthorized', `publish not authorized: ${verdict.message}`);
        log.warn({ reason: verdict.reason, url, ip: client.ip }, 'publish refused: not authorized');
        return;
      }
    }
    // A second publisher of a live name must not touch the stream.
    if (broadcast.publisher !== null && broadcast.publisher !== session) {
      this.refusePublisher(session, log, 'duplicate', 'NetStream.Publish.BadName', `${app}/${name} is already being published`);
      log.warn('duplicate publisher refused');
      return;
    }
    broadcast.publishGraceMs = 0;
    if (!this.overload.admits()) {
      this.nms.dropIncomingMedia(session);
      void this.refuseOverloaded(session, log);
      return;
    }
    if (!this.hooks.enabled('on_publish')) return this.admitPublisher(session, client, log, url);
    const hold = new PublisherHold(session, {
      onOverflow: () => {
        log.warn('publisher sent too much media while on_publish was deciding; closed');
        session.close();
      },
    });
    void this.hooks.authorize('on_publish', client).then((verdict) => {
      if (this.gone.has(session) || session.socket.destroyed || broadcast.publisher !== session) return hold.drop();
      if (!verdict.allowed) {
        hold.drop();
        if (verdict.outcome === 'denied') {
          this.refusePublisher(session, log, 'hook_denied', 'NetStream.Publish.Unauthorized', 'publish denied by the on_publish hook');
          log.warn({ url, ip: client.ip, answer: verdict.detail }, 'publish refused: denied by on_publish');
        } else {
          this.refusePublisher(session, log, 'hook_unavailable', 'NetStream.Publish.Rejected', 'publish authorization unavailable, try again');
          log.warn({ url, ip: client.ip, err: verdict.detail }, 'publish refused: on_publish unavailable (fail-closed)');
        }
        return;
      }
      if (verdict.outcome === 'fail_open') log.warn({ err: verdict.detail }, 'on_publish unavailable; publish allowed (webhookFailOpen)');
      hold.release(() => this.admitPublisher(session, client, log, url));
    });
  }

  private refusePublisher(session: RtmpSession, log: Logger, reason: RejectionReason, code: string, description: string): void {
    this.nms.dropIncomingMedia(session);
    this.nms.sendStatus(session, 'error', code, description);
    this.metrics.reject(reason);
    log.debug({ reason, code }, 'closing refused publisher');
    session.close();
  }

  /** The publisher passed every check: HLS, byte/frame counting and the lease claim. */
  private admitPublisher(session: RtmpSession, client: HookClient, log: Logger, url: string): void {
    const { streamApp: app, streamName: name } = session;
    const pub: Publisher = { app, name, session, since: Date.now(), frames: 0, client };
    this.publishers.set(session.id, pub);
    log.info({ url, ip: client.ip }, 'publish accepted');
    const feed = this.hls.open(app, name);
    this.feeds.set(session.id, feed);
    this.nms.tapPublisher(session, (msg) => {
      if (msg.type === 8 || msg.type === 9) pub.frames++;
      feed.push(msg);
    });
    void this.leases.claim(app, name, session).then((outcome) => {
      switch (outcome.kind) {
        case 'held':
          log.info({ token: outcome.token }, 'stream claimed');
          return;
        case 'owned-elsewhere':
          this.refusePublisher(session, log, 'owned_elsewhere', 'NetStream.Publish.BadName', `${app}/${name} is already live on ${outcome.owner}`);
          log.warn({ owner: outcome.owner }, 'publish refused: stream owned by another origin');
          return;
        case 'unavailable':
          // Decided (docs/discovery.md): no provisional publishes while discovery is down, so two origins
          // never serve one name; streams already live keep playing and the encoder retries.
          this.refusePublisher(session, log, 'discovery_unavailable', 'NetStream.Publish.Rejected', 'discovery unavailable, try again');
          log.error({ err: String(outcome.error) }, 'publish refused: cannot claim the stream');
          return;
        case 'gone':
          return;
      }
    });
  }

  private onUnpublish(session: BaseSession): void {
    this.gone.add(session);
    const pub = this.publishers.get(session.id);
    if (pub) {
      this.publishers.delete(session.id);
      this.hooks.notify('on_unpublish', pub.client);
    }
    const feed = this.feeds.get(session.id);
    if (feed) {
      this.feeds.delete(session.id);
      this.hls.close(session.streamApp, session.streamName, feed);
    }
    this.leases.release(session.streamApp, session.streamName, session);
  }

  // ------------------------------------------------------------------ players

  private onPlay(session: BaseSession): void {
    if (!isRtmpSession(session)) return this.onFlvPlay(session);
    this.nms.dropIncomingMedia(session);
    const { streamApp: app, streamName: name } = session;
    const verdict = this.playAuth.check({ app, name, kind: 'rtmp' }, session.streamQuery, { ip: clientAddress(session.ip), via: 'rtmp', session: session.id });
    if (!verdict.ok) {
      new ViewerHold(session).drop(); // NMS would send the cached GOP right after this handler
      this.nms.sendStatus(session, 'error', 'NetStream.Play.Unauthorized', refusalText(verdict));
      session.close();
      return;
    }
    if (this.nms.isLive(app, name)) return this.admitViewer(session, this.hookClient(session));
    void this.redirectOrNotFound(session, app, name);
  }

  /** HTTP-FLV players were checked by the gate; remember them for on_stop. */
  private onFlvPlay(session: BaseSession): void {
    const req = (session as BaseSession & { req?: IncomingMessage }).req;
    const client = req ? this.flvClients.get(req) : undefined;
    this.viewers.set(session.id, client ?? this.hookClient(session));
  }

  /** A player of a stream live here: on_play decides (media held meanwhile), then on_stop when it leaves. */
  private admitViewer(session: RtmpSession, client: HookClient): void {
    if (!this.hooks.enabled('on_play')) {
      this.viewers.set(session.id, client);
      return;
    }
    const log = this.log.child({ stream: `${client.app}/${client.stream}`, session: session.id });
    const hold = new ViewerHold(session, { onOverflow: () => session.close() });
    void this.hooks.authorize('on_play', client).then((verdict) => {
      if (this.gone.has(session) || session.socket.destroyed) return hold.drop();
      if (!verdict.allowed) {
        hold.drop();
        const denied = verdict.outcome === 'denied';
        this.metrics.reject(denied ? 'play_hook_denied' : 'play_hook_unavailable');
        this.nms.sendStatus(session, 'error', denied ? 'NetStream.Play.Unauthorized' : 'NetStream.Play.Failed', denied ? 'play denied by the on_play hook' : 'play authorization unavailable, try again');
        log.warn({ ip: client.ip, detail: verdict.detail }, denied ? 'play refused: denied by on_play' : 'play refused: on_play unavailable (fail-closed)');
        session.close();
        return;
      }
      this.viewers.set(session.id, client);
      hold.release();
    });
  }

  private onViewerDone(session: BaseSession): void {
    this.gone.add(session);
    const client = this.viewers.get(session.id);
    if (!client) return;
    this.viewers.delete(session.id);
    this.hooks.notify('on_stop', client);
  }

  /** RTMP play of a stream not live here: SRS 302 to the owner, or StreamNotFound and close. */
  private async redirectOrNotFound(session: RtmpSession, app: string, name: string): Promise<void> {
    const log = this.log.child({ stream: `${app}/${name}`, session: session.id });
    const owner = await this.discovery.lookup(app, name).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'lookup failed');
      return null;
    });
    if (this.nms.isLive(app, name)) return this.admitViewer(session, this.hookClient(session)); // published while we looked
    if (owner && owner.origin.id !== this.config.id) {
      const query = queryParam(session.streamQuery);
      const redirect = `${owner.origin.rtmp}/${app}`;
      const redirect2 = `${redirect}/${name}${query}`;
      this.nms.sendCommandOnStream0(session, 'onStatus', {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description: 'RTMP 302 Redirect',
        ex: { code: 302, redirect, redirect2 },
      });
      this.metrics.redirects.inc();
      log.info({ to: owner.origin.id }, 'rtmp 302 redirect sent');
      const timer = setTimeout(() => session.close(), this.config.redirectWaitMs);
      session.socket.once('close', () => clearTimeout(timer));
      return;
    }
    this.nms.sendStatus(session, 'error', 'NetStream.Play.StreamNotFound', `${app}/${name} is not live`);
    log.info('play of unknown stream: StreamNotFound');
    session.close();
  }

  /** Where app/name plays: here, at the owner (302), or nowhere (404) — never an endless wait. */
  private async resolvePlay(app: string, name: string): Promise<PlayDecision> {
    if (this.nms.isLive(app, name)) return { kind: 'here' };
    let owner;
    try {
      owner = await this.discovery.lookup(app, name);
    } catch {
      return { kind: 'unavailable' };
    }
    if (this.nms.isLive(app, name)) return { kind: 'here' };
    if (owner && owner.origin.id !== this.config.id) return { kind: 'redirect', httpBase: owner.origin.http };
    return { kind: 'not-found' };
  }

  /** HTTP-FLV: signature, then live here → on_play → NMS; owned elsewhere → 302; otherwise 404 (503 if discovery is down). */
  private readonly flvGate = async (req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> => {
    const ip = req.socket.remoteAddress ?? '';
    const verdict = this.playAuth.check({ app, name, kind: 'flv' }, parseQuery(query), { ip, via: 'http-flv' });
    if (!verdict.ok) {
      sendJson(res, 403, { code: 'FORBIDDEN', message: refusalText(verdict) });
      return false;
    }
    const decision = await this.resolvePlay(app, name);
    switch (decision.kind) {
      case 'here':
        return this.flvOnPlay(req, res, app, name, query);
      case 'redirect':
        this.metrics.redirects.inc();
        res.writeHead(302, { Location: `${decision.httpBase}/${app}/${name}.flv${query}`, 'Content-Length': 0 });
        res.end();
        return false;
      case 'unavailable':
        sendJson(res, 503, { code: 'DISCOVERY_UNAVAILABLE', message: 'cannot locate the stream now; retry' });
        return false;
      default:
        sendJson(res, 404, { code: 'STREAM_NOT_FOUND', message: `stream ${app}/${name} is not live` });
        return false;
    }
  };

  /** on_play for an HTTP-FLV player, before NMS sees it: a refusal is a real 403 (or 503). */
  private async flvOnPlay(req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> {
    if (!this.hooks.enabled('on_play')) return true;
    const client: HookClient = {
      clientId: `flv-${randomBytes(6).toString('hex')}`,
      ip: req.socket.remoteAddress ?? '',
      app,
      stream: name,
      param: queryParam(parseQuery(query)),
      tcUrl: `${this.httpUrl}/${app}`,
    };
    const verdict = await this.hooks.authorize('on_play', client);
    if (req.socket.destroyed) return false;
    if (!verdict.allowed) {
      const denied = verdict.outcome === 'denied';
      this.metrics.reject(denied ? 'play_hook_denied' : 'play_hook_unavailable');
      this.log.warn({ stream: `${app}/${name}`, via: 'http-flv', ip: client.ip, detail: verdict.detail }, denied ? 'play refused: denied by on_play' : 'play refused: on_play unavailable (fail-closed)');
      if (denied) sendJson(res, 403, { code: 'FORBIDDEN', message: 'play denied by the on_play hook' });
      else sendJson(res, 503, { code: 'HOOK_UNAVAILABLE', message: 'play authorization unavailable, try again' });
      return false;
    }
    this.flvClients.set(req, client);
    return true;
  }

  // ------------------------------------------------------------------ views

  private hookClient(session: BaseSession): HookClient {
    return {
      clientId: session.id,
      ip: clientAddress(session.ip),
      app: session.streamApp,
      stream: session.streamName,
      param: queryParam(session.streamQuery),
      tcUrl: `${this.rtmpUrl}/${session.streamApp}`,
    };
  }

  // ------------------------------------------------------------------ overload (DESIGN.md sections 5 and 7)

  private registerOverloadRoutes(): void {
    const auth = writeAuth(this.config.apiTokens, this.config.clusterSecret);
    this.http.get('/api/v1/overload', async () => this.overload.snapshot());
    this.http.post<{ Params: { app: string; name: string } }>('/api/v1/streams/:app/:name/shed', { preHandler: auth }, async (req) => {
      const { app, name } = req.params;
      if (!isValidStreamPart(app) || !isValidStreamPart(name)) throw new CascadeError('BAD_REQUEST', 'invalid stream name');
      await this.shed(app, name, 'manual shed (API)');
      return { shed: `${app}/${name}`, origin: this.config.id };
    });
    this.http.post<{ Body: { deadlineMs?: unknown } | undefined }>('/api/v1/drain', { preHandler: auth }, async (req, reply) => {
      const asked = req.body?.deadlineMs;
      const deadlineMs = typeof asked === 'number' && asked >= 0 && asked <= 3_600_000 ? asked : this.config.drainDeadlineMs;
      // Drain, then exit like on SIGTERM (runMain's handler finds the drain done and stops).
      void this.drain(deadlineMs).then(() => process.kill(process.pid, 'SIGTERM'));
      return reply.status(202).send({ draining: true, publishers: this.publishers.size, deadlineMs });
    });
  }

  /** Above high-water (or draining): refuse, naming the origin placement would pick instead. */
  private async refuseOverloaded(session: RtmpSession, log: Logger): Promise<void> {
    const { streamApp: app, streamName: name } = session;
    const alt = await this.discovery.place({ app, stream: name }).catch(() => null);
    const better = alt && alt.origin.id !== this.config.id ? ` publish to ${alt.origin.id} instead: ${alt.publishUrl}` : ' no origin has room now; retry later';
    const why = this.overload.draining ? `${this.config.id} is draining;` : `${this.config.id} is above high-water (${Math.round(this.overload.utilisation * 100)} %);`;
    this.refusePublisher(session, log, this.overload.draining ? 'draining' : 'overloaded', 'NetStream.Publish.Rejected', `${why}${better}`);
    log.warn({ utilisation: this.overload.utilisation, better: alt?.origin.id }, 'publish refused: overloaded');
  }

  /**
   * Move a publisher off this origin: mark the stream "not here" in discovery (placement skips us),
   * release our lease so its new origin can claim it, then ask the publisher to reconnect there
   * (E-RTMP v2 ReconnectRequest, when it announced capsEx & 1; we keep taking its media until it
   * leaves or `reconnectWaitMs` passes) or disconnect it (the encoder re-pushes, steered by placement).
   */
  async shed(app: string, name: string, reason: string): Promise<void> {
    const pub = [...this.publishers.values()].find((p) => p.app === app && p.name === name);
    if (!pub) throw new StreamNotFoundError(app, name);
    const log = this.log.child({ stream: `${app}/${name}`, session: pub.session.id });
    this.metrics.sheds.inc();
    await this.discovery.avoid(app, name, this.config.id, Math.max(this.config.shedCooldownMs, 1000)).catch((err: unknown) => log.warn({ err: String(err) }, 'avoid mark failed'));
    const target = await this.discovery.place({ app, stream: name }).catch(() => null);
    await this.leases.drop(app, name, pub.session);
    const to = target && target.origin.id !== this.config.id ? target : null;
    if (to && reconnectCapable(pub.session)) {
      this.nms.sendCommandOnStream0(pub.session, 'onStatus', {
        level: 'status',
        code: 'NetConnection.Connect.ReconnectRequest',
        description: `moving to ${to.origin.id}: ${reason}`,
        tcUrl: `${to.origin.rtmp}/${app}`,
      });
      log.info({ to: to.origin.id, reason, explain: to.explain }, 'shed: reconnect request sent');
      const timer = setTimeout(() => pub.session.close(), this.config.reconnectWaitMs);
      pub.session.socket.once('close', () => clearTimeout(timer));
      return;
    }
    log.info({ to: to?.origin.id ?? null, reason, explain: to?.explain }, 'shed: publisher disconnected (forced re-push)');
    this.nms.sendStatus(pub.session, 'error', 'NetStream.Publish.Rejected', `${this.config.id} is shedding load; re-publish${to ? ` to ${to.publishUrl}` : ''}`);
    pub.session.close();
  }

  private viewersOf(p: Publisher): number {
    return this.nms.broadcast(p.app, p.name)?.subscribers.size ?? 0;
  }

  /** Streams for the node API: SRS fields are derived there; these are the Cascade extras. */
  private streamSources(): Array<NodeStreamSource & { token: number | null; owner: string }> {
    return [...this.publishers.values()].map((p) => ({
      app: p.app,
      name: p.name,
      since: p.since,
      frames: p.frames,
      token: this.leases.tokenOf(p.app, p.name, p.session),
      owner: this.config.id,
    }));
  }

  /** Ingest rate and players of each admitted stream (metrics, weight load). */
  private streamLoads(): Array<StreamLoad & { kbpsIn: number }> {
    return this.streamSources().map((s) => {
      const st = this.api.stats.streamStats(s);
      return { app: s.app, name: s.name, ingestKbps: st.recvKbps, kbpsIn: st.recvKbps, viewers: st.viewers };
    });
  }
}

/** E-RTMP v2: the publisher announced `capsEx & 0x01` (reconnect) in its connect command. */
function reconnectCapable(session: RtmpSession): boolean {
  const cmd = (session.rtmp as unknown as { connectCmdObj?: { capsEx?: unknown } }).connectCmdObj;
  return typeof cmd?.capsEx === 'number' && (cmd.capsEx & 0x01) === 0x01;
}
