import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import { NmsHost, BaseSession, isRtmpSession, sendJson } from '../mediaserver/nms-host';
import { createMediaHttpApp } from '../mediaserver/http-app';
import { HlsHub } from '../mediaserver/hls-hub';
import { registerHlsRoutes, PlayDecision } from '../mediaserver/hls-routes';
import { EdgeStream } from './edge-stream';
import { HttpDiscoveryClient } from '../discovery/client';
import type { EdgeConfig } from './config';

/**
 * An edge: viewers play here (RTMP, HTTP-FLV); the first viewer of a stream
 * starts one pull from the origins, round-robin like SRS (`index++ % n`),
 * following RTMP 302 redirects to the owner.
 */
export class EdgeService implements Service {
  readonly nms: NmsHost;
  readonly http: FastifyInstance;
  readonly hls: HlsHub;
  private readonly streams = new Map<string, EdgeStream>();
  private roundRobin = 0;
  private readonly discovery: HttpDiscoveryClient;
  private stopped = false;

  constructor(private readonly config: EdgeConfig, private readonly log: Logger) {
    this.log = log.child({ edge: config.id });
    this.discovery = new HttpDiscoveryClient(config.discoveryUrl, { timeoutMs: 500 });
    this.nms = new NmsHost({ host: config.host, rtmpPort: config.rtmpPort, httpPort: config.httpPort, logger: this.log });
    this.http = createMediaHttpApp(this.nms, this.flvGate, this.log);
    this.http.get('/healthz', async () => ({ status: 'ok', role: 'edge', id: config.id }));
    this.http.get('/api/v1/streams', async () => ({ streams: [...this.streams.values()].map((s) => s.view()) }));
    this.hls = new HlsHub({ targetDurationMs: config.hlsTargetDurationMs, windowSize: config.hlsWindow });
    registerHlsRoutes(this.http, {
      hub: this.hls,
      resolve: (app, name, query) => this.resolvePlay(app, name, query),
      playlistWaitMs: config.hlsPlaylistWaitMs,
      cdnSecret: config.cdnSecret,
    });
    this.nms.on('prePlay', (s) => this.onPlay(s));
    this.nms.on('donePlay', (s) => this.streams.get(`${s.streamApp}/${s.streamName}`)?.removeViewer());
    this.nms.on('prePublish', (s) => {
      // Publishing at the edge arrives with the publish gateway; until then refuse it plainly.
      if (isRtmpSession(s)) {
        this.nms.dropIncomingMedia(s);
        this.nms.sendStatus(s, 'error', 'NetStream.Publish.Rejected', 'this is an edge: publish to an origin');
      }
      s.close();
    });
  }

  async start(): Promise<void> {
    await this.nms.start();
    await this.http.listen({ host: this.config.host, port: this.config.httpPort });
    this.log.info({ rtmp: `rtmp://${this.config.host}:${this.config.rtmpPort}`, http: `http://${this.config.host}:${this.config.httpPort}`, origins: this.config.origins }, 'edge listening');
  }

  async drain(_deadlineMs: number): Promise<void> {}

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of [...this.streams.values()]) s.close('edge stopping');
    await this.nms.stop();
    await this.http.close();
    await this.discovery.close();
  }

  /** The stream object for a path, starting its pull when it is new. */
  ensure(app: string, name: string, query: string): EdgeStream {
    const key = `${app}/${name}`;
    let stream = this.streams.get(key);
    if (!stream || stream.state === 'closed') {
      stream = new EdgeStream(app, name, query, {
        nms: this.nms,
        hls: this.hls,
        upstreams: () => this.upstreams(app, name),
        maxRedirects: this.config.maxRedirects,
        pullTimeoutMs: this.config.pullTimeoutMs,
        closeAfterMs: this.config.closeAfterMs,
        failoverGraceMs: this.config.failoverGraceMs,
        log: this.log,
        onClosed: (s) => {
          if (this.streams.get(key) === s) this.streams.delete(key);
        },
      });
      this.streams.set(key, stream);
    }
    return stream;
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
    const owner = await this.discovery.lookup(app, name).catch(() => null);
    return owner ? [owner.origin.rtmp, ...order.filter((o) => o !== owner.origin.rtmp)] : order;
  }

  private onPlay(session: BaseSession): void {
    const query = new URLSearchParams(session.streamQuery as Record<string, string>).toString();
    const stream = this.ensure(session.streamApp, session.streamName, query ? `?${query}` : '');
    stream.addViewer();
    if (!isRtmpSession(session)) return;
    this.nms.dropIncomingMedia(session);
    stream.ready.catch(() => {
      this.nms.sendStatus(session, 'error', 'NetStream.Play.StreamNotFound', `${session.streamApp}/${session.streamName} is not live`);
      session.close();
    });
  }

  /** Starts (or joins) the pull; the stream plays here once upstream media flows. */
  private async resolvePlay(app: string, name: string, query: string): Promise<PlayDecision> {
    try {
      await this.ensure(app, name, query).ready;
      return { kind: 'here' };
    } catch {
      return { kind: 'not-found' };
    }
  }

  private readonly flvGate = async (_req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> => {
    if ((await this.resolvePlay(app, name, query)).kind === 'here') return true;
    sendJson(res, 404, { code: 'STREAM_NOT_FOUND', message: `stream ${app}/${name} is not live` });
    return false;
  };
}
