/**
 * Play routing at an origin: a player of a stream live here is admitted (play signature or an edge's
 * credential, then `on_play`, media held while it decides); a stream owned by another origin gets the
 * SRS RTMP 302 (docs/design.md section 2) or an HTTP 302; anything else StreamNotFound / 404 at once
 * instead of node-media-server's endless wait. It keeps the admitted players for their `on_stop`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../common/http-reply';
import type { Logger } from '../common/logger';
import { refusalText, type PlayCheckContext, type PlayPath, type PlayVerdict } from '../common/play-auth';
import { parseQuery, type StreamQuery } from '../common/signed-url';
import type { StreamOwnerView } from '../discovery/types';
import type { PlayDecision } from '../mediaserver/hls-routes';
import type { RejectionReason } from '../mediaserver/metrics';
import { clientAddress } from '../mediaserver/node-api';
import { hookClientOf, queryParam, type HookPort } from './hooks';
import type { OriginMedia, OriginSession } from './media-port';
import type { HookClient } from './webhooks';

export interface PlayRouterOptions {
  originId: string;
  /** This origin's public bases: `rtmp://host:port`, `http://host:port`. */
  rtmpUrl: string;
  httpUrl: string;
  /** How long a redirected RTMP player may stay before we close it. */
  redirectWaitMs: number;
  media: OriginMedia;
  hooks: HookPort;
  /** Play admission (common/play-auth.ts). */
  authorize: (path: PlayPath, query: StreamQuery, ctx: PlayCheckContext) => PlayVerdict;
  /** The stream's owner in discovery, or null; throws when discovery cannot be asked. */
  lookup: (app: string, name: string) => Promise<StreamOwnerView | null>;
  /** A redirect was sent (metrics). */
  redirected: () => void;
  /** A play was refused (metrics). */
  reject: (reason: RejectionReason) => void;
  log: Logger;
}

export class PlayRouter {
  /** Admitted players by session id (their on_stop goes out when they leave). */
  private readonly viewers = new Map<string, HookClient>();
  /** HTTP-FLV requests the gate admitted through on_play: the hook client, for on_stop. */
  private readonly flvClients = new WeakMap<IncomingMessage, HookClient>();
  /** Sessions that ended (a pending hook answer for them is ignored). */
  private readonly gone = new WeakSet<object>();

  constructor(private readonly opts: PlayRouterOptions) {}

  get size(): number {
    return this.viewers.size;
  }

  /** prePlay of an RTMP player. */
  onRtmpPlay(session: OriginSession): void {
    const { media } = this.opts;
    media.dropIncomingMedia(session);
    const { streamApp: app, streamName: name } = session;
    const verdict = this.opts.authorize({ app, name, kind: 'rtmp' }, session.streamQuery, { ip: clientAddress(session.ip), via: 'rtmp', session: session.id });
    if (!verdict.ok) {
      media.holdViewer(session).drop(); // NMS would send the cached GOP right after this handler
      media.sendStatus(session, 'error', 'NetStream.Play.Unauthorized', refusalText(verdict));
      session.close();
      return;
    }
    if (media.isLive(app, name)) return this.admitViewer(session, hookClientOf(session, this.opts.rtmpUrl));
    void this.redirectOrNotFound(session, app, name);
  }

  /** prePlay of an HTTP-FLV player: the gate checked it; remember it for on_stop. */
  onFlvPlay(session: Pick<OriginSession, 'id' | 'ip' | 'streamApp' | 'streamName' | 'streamQuery'> & { req?: IncomingMessage }): void {
    const client = session.req ? this.flvClients.get(session.req) : undefined;
    this.viewers.set(session.id, client ?? hookClientOf(session, this.opts.rtmpUrl));
  }

  /** donePlay: on_stop for an admitted player. */
  onViewerDone(session: { id: string }): void {
    this.gone.add(session);
    const client = this.viewers.get(session.id);
    if (!client) return;
    this.viewers.delete(session.id);
    this.opts.hooks.notify('on_stop', client);
  }

  /** Shutdown: every admitted player's on_stop goes out now; later session events find nothing. */
  forgetAll(): void {
    for (const c of this.viewers.values()) this.opts.hooks.notify('on_stop', c);
    this.viewers.clear();
  }

  /** Where app/name plays: here, at the owner (302), or nowhere (404) — never an endless wait. */
  async resolve(app: string, name: string): Promise<PlayDecision> {
    const { media } = this.opts;
    if (media.isLive(app, name)) return { kind: 'here' };
    let owner;
    try {
      owner = await this.opts.lookup(app, name);
    } catch (err) {
      this.opts.log.debug({ stream: `${app}/${name}`, err: String(err) }, 'lookup failed: the play is answered as unavailable');
      return { kind: 'unavailable' };
    }
    if (media.isLive(app, name)) return { kind: 'here' };
    if (owner && owner.origin.id !== this.opts.originId) return { kind: 'redirect', httpBase: owner.origin.http };
    return { kind: 'not-found' };
  }

