import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import type { IncomingMessage } from 'node:http';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import { memberCredential } from '../common/cluster-credentials';
import { PlayAuth } from '../common/play-auth';
import { HttpDiscoveryClient } from '../discovery/client';
import { NmsHost, isRtmpSession, type BaseSession } from '../mediaserver/nms-host';
import { createMediaHttpApp } from '../mediaserver/http-app';
import { connectionLimitsOf } from '../mediaserver/limits-config';
import { HlsHub, hlsHubOptions } from '../mediaserver/hls-hub';
import { registerHlsRoutes } from '../mediaserver/hls-routes';
import { registerNodeApi, writeAuth, type NodeApi } from '../mediaserver/node-api';
import { countViewers, registerOriginMetrics, type OriginMetrics } from '../mediaserver/metrics';
import type { OriginConfig } from './config';
import { DEFAULT_WEIGHT_MODEL, nodeCapacity } from '../common/weight-model';
import { OverloadController } from './overload/controller';
import type { Webhooks } from './webhooks';
import { LeaseKeeper } from './lease-keeper';
import { createOriginHooks } from './hooks';
import { nmsMedia } from './nms-media';
import type { OriginSession } from './media-port';
import { PublishAdmission } from './publish-admission';
import { PlayRouter } from './play-router';
import { OverloadControl } from './overload-control';
import { ApiFeeds } from './api-feeds';

/**
 * An origin: node-media-server takes RTMP publishes; each published stream is claimed in discovery
 * under a fenced lease that we keep renewing. This class only wires the parts, each with one job:
 *
 * - `PublishAdmission` (publish-admission.ts): signed publish URLs, one publisher per name, load,
 *   `on_publish`, the lease claim; it keeps the admitted publishers.
 * - `PlayRouter` (play-router.ts): play admission and `on_play` / `on_stop`; RTMP / HTTP 302 to the
 *   owner, StreamNotFound / 404 at once for unknown streams.
 * - `LeaseKeeper` (lease-keeper.ts): leases and heartbeats in discovery.
 * - `OverloadController` (overload/) decides; `OverloadControl` (overload-control.ts) sheds, drains
 *   and serves the overload / shed / drain routes.
 * - `createOriginHooks` (hooks.ts): the webhooks; `ApiFeeds` (api-feeds.ts): what the node API
 *   (/api/v1/summaries, streams, clients) and /metrics read.
 * The parts reach node-media-server only through `OriginMedia` (media-port.ts, nms-media.ts).
 */
export class OriginService implements Service {
  readonly nms: NmsHost;
  readonly http: FastifyInstance;
  readonly hls: HlsHub;
  readonly api: NodeApi;
  readonly metrics: OriginMetrics;
  readonly hooks: Webhooks;
  readonly leases: LeaseKeeper;
  readonly overload: OverloadController;
  readonly publishers: PublishAdmission;
  readonly players: PlayRouter;
  readonly shedding: OverloadControl;
  private readonly discovery: HttpDiscoveryClient;
  private readonly feeds: ApiFeeds;
  private readonly capacity: number;
  private stopped = false;

