import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import { StreamOwnedElsewhereError, LeaseLostError } from '../common/errors';
import { HttpDiscoveryClient } from '../discovery/client';
import { NmsHost, BaseSession, isRtmpSession, sendJson, RtmpSession } from '../mediaserver/nms-host';
import { createMediaHttpApp } from '../mediaserver/http-app';
import { HlsHub, HlsFeed } from '../mediaserver/hls-hub';
import { registerHlsRoutes, PlayDecision } from '../mediaserver/hls-routes';
import type { OriginConfig } from './config';

interface HeldLease {
  app: string;
  name: string;
  token: number;
  session: BaseSession;
}

/**
 * An origin: node-media-server takes RTMP publishes; each published stream is
 * claimed in discovery under a fenced lease that we keep renewing. Players of a
 * stream owned elsewhere get the SRS RTMP 302 (or HTTP 302); unknown streams get
 * StreamNotFound / 404 at once instead of NMS's endless wait.
 */
export class OriginService implements Service {
  readonly nms: NmsHost;
  readonly http: FastifyInstance;
  readonly hls: HlsHub;
  private readonly feeds = new Map<string, HlsFeed>();
  private readonly discovery: HttpDiscoveryClient;
  private readonly leases = new Map<string, HeldLease>();
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;
  private registered = false;

  constructor(private readonly config: OriginConfig, private readonly log: Logger) {
    this.log = log.child({ origin: config.id });
    this.discovery = new HttpDiscoveryClient(config.discoveryUrl, { token: config.discoveryToken || undefined });
    this.nms = new NmsHost({ host: config.host, rtmpPort: config.rtmpPort, httpPort: config.httpPort, logger: this.log });
    this.http = createMediaHttpApp(this.nms, this.flvGate, this.log);
    this.http.get('/healthz', async () => ({ status: 'ok', role: 'origin', id: config.id, registered: this.registered }));
    this.http.get('/api/v1/streams', async () => ({ streams: this.streamList() }));
    this.hls = new HlsHub({ targetDurationMs: config.hlsTargetDurationMs, windowSize: config.hlsWindow });
    registerHlsRoutes(this.http, {
      hub: this.hls,
      resolve: (app, name) => this.resolvePlay(app, name),
      playlistWaitMs: config.hlsPlaylistWaitMs,
      cdnSecret: config.cdnSecret,
    });
    this.nms.on('prePublish', (s) => this.onPublish(s));
    this.nms.on('donePublish', (s) => this.onUnpublish(s));
    this.nms.on('prePlay', (s) => this.onPlay(s));
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
    await this.tick();
    this.heartbeat = setInterval(() => void this.tick(), this.config.heartbeatMs);
    this.log.info({ rtmp: this.rtmpUrl, http: this.httpUrl }, 'origin listening');
  }

  async drain(_deadlineMs: number): Promise<void> {
    // Publisher migration on drain comes with the overload work; for now stop admitting.
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    await Promise.allSettled([...this.leases.values()].map((l) => this.discovery.releaseStream(l.app, l.name, this.config.id, l.token)));
    this.leases.clear();
    await this.discovery.deregisterOrigin(this.config.id).catch(() => undefined);
    await this.nms.stop();
    await this.http.close();
  }

  /** Heartbeat: (re-)register with current load, then renew every lease. */
  private async tick(): Promise<void> {
    try {
      await this.discovery.registerOrigin(this.config.id, {
        rtmp: this.rtmpUrl,
        http: this.httpUrl,
        region: this.config.region || undefined,
        state: 'active',
        load: { publishers: this.leases.size, viewers: this.viewerCount() },
      });
      if (!this.registered) this.log.info({ discovery: this.config.discoveryUrl }, 'registered in discovery');
      this.registered = true;
    } catch (err) {
      if (this.registered) this.log.warn({ err: String(err) }, 'discovery heartbeat failed; still serving owned streams');
      this.registered = false;
      return;
    }
    for (const [key, lease] of this.leases) {
      try {
        await this.discovery.renewStream(lease.app, lease.name, this.config.id, lease.token);
      } catch (err) {
        if (err instanceof LeaseLostError) {
          this.log.warn({ stream: key, token: lease.token }, 'lease lost (fenced by a newer owner): stop serving the stream');
          this.leases.delete(key);
          lease.session.close();
        } else {
          this.log.warn({ stream: key, err: String(err) }, 'lease renew failed; retrying');
        }
      }
    }
  }