  /** HTTP-FLV: signature, then live here → on_play → NMS; owned elsewhere → 302; otherwise 404 (503 if discovery is down). */
  readonly flvGate = async (req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> => {
    const ip = req.socket.remoteAddress ?? '';
    const verdict = this.opts.authorize({ app, name, kind: 'flv' }, parseQuery(query), { ip, via: 'http-flv' });
    if (!verdict.ok) {
      sendJson(res, 403, { code: 'FORBIDDEN', message: refusalText(verdict) });
      return false;
    }
    const decision = await this.resolve(app, name);
    switch (decision.kind) {
      case 'here':
        return this.flvOnPlay(req, res, app, name, query);
      case 'redirect':
        this.opts.redirected();
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

  /** A player of a stream live here: on_play decides (media held meanwhile), then on_stop when it leaves. */
  private admitViewer(session: OriginSession, client: HookClient): void {
    const { media, hooks } = this.opts;
    if (!hooks.enabled('on_play')) {
      this.viewers.set(session.id, client);
      return;
    }
    const log = this.opts.log.child({ stream: `${client.app}/${client.stream}`, session: session.id });
    const hold = media.holdViewer(session, () => session.close());
    void hooks.authorize('on_play', client).then((verdict) => {
      if (this.gone.has(session) || session.socket.destroyed) return hold.drop();
      if (!verdict.allowed) {
        hold.drop();
        const denied = verdict.outcome === 'denied';
        this.opts.reject(denied ? 'play_hook_denied' : 'play_hook_unavailable');
        media.sendStatus(session, 'error', denied ? 'NetStream.Play.Unauthorized' : 'NetStream.Play.Failed', denied ? 'play denied by the on_play hook' : 'play authorization unavailable, try again');
        log.warn({ ip: client.ip, detail: verdict.detail }, denied ? 'play refused: denied by on_play' : 'play refused: on_play unavailable (fail-closed)');
        session.close();
        return;
      }
      this.viewers.set(session.id, client);
      hold.release();
    });
  }

  /** RTMP play of a stream not live here: SRS 302 to the owner, or StreamNotFound and close. */
  private async redirectOrNotFound(session: OriginSession, app: string, name: string): Promise<void> {
    const { media } = this.opts;
    const log = this.opts.log.child({ stream: `${app}/${name}`, session: session.id });
    const owner = await this.opts.lookup(app, name).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'lookup failed');
      return null;
    });
    if (media.isLive(app, name)) return this.admitViewer(session, hookClientOf(session, this.opts.rtmpUrl)); // published while we looked
    if (owner && owner.origin.id !== this.opts.originId) {
      const query = queryParam(session.streamQuery);
      const redirect = `${owner.origin.rtmp}/${app}`;
      const redirect2 = `${redirect}/${name}${query}`;
      media.sendCommandOnStream0(session, 'onStatus', {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description: 'RTMP 302 Redirect',
        ex: { code: 302, redirect, redirect2 },
      });
      this.opts.redirected();
      log.info({ to: owner.origin.id }, 'rtmp 302 redirect sent');
      const timer = setTimeout(() => session.close(), this.opts.redirectWaitMs);
      session.socket.once('close', () => clearTimeout(timer));
      return;
    }
    media.sendStatus(session, 'error', 'NetStream.Play.StreamNotFound', `${app}/${name} is not live`);
    log.info('play of unknown stream: StreamNotFound');
    session.close();
  }

  /** on_play for an HTTP-FLV player, before NMS sees it: a refusal is a real 403 (or 503). */
  private async flvOnPlay(req: IncomingMessage, res: ServerResponse, app: string, name: string, query: string): Promise<boolean> {
    const { hooks } = this.opts;
    if (!hooks.enabled('on_play')) return true;
    const client: HookClient = {
      clientId: `flv-${randomBytes(6).toString('hex')}`,
      ip: req.socket.remoteAddress ?? '',
      app,
      stream: name,
      param: queryParam(parseQuery(query)),
      tcUrl: `${this.opts.httpUrl}/${app}`,
    };
    const verdict = await hooks.authorize('on_play', client);
    if (req.socket.destroyed) return false;
    if (!verdict.allowed) {
      const denied = verdict.outcome === 'denied';
      this.opts.reject(denied ? 'play_hook_denied' : 'play_hook_unavailable');
      this.opts.log.warn({ stream: `${app}/${name}`, via: 'http-flv', ip: client.ip, detail: verdict.detail }, denied ? 'play refused: denied by on_play' : 'play refused: on_play unavailable (fail-closed)');
      if (denied) sendJson(res, 403, { code: 'FORBIDDEN', message: 'play denied by the on_play hook' });
      else sendJson(res, 503, { code: 'HOOK_UNAVAILABLE', message: 'play authorization unavailable, try again' });
      return false;
    }
    this.flvClients.set(req, client);
    return true;
  }
}
