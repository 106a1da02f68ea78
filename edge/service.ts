import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Service } from '../common/lifecycle';
import { redactUrl, type Logger } from '../common/logger';
import { isValidStreamPart } from '../common/stream-name';
import { createHttpApp } from '../mediaserver/http-app';
import { HlsHub, hlsHubOptions } from '../mediaserver/hls-hub';
import { registerHlsRoutes, PlayDecision } from '../mediaserver/hls-routes';
import { registerNodeApi } from '../mediaserver/node-api';
import { registerEdgeMetrics, type EdgeMetrics } from '../mediaserver/metrics';
import { hasRequestBody, sendJson } from '../common/http-reply';
import { CREDENTIAL_QUERY_PARAM, memberCredential } from '../common/cluster-credentials';
import { HostAllowlist } from '../common/host-allowlist';
import { PlayAuth, refusalText } from '../common/play-auth';
import { parseQuery } from '../common/signed-url';
import { socketHost } from '../protocol/rtmp/url';
import type { RtmpServerSession, StreamRequest } from '../protocol/rtmp/server-session';
import { HttpDiscoveryClient, type EventSubscription } from '../discovery/client';
import { OwnershipWatch } from './ownership-watch';
import { EdgeReporter, reportedUrls } from './edge-reporter';
import { EdgeStream } from './edge-stream';
import { RtmpServer } from './rtmp-server';
import { flvViewer, rtmpViewer } from './viewers';
import { EdgeClients } from './clients';
import { GatewayPublish } from './publish-gateway';
import { PullAdmission } from './pull-admission';
import { HttpConnectionGuard, RETRY_AFTER_S } from '../mediaserver/http-limits';
import { connectionLimitsOf } from '../mediaserver/limits-config';
import { clientIp } from '../common/limits';
import type { EdgeConfig } from './config';

const FLV_PATH = /^\/([^/?]+)\/([^/?]+)\.flv(\?.*)?$/;

/**
 * An edge: viewers play here (RTMP, HTTP-FLV, HLS); the first viewer of a
 * stream starts one pull from the origins, round-robin like SRS (`index++ % n`),
 * following RTMP 302 redirects to the owner. The media plane is our own
 * (protocol/rtmp/server-session.ts + fanout/hub.ts): batched writes of shared
 * buffers and GOP-dropping viewer queues, which node-media-server lacks.
 */
export class EdgeService implements Service {
  readonly http: FastifyInstance;
  readonly hls: HlsHub;
  readonly rtmp: RtmpServer;
  private readonly metrics: EdgeMetrics;
  private readonly pulls: PullAdmission;
  private httpGuard?: HttpConnectionGuard;
  private readonly streams = new Map<string, EdgeStream>();
  private readonly gateways = new Set<GatewayPublish>();
  private roundRobin = 0;
  private readonly discovery: HttpDiscoveryClient;
  private readonly watch = new OwnershipWatch((key) => this.streams.get(key));
  private events?: EventSubscription;
  private readonly reporter: EdgeReporter;
  private stopped = false;
  /** Viewers' signed play URLs (playSecret), checked here: the origins see only our credential. */
  private readonly playAuth: PlayAuth;
  /** Where pulls, their 302s and the publish gateway may go: originHosts + the hosts of `origins`. */
  private readonly originHosts: HostAllowlist;
  /** `?cascade_auth=<edge credential>` on every pull, or '' without a cluster secret. */
  private readonly upstreamQuery: string;