  private onPublish(session: BaseSession): void {
    if (!isRtmpSession(session)) return session.close();
    const { streamApp: app, streamName: name } = session;
    const log = this.log.child({ stream: `${app}/${name}`, session: session.id });
    const broadcast = session.broadcast;
    // NMS sent Publish.Start already; a second publisher of a live name must not touch the stream.
    if (broadcast.publisher !== null && broadcast.publisher !== session) {
      this.nms.dropIncomingMedia(session);
      this.nms.sendStatus(session, 'error', 'NetStream.Publish.BadName', `${app}/${name} is already being published`);
      log.warn('duplicate publisher refused');
      session.close();
      return;
    }
    broadcast.publishGraceMs = 0;
    const feed = this.hls.open(app, name);
    this.feeds.set(session.id, feed);
    this.nms.tapPublisher(session, (msg) => feed.push(msg));
    this.discovery.claimStream(app, name, this.config.id).then(
      (lease) => {
        this.leases.set(`${app}/${name}`, { app, name, token: lease.token, session });
        log.info({ token: lease.token }, 'stream claimed');
      },
      (err: unknown) => {
        if (err instanceof StreamOwnedElsewhereError) {
          this.nms.dropIncomingMedia(session);
          const owner = (err.details?.owner as { origin?: { id?: string } } | undefined)?.origin?.id ?? 'another origin';
          this.nms.sendStatus(session, 'error', 'NetStream.Publish.BadName', `${app}/${name} is already live on ${owner}`);
          log.warn({ owner }, 'publish refused: stream owned by another origin');
          session.close();
        } else {
          this.nms.dropIncomingMedia(session);
          this.nms.sendStatus(session, 'error', 'NetStream.Publish.Rejected', 'discovery unavailable, try again');
          log.error({ err: String(err) }, 'publish refused: cannot claim the stream');
          session.close();
        }
      },
    );
  }

  private onUnpublish(session: BaseSession): void {
    const feed = this.feeds.get(session.id);
    if (feed) {
      this.feeds.delete(session.id);
      this.hls.close(session.streamApp, session.streamName, feed);
    }
    const key = `${session.streamApp}/${session.streamName}`;
    const lease = this.leases.get(key);
    if (!lease || lease.session !== session) return;
    this.leases.delete(key);
    this.discovery.releaseStream(lease.app, lease.name, this.config.id, lease.token).then(
      () => this.log.info({ stream: key }, 'stream released'),
      (err: unknown) => this.log.warn({ stream: key, err: String(err) }, 'release failed; the lease will expire'),
    );
  }

  private onPlay(session: BaseSession): void {
    if (!isRtmpSession(session)) return;
    this.nms.dropIncomingMedia(session);
    const { streamApp: app, streamName: name } = session;
    if (this.nms.isLive(app, name)) return;
    void this.redirectOrNotFound(session, app, name);
  }

  /** RTMP play of a stream not live here: SRS 302 to the owner, or StreamNotFound and close. */
  private async redirectOrNotFound(session: RtmpSession, app: string, name: string): Promise<void> {
    const log = this.log.child({ stream: `${app}/${name}`, session: session.id });
    const owner = await this.discovery.lookup(app, name).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'lookup failed');
      return null;
    });
    if (this.nms.isLive(app, name)) return; // published while we looked
    if (owner && owner.origin.id !== this.config.id) {
      const query = new URLSearchParams(session.streamQuery as Record<string, string>).toString();
      const redirect = `${owner.origin.rtmp}/${app}`;
      const redirect2 = `${redirect}/${name}${query ? `?${query}` : ''}`;
      this.nms.sendCommandOnStream0(session, 'onStatus', {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description: 'RTMP 302 Redirect',
        ex: { code: 302, redirect, redirect2 },
      });
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

  /** HTTP-FLV: live here → NMS; owned elsewhere → 302; otherwise 404 (503 if discovery is down). */
  private readonly flvGate = async (_req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> => {
    const decision = await this.resolvePlay(app, name);
    switch (decision.kind) {
      case 'here':
        return true;
      case 'redirect':
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

  private viewerCount(): number {
    let n = 0;
    for (const s of this.nms.sessions()) if (!s.isPublisher && s.ip !== '') n++;
    return n;
  }

  private streamList(): Array<{ app: string; name: string; token: number; viewers: number }> {
    return [...this.leases.values()].map((l) => ({
      app: l.app,
      name: l.name,
      token: l.token,
      viewers: this.nms.broadcast(l.app, l.name)?.subscribers.size ?? 0,
    }));
  }
}
