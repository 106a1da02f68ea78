import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, TokenSet } from '../common/bearer';
import { isValidStreamPart } from '../common/stream-name';
import { clientIp } from '../common/limits';
import { playFileOf, refusalText, withSegmentProof, type PlayPath, type PlayVerdict } from '../common/play-auth';
import { parseQuery, type StreamQuery } from '../common/signed-url';
import type { HlsFeed, HlsHub } from './hls-hub';

/** Where a play request for a stream should be served. */
export type PlayDecision =
  | { kind: 'here' }
  | { kind: 'redirect'; httpBase: string }
  | { kind: 'not-found' }
  | { kind: 'unavailable' }
  /** An edge refused to start a pull for this client now (docs/hardening.md, pull admission). */
  | { kind: 'limited'; retryAfterS: number };

export interface HlsRouteOptions {
  hub: HlsHub;
  /** Decides where app/name is served; at an edge this also starts the pull (`ip`: the client's). */
  resolve: (app: string, name: string, query: string, ip: string) => Promise<PlayDecision>;
  /** How long a playlist request of a cold stream waits for its first segment. */
  playlistWaitMs: number;
  /** When set, requests must carry `Authorization: Bearer <secret>` (deployments behind a CDN). */
  cdnSecret: string;
  /**
   * Play admission (common/play-auth.ts) of the playlist or segment the route would serve, decided
   * on the router's decoded path. A playlist admitted by a proof (signature, credential) is served
   * with that proof on every segment URI, so players fetch segments with it. Absent: open.
   */
  authorize?: (path: PlayPath, query: StreamQuery, ip: string) => PlayVerdict;
}

/** A stream whose codec HLS-TS does not carry here (AV1, VP9, Opus...): a clear error, logged once per stream. */
function codecNotServed(req: FastifyRequest, reply: FastifyReply, feed: HlsFeed, stream: string): FastifyReply {
  const codecs = feed.unservedCodecs.join(', ');
  if (!feed.unservedLogged) {
    feed.unservedLogged = true;
    req.log.warn({ stream, codecs }, 'HLS playlist refused: codec not served as HLS (logged once per stream)');
  }
  return reply.status(415).send({
    code: 'CODEC_NOT_SERVED_AS_HLS',
    message: `${stream} carries ${codecs}, which HLS (MPEG-TS) is not served with here; play it over RTMP or HTTP-FLV`,
  });
}

/**
 * `GET /:app/:name.m3u8` and `GET /:app/:name-:seq.ts` (RFC 8216). Playlists are
 * short-lived in caches (max-age=1), segments immutable; CORS for browser players.
 */
export function registerHlsRoutes(app: FastifyInstance, opts: HlsRouteOptions): void {
  const notFound = (reply: FastifyReply, what: string) => reply.status(404).send({ code: 'STREAM_NOT_FOUND', message: `${what} is not live` });
  const limited = (reply: FastifyReply, retryAfterS: number) =>
    reply.status(429).header('Retry-After', String(retryAfterS)).send({ code: 'PULL_RATE_LIMITED', message: 'too many plays of streams not live here: retry later' });

  const cdnSecret = new TokenSet([opts.cdnSecret]);
  const guard = (req: FastifyRequest, reply: FastifyReply): boolean => {
    reply.header('Access-Control-Allow-Origin', '*');
    if (cdnSecret.size === 0) return true;
    if (cdnSecret.has(bearerToken(req.headers.authorization))) return true;
    void reply.status(401).header('WWW-Authenticate', 'Bearer').send({ code: 'UNAUTHORIZED', message: 'HLS requires the CDN bearer secret' });
    return false;
  };

  app.get<{ Params: { app: string; file: string } }>('/:app/:file', async (req, reply) => {
    const { app: appName, file } = req.params;
    if (!guard(req, reply)) return reply;
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    // Decode, then decide: the router decoded app and file; the check sees what would be served.
    const path = playFileOf(appName, file);
    if (!path || path.kind === 'flv') return reply.status(404).send({ code: 'NOT_FOUND', message: `no route GET /${appName}/${file}` });
    const name = path.name;
    if (!isValidStreamPart(appName) || !isValidStreamPart(name)) return reply.status(400).send({ code: 'BAD_REQUEST', message: 'invalid stream name' });
    const verdict: PlayVerdict = opts.authorize?.(path, parseQuery(query), req.ip) ?? { ok: true, by: 'open', proof: '' };
    if (!verdict.ok) return reply.status(403).send({ code: 'FORBIDDEN', message: refusalText(verdict) });
    if (path.kind === 'playlist') {
      const decision = await opts.resolve(appName, name, query, clientIp(req.socket));
      if (decision.kind === 'redirect') return reply.redirect(`${decision.httpBase}/${appName}/${file}${query}`, 302);
      if (decision.kind === 'limited') return limited(reply, decision.retryAfterS);
      if (decision.kind === 'unavailable') return reply.status(503).send({ code: 'DISCOVERY_UNAVAILABLE', message: 'cannot locate the stream now; retry' });
      const feed = opts.hub.get(appName, name);
      if (decision.kind === 'not-found' || !feed) return notFound(reply, `${appName}/${name}`);
      feed.lastRequestAt = Date.now();
      if (!(await feed.waitFirstSegment(opts.playlistWaitMs))) return notFound(reply, `${appName}/${name} (no segment yet)`);
      if (feed.unservedCodecs.length > 0) return codecNotServed(req, reply, feed, `${appName}/${name}`);
      const body = withSegmentProof(feed.segmenter.playlist(), verdict.proof);
      const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
      reply
        .header('Content-Type', 'application/vnd.apple.mpegurl')
        .header('Cache-Control', `max-age=${Math.max(1, Math.floor(opts.hub.targetDurationMs / 2000))}`)
        .header('ETag', etag);
      if (req.headers['if-none-match'] === etag) return reply.status(304).send();
      return reply.send(body);
    }
    const feed = opts.hub.get(appName, name);
    const data = feed?.segmenter.segmentByUri(file);
    if (!feed || !data) {
      const decision = feed ? ({ kind: 'here' } as const) : await opts.resolve(appName, name, query, clientIp(req.socket));
      if (decision.kind === 'redirect') return reply.redirect(`${decision.httpBase}/${appName}/${file}${query}`, 302);
      if (decision.kind === 'limited') return limited(reply, decision.retryAfterS);
      return notFound(reply, `segment ${file}`);
    }
    feed.lastRequestAt = Date.now();
    return reply
      .header('Content-Type', 'video/mp2t')
      .header('Cache-Control', 'public, max-age=3600, immutable')
      .header('ETag', `"${file.slice(0, -3)}-${data.length}"`)
      .send(data);
  });
}