  constructor(private readonly config: EdgeConfig, private readonly log: Logger) {
    this.log = log.child({ edge: config.id });
    this.playAuth = new PlayAuth({ playSecret: config.playSecret, memberSecret: '', maxTtlS: config.signedUrlMaxTtlS }, this.log);
    this.originHosts = new HostAllowlist([...config.originHosts, ...config.origins.map((o) => socketHost(new URL(o).hostname))]);
    // One credential for both: the edge pulls from origins with it and reads discovery (with fencing
    // tokens: ownership events are ordered by them).
    const credential = config.clusterSecret ? memberCredential(config.clusterSecret, 'edge', config.id) : undefined;
    this.upstreamQuery = credential ? `?${CREDENTIAL_QUERY_PARAM}=${encodeURIComponent(credential)}` : '';
    this.discovery = new HttpDiscoveryClient(config.discoveryUrl, { timeoutMs: 500, logger: this.log, ...(credential ? { token: credential } : {}) });
    this.reporter = new EdgeReporter({ id: config.id, discovery: this.discovery, streams: () => this.streams.values(), urls: reportedUrls(config), intervalMs: config.reportIntervalMs, log: this.log });
    this.rtmp = new RtmpServer({ maxMessageSize: 1024 * 1024, maxBufferedBytes: 2 * 1024 * 1024 }, (s) => this.onSession(s), config, this.log);
    this.pulls = new PullAdmission({ perIpBurst: config.pullBurstPerIp, perIpPerSec: config.pullRatePerIpPerSec, maxConcurrent: config.maxConcurrentPulls }, this.log);
    this.http = createHttpApp(this.log, (handler) => {
      const server = http.createServer((req, res) => {
        if (this.httpGuard?.handle(req, res)) return;
        const m = FLV_PATH.exec(req.url ?? '');
        if (!m) return handler(req, res);
        void this.serveFlv(req, res, decodeSafe(m[1]), decodeSafe(m[2]), m[3] ?? '');
      });
      this.httpGuard = new HttpConnectionGuard(server, connectionLimitsOf(config), this.log.child({ component: 'http-limits' }));
      return server;
    });
    this.http.get('/healthz', async () => ({ status: 'ok', role: 'edge', id: config.id }));
    registerNodeApi(this.http, {
      config,
      streams: () => [...this.streams.values()].map((s) => ({ ...s.view(), sequenceHeaders: () => s.hub.sequenceHeaders() })),
      media: new EdgeClients(() => this.streams.values()),
      log: this.log,
    });
    this.metrics = registerEdgeMetrics(this.http, {
      streams: () => this.streams.values(),
      hlsBlocked: () => this.hls.blocked.active,
      connectionsRefused: () => [
        ...Object.entries(this.rtmp.limiter?.refused ?? {}).map(([reason, count]) => ({ listener: 'rtmp', reason, count })),
        ...Object.entries(this.httpGuard?.refusals ?? {}).map(([reason, count]) => ({ listener: 'http', reason, count })),
      ],
    });
    this.hls = new HlsHub(hlsHubOptions(config));
    registerHlsRoutes(this.http, {
      hub: this.hls,
      resolve: (app, name, _query, ip) => this.resolvePlay(app, name, ip),
      playlistWaitMs: config.hlsPlaylistWaitMs,
      cdnSecret: config.cdnSecret,
      authorize: (path, query, ip) => this.reporter.hlsPoll(path, ip, this.playAuth.check(path, query, { ip, via: 'hls' })),
    });
  }

  async start(): Promise<void> {
    await this.rtmp.listen(this.config.rtmpPort, this.config.host);
    await this.http.listen({ host: this.config.host, port: this.config.httpPort });
    // Ownership events make re-pulls immediate; without them (discovery down) TCP and retries still work.
    let failing = false;
    this.events = this.discovery.subscribeEvents(
      (e) => {
        failing = false;
        this.watch.onEvent(e);
      },
      {
        types: ['stream.claimed', 'stream.moved', 'stream.released', 'origin.up', 'origin.draining'],
        onError: (err) => {
          if (!failing) this.log.info({ err: err.message }, 'discovery events unavailable; re-pulls rely on the upstream connection meanwhile');
          failing = true;
        },
      },
    );
    this.reporter.start();
    this.log.info(
      {
        rtmp: `rtmp://${this.config.host}:${this.config.rtmpPort}`,
        http: `http://${this.config.host}:${this.config.httpPort}`,
        origins: this.config.origins.map(redactUrl),
        playAuth: this.playAuth.enabled,
        pullCredential: this.upstreamQuery !== '',
      },
      'edge listening',
    );
    if (this.playAuth.enabled && !this.upstreamQuery) {
      this.log.warn('playSecret is set but clusterSecret is not: this edge pulls without a credential, which origins with a playSecret refuse (docs/play-auth.md)');
    }
  }