  constructor(private readonly config: OriginConfig, private readonly log: Logger) {
    this.log = log.child({ origin: config.id });
    this.capacity = nodeCapacity(os.availableParallelism(), config.capacity);
    // With a cluster secret the origin proves its id (docs/security.md); a shared token otherwise.
    const token = config.clusterSecret ? memberCredential(config.clusterSecret, 'origin', config.id) : config.discoveryToken;
    this.discovery = new HttpDiscoveryClient(config.discoveryUrl, { token: token || undefined });
    this.nms = new NmsHost({ host: config.host, rtmpPort: config.rtmpPort, httpPort: config.httpPort, logger: this.log, ...connectionLimitsOf(config) });
    const media = nmsMedia(this.nms);
    this.http = createMediaHttpApp(this.nms, (...args) => this.players.flvGate(...args), this.log);
    // 503 while draining: balancers and readiness probes stop sending new publishers here.
    this.http.get('/healthz', async (_req, reply) =>
      reply
        .status(this.overload.draining || this.leases.isReplaced ? 503 : 200)
        .send({ status: this.leases.isReplaced ? 'replaced' : this.overload.draining ? 'draining' : 'ok', role: 'origin', id: config.id, registered: this.leases.registered, incarnation: this.leases.incarnation }),
    );
    this.leases = new LeaseKeeper(this.discovery, {
      originId: config.id,
      log: this.log,
      registration: () => ({
        rtmp: this.rtmpUrl,
        http: this.httpUrl,
        ...(config.region ? { region: config.region } : {}),
        state: this.overload.draining ? 'draining' : 'active',
        capacity: this.capacity,
        load: {
          weight: this.overload.snapshot().weight,
          publishers: this.leases.size,
          viewers: countViewers(this.nms),
          // Shown by the cluster view and the console (docs/console.md); cpu in percent of one core.
          cpu: Math.round(this.api.stats.cpuUsage().self * 1000) / 10,
          ...this.feeds.rates(),
        },
      }),
      onFenced: (app, name, holder, owner) => {
        this.metrics.leaseRenewFailures.inc();
        this.publishers.onFenced(app, name, holder as OriginSession, owner);
      },
      // A later-started process took our origin id: it owns our streams now; stop serving them.
      onReplaced: () => this.publishers.disconnectAll(`${config.id} was replaced by a newer process; re-publish`),
      onHeartbeatFailure: () => this.metrics.leaseRenewFailures.inc(),
    });
    this.overload = new OverloadController(
      { streams: () => this.feeds.streamLoads(), shed: (app, name, reason) => this.shedding.shed(app, name, reason) },
      this.capacity,
      { highWater: config.highWater, lowWater: config.lowWater, sustainMs: config.shedSustainMs, cooldownMs: config.shedCooldownMs },
      { ...DEFAULT_WEIGHT_MODEL, weightPerMbit: config.weightPerMbit },
      this.log.child({ component: 'overload' }),
    );
    this.api = registerNodeApi(this.http, { media: this.nms, config, streams: () => this.feeds.streamSources(), log: this.log });
    this.metrics = registerOriginMetrics(this.http, {
      media: this.nms,
      streams: () => this.feeds.streamLoads(),
      hlsBlocked: () => this.hls.blocked.active,
      publishers: () => this.publishers.size,
      utilisation: () => this.overload.instantUtilisation(),
      highWater: config.highWater,
      bytes: () => this.api.stats.totalBytes(),
      webhookPending: () => this.hooks.pendingCount,
      connectionsRefused: () => this.nms.connectionRefusals(),
    });
    this.hooks = createOriginHooks(config, this.api.serviceId, this.log, {
      dropped: (action) => this.metrics.webhookDrops.inc({ action }),
      oversized: (action) => this.metrics.webhookTooLarge.inc({ action }),
    });
    this.hls = new HlsHub({
      ...hlsHubOptions(config),
      onDemand:
        config.hlsSegmenting === 'on-demand'
          ? {
              idleStopMs: config.hlsIdleStopMs,
              seed: (app, name) => this.nms.gopSnapshot(app, name),
              onChange: (app, name, change) =>
                this.log.info({ stream: `${app}/${name}` }, change === 'started' ? 'HLS segmenting started (first playlist request)' : 'HLS segmenting stopped (no HLS request)'),
            }
          : undefined,
    });
    this.publishers = new PublishAdmission({
      originId: config.id,
      rtmpUrl: this.rtmpUrl,
      publishSecret: config.publishSecret,
      signedUrlMaxTtlS: config.signedUrlMaxTtlS,
      media,
      hooks: this.hooks,
      leases: this.leases,
      load: this.overload,
      place: (req) => this.discovery.place(req),
      feeds: this.hls,
      reject: (reason) => this.metrics.reject(reason),
      log: this.log,
    });
    this.feeds = new ApiFeeds({
      originId: config.id,
      publishers: () => this.publishers.list(),
      tokenOf: (app, name, holder) => this.leases.tokenOf(app, name, holder),
      streamStats: (src) => this.api.stats.streamStats(src),
    });
    // Signed play URLs (playSecret), or an edge's credential in their place (common/play-auth.ts).
    const playAuth = new PlayAuth({ playSecret: config.playSecret, memberSecret: config.clusterSecret, maxTtlS: config.signedUrlMaxTtlS }, this.log, () => this.metrics.reject('play_unauthorized'));
    this.players = new PlayRouter({
      originId: config.id,
      rtmpUrl: this.rtmpUrl,
      httpUrl: this.httpUrl,
      redirectWaitMs: config.redirectWaitMs,
      media,
      hooks: this.hooks,
      authorize: (path, query, ctx) => playAuth.check(path, query, ctx),
      lookup: (app, name) => this.discovery.lookup(app, name),
      redirected: () => this.metrics.redirects.inc(),
      reject: (reason) => this.metrics.reject(reason),
      log: this.log,
    });
    this.shedding = new OverloadControl({
      originId: config.id,
      media,
      publishers: this.publishers,
      load: this.overload,
      discovery: this.discovery,
      leases: this.leases,
      shedCooldownMs: config.shedCooldownMs,
      reconnectWaitMs: config.reconnectWaitMs,
      drainDeadlineMs: config.drainDeadlineMs,
      shed: () => this.metrics.sheds.inc(),
      log: this.log,
    });
    this.shedding.registerRoutes(this.http, writeAuth(config.apiTokens, config.clusterSecret), () => process.kill(process.pid, 'SIGTERM'));
    registerHlsRoutes(this.http, {
      hub: this.hls,
      resolve: async (app, name) => {
        const decision = await this.players.resolve(app, name);
        if (decision.kind === 'redirect') this.metrics.redirects.inc();
        return decision;
      },
      playlistWaitMs: config.hlsPlaylistWaitMs,
      cdnSecret: config.cdnSecret,
      authorize: (path, query, ip) => playAuth.check(path, query, { ip, via: 'hls' }),
    });
    this.nms.on('prePublish', (s) => (isRtmpSession(s) ? this.publishers.onPublish(s) : s.close()));
    this.nms.on('donePublish', (s) => this.publishers.onUnpublish(s));
    this.nms.on('prePlay', (s) => (isRtmpSession(s) ? this.players.onRtmpPlay(s) : this.players.onFlvPlay(s as BaseSession & { req?: IncomingMessage })));
    this.nms.on('donePlay', (s) => this.players.onViewerDone(s));
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
    await this.leases.start(this.config.heartbeatMs);
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
   * Drain (SIGTERM, POST /api/v1/drain, a Kubernetes preStop): `draining` in discovery, admit
   * nothing, move publishers off one at a time within the deadline (E-RTMP reconnect request where
   * the publisher supports it, disconnect otherwise).
   */
  drain(deadlineMs: number): Promise<void> {
    return this.shedding.drain(deadlineMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.overload.stop();
    // Leases first: deregistering drops them all in one request (lease-keeper.ts).
    await this.leases.shutdown();
    // Every admitted client gets its closing notification now; the session events that follow find nothing.
    this.publishers.forgetAll();
    this.players.forgetAll();
    await this.nms.stop();
    await this.hooks.flush(this.config.webhookTimeoutMs * 3);
    await this.http.close();
    await this.hooks.close();
  }
}