  async drain(_deadlineMs: number): Promise<void> {
    await this.reporter.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of [...this.streams.values()]) s.close('edge stopping');
    for (const g of [...this.gateways]) g.close('edge stopping');
    await this.events?.close();
    await this.reporter.stop();
    await this.rtmp.close();
    await this.http.close();
    await this.discovery.close();
  }

  /** The stream object for a path, starting its pull when it is new. */
  ensure(app: string, name: string): EdgeStream {
    const key = `${app}/${name}`;
    let stream = this.streams.get(key);
    if (!stream || stream.state === 'closed') {
      stream = new EdgeStream(app, name, {
        hls: this.hls,
        fanout: { batchMs: this.config.fanoutBatchMs, batchMode: this.config.fanoutBatchMode, maxBacklogBytes: this.config.viewerMaxBacklogBytes, maxLagMs: this.config.viewerMaxLagMs, maxGopBytes: this.config.gopCacheMaxBytes },
        upstreams: () => this.upstreams(app, name),
        maxRedirects: this.config.maxRedirects,
        upstreamQuery: this.upstreamQuery,
        allowHost: (host) => this.originHosts.allows(host),
        pullTimeoutMs: this.config.pullTimeoutMs,
        closeAfterMs: this.config.closeAfterMs,
        failoverGraceMs: this.config.failoverGraceMs,
        log: this.log,
        onEvent: (e, n) => (e === 'drops' ? this.metrics.drops.inc(n) : this.metrics.streamEvent(e, n)),
        onClosed: (s) => {
          if (this.streams.get(key) !== s) return;
          this.streams.delete(key);
          this.watch.forget(key);
        },
      });
      this.streams.set(key, stream);
      this.pulls.started(stream.ready);
    }
    return stream;
  }

  /**
   * Whether a play from `ip` may start a pull of app/name (docs/hardening.md "Memory bounds"): a
   * stream this edge already pulls is always admitted; a new one spends a token of the IP's bucket
   * and needs room under maxConcurrentPulls (`ensure` counts the pull). Null: admitted; else the refusal.
   */
  private admitPull(app: string, name: string, ip: string): 'rate' | 'concurrency' | null {
    const existing = this.streams.get(`${app}/${name}`);
    if (existing && existing.state !== 'closed') return null;
    const refusal = this.pulls.check(ip, `${app}/${name}`);
    if (refusal) {
      this.metrics.pullsRefused.inc({ reason: refusal });
      return refusal;
    }
    return null;
  }

  /**
   * Round-robin start (SRS: `index++ % n`), then the others in order, so one dead
   * origin does not fail the pull. In lookup mode the owner from discovery goes first.
   */
  private async upstreams(app: string, name: string): Promise<string[]> {
    const list = this.config.origins;
    const start = this.roundRobin++ % list.length;
    const order = [...list.slice(start), ...list.slice(0, start)];
    if (this.config.upstreamMode !== 'lookup') return order;
    const owner = await this.discovery.lookup(app, name).catch((err: unknown) => {
      // Round-robin then, as SRS edges do; discovery being down is reported once by the event subscription.
      this.log.debug({ stream: `${app}/${name}`, err: String(err) }, 'owner lookup failed; pulling round-robin');
      return null;
    });
    if (owner && !this.originHosts.allowsUrl(owner.origin.rtmp)) {
      this.log.warn({ stream: `${app}/${name}`, owner: owner.origin.id }, 'discovery names an owner outside originHosts; not pulling from it');
      return order;
    }
    return owner ? [owner.origin.rtmp, ...order.filter((o) => o !== owner.origin.rtmp)] : order;
  }

  private onSession(session: RtmpServerSession): void {
    const log = this.log.child({ session: session.id });
    session.on('play', (req) => void this.servePlay(session, req));
    session.on('publish', (req) => void this.servePublish(session, req));
    session.on('close', (reason) => log.debug({ reason }, 'rtmp session closed'));
  }

  /** Publish gateway (docs/design.md section 7): forward to the placed origin and move without the encoder noticing. */
  private async servePublish(session: RtmpServerSession, req: StreamRequest): Promise<void> {
    if (!this.config.publishGateway) return session.reject('NetStream.Publish.Rejected', 'publishing at this edge is disabled: publish to an origin');
    const gw = new GatewayPublish(session, req, {
      place: (app, name, avoid) => this.placePublish(app, name, avoid),
      allowsUrl: (url) => this.originHosts.allowsUrl(url),
      repushGraceMs: this.config.gatewayRepushGraceMs,
      gopCacheMaxBytes: this.config.gopCacheMaxBytes,
      log: this.log,
    });
    this.gateways.add(gw);
    session.once('close', () => this.gateways.delete(gw));
    await gw.start();
  }

  /** The origin to push to: discovery's placement, or round-robin over the configured origins when it is down. */
  private async placePublish(app: string, name: string, avoid: readonly string[] = []): Promise<string> {
    try {
      const placed = `${(await this.discovery.place({ app, stream: name })).origin.rtmp}/${app}`;
      if (!this.originHosts.allowsUrl(placed)) this.log.warn({ stream: `${app}/${name}`, to: redactUrl(placed) }, 'placement names a host outside originHosts; not publishing there');
      else if (!avoid.includes(placed)) return placed;
    } catch (err) {
      this.log.warn({ err: String(err) }, 'placement unavailable; falling back to round-robin');
    }
    const list = this.config.origins.map((o) => `${o}/${app}`).filter((b) => !avoid.includes(b));
    const pool = list.length > 0 ? list : this.config.origins.map((o) => `${o}/${app}`);
    return pool[this.roundRobin++ % pool.length];
  }

  /**
   * A viewer joins a stream: counted at once (so the upstream is not closed under it),
   * resolved once media flows (TTFF observed), null when no origin has the stream.
   */
  private async join(app: string, name: string): Promise<EdgeStream | null> {
    const stream = this.ensure(app, name);
    stream.addViewer();
    const t0 = performance.now();
    try {
      await stream.ready;
      this.metrics.observeTtff((performance.now() - t0) / 1000);
      return stream;
    } catch {
      // No origin had it: EdgeStream logged each pull attempt; the caller answers not-found.
      stream.removeViewer();
      return null;
    }
  }

  /** RTMP play: Play.Start only once the upstream delivers, StreamNotFound when no origin has it. */
  private async servePlay(session: RtmpServerSession, req: StreamRequest): Promise<void> {
    const ip = clientIp(session.socket);
    const verdict = this.playAuth.check({ app: req.app, name: req.name, kind: 'rtmp' }, parseQuery(req.query), { ip, via: 'rtmp', session: session.id });
    if (!verdict.ok) return session.reject('NetStream.Play.Unauthorized', refusalText(verdict));
    if (this.admitPull(req.app, req.name, ip)) return session.reject('NetStream.Play.StreamNotFound', `${req.app}/${req.name} is not live here; retry later`);
    const stream = await this.join(req.app, req.name);
    if (!stream) return session.reject('NetStream.Play.StreamNotFound', `${req.app}/${req.name} is not live`);
    if (session.isClosed) return stream.removeViewer();
    session.acceptPlay();
    const viewer = this.reporter.counted(req.app, req.name, rtmpViewer(session));
    stream.hub.add(viewer);
    session.once('close', () => {
      stream.hub.remove(viewer);
      stream.removeViewer();
    });
  }

  private async serveFlv(req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'HTTP-FLV is play-only' });
    if (!isValidStreamPart(app) || !isValidStreamPart(name)) return sendJson(res, 400, { code: 'BAD_REQUEST', message: 'invalid stream name' });
    if (hasRequestBody(req)) return sendJson(res, 400, { code: 'BAD_REQUEST', message: 'HTTP-FLV play requests carry no body' }, { Connection: 'close' });
    const ip = clientIp(req.socket);
    const verdict = this.playAuth.check({ app, name, kind: 'flv' }, parseQuery(query), { ip, via: 'http-flv' });
    if (!verdict.ok) return sendJson(res, 403, { code: 'FORBIDDEN', message: refusalText(verdict) }, { 'Access-Control-Allow-Origin': '*' });
    if (this.admitPull(app, name, ip)) return sendPullRefused(res);
    const stream = await this.join(app, name);
    if (!stream) return sendJson(res, 404, { code: 'STREAM_NOT_FOUND', message: `stream ${app}/${name} is not live` });
    if (req.socket.destroyed) return stream.removeViewer();
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return stream.removeViewer();
    }
    res.flushHeaders(); // the viewer writes its chunks to the socket itself (edge/viewers.ts)
    const viewer = this.reporter.counted(app, name, flvViewer(req, res));
    stream.hub.add(viewer);
    res.once('close', () => {
      stream.hub.remove(viewer);
      stream.removeViewer();
    });
  }

  /** Starts (or joins) the pull; the stream plays here once upstream media flows. */
  private async resolvePlay(app: string, name: string, ip = ''): Promise<PlayDecision> {
    if (this.admitPull(app, name, ip)) return { kind: 'limited', retryAfterS: RETRY_AFTER_S };
    try {
      const stream = this.ensure(app, name);
      await stream.ready;
      stream.enableHls();
      return { kind: 'here' };
    } catch {
      // As in join(): the pull's failure was logged by EdgeStream.
      return { kind: 'not-found' };
    }
  }
}

/** A play refused by PullAdmission: 429 with a code, like a not-found the client may retry later. */
function sendPullRefused(res: ServerResponse): void {
  sendJson(res, 429, { code: 'PULL_RATE_LIMITED', message: 'too many plays of streams not live here: retry later' }, { 'Retry-After': String(RETRY_AFTER_S), 'Access-Control-Allow-Origin': '*' });
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // Bad percent-encoding: kept as is, and isValidStreamPart then refuses it with a 400.
    return s;
  }
}
