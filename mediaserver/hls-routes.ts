import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, TokenSet } from '../common/bearer';
import { isValidStreamPart } from '../common/stream-name';
import { clientIp } from '../common/limits';
import { playFileOf, refusalText, withSegmentProof, type PlayPath, type PlayVerdict } from '../common/play-auth';
import { parseQuery, type StreamQuery } from '../common/signed-url';
import { evaluateBlocking, parseDirectives } from '../protocol/hls/blocking';
import { advancePartLimit } from '../protocol/hls/parts';
import { playlistEtag } from '../protocol/hls/playlist';
import type { WaitOutcome } from '../protocol/hls/blocking';
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
 * How long a blocking request waits: three target durations (RFC 8216bis 6.2.5.2 asks servers to
 * answer within that), then 503.
 */
function blockingTimeoutMs(feed: HlsFeed): number {
  return 3 * feed.segmenter.targetDuration * 1000;
}

/**
 * `GET /:app/:name.m3u8`, `GET /:app/:name-:seq.ts` (RFC 8216) and, with LL-HLS,
 * `GET /:app/:name-part:n.ts` (docs/hls.md). Playlists are short-lived in caches (max-age=1),
 * responses to blocking reloads cacheable for the playlist window, segments and parts immutable;
 * CORS for browser players.
 */
export function registerHlsRoutes(app: FastifyInstance, opts: HlsRouteOptions): void {
  const notFound = (reply: FastifyReply, what: string) => reply.status(404).send({ code: 'STREAM_NOT_FOUND', message: `${what} is not live` });
  const limited = (reply: FastifyReply, retryAfterS: number) =>
    reply.status(429).header('Retry-After', String(retryAfterS)).send({ code: 'PULL_RATE_LIMITED', message: 'too many plays of streams not live here: retry later' });

  const cdnSecret = new TokenSet([opts.cdnSecret]);
  /**
   * Holds a request until `ready()` (bounded by the blocked-request limits and the timeout); the
   * slot is given back when the wait ends, however it ends, and a client that goes away ends it.
   */
  const block = async (key: string, feed: HlsFeed, reply: FastifyReply, ready: () => boolean): Promise<WaitOutcome | 'limited'> => {
    const release = opts.hub.blocked.acquire(key);
    if (!release) return 'limited';
    const ac = new AbortController();
    const onClose = () => ac.abort();
    reply.raw.once('close', onClose);
    // Gone already (while the playlist waited for its first segment): nothing to wait for.
    if (!reply.raw.socket || reply.raw.socket.destroyed) ac.abort();
    try {
      return await feed.waitFor(ready, blockingTimeoutMs(feed), ac.signal);
    } finally {
      reply.raw.off('close', onClose);
      release();
    }
  };
  const blockFailed = (reply: FastifyReply, outcome: WaitOutcome | 'limited', what: string) => {
    // What failed now may succeed a moment later: no cache keeps these answers.
    reply.header('Cache-Control', 'no-store');
    if (outcome === 'limited') {
      return reply.status(503).header('Retry-After', '1').send({ code: 'HLS_TOO_MANY_BLOCKED', message: 'too many HLS requests are waiting: retry later' });
    }
    // 'aborted': the client is gone; the answer goes nowhere.
    return reply.status(503).send({ code: 'HLS_BLOCKING_TIMEOUT', message: `${what} did not appear in time` });
  };

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
      const directives = parseDirectives(parseQuery(query));
      if ('code' in directives) {
        req.log.info({ stream: `${appName}/${name}`, code: directives.code }, `bad HLS request: ${directives.message}`);
        return reply.status(400).send(directives);
      }
      const decision = await opts.resolve(appName, name, query, clientIp(req.socket));
      if (decision.kind === 'redirect') return reply.redirect(`${decision.httpBase}/${appName}/${file}${query}`, 302);
      if (decision.kind === 'limited') return limited(reply, decision.retryAfterS);
      if (decision.kind === 'unavailable') return reply.status(503).send({ code: 'DISCOVERY_UNAVAILABLE', message: 'cannot locate the stream now; retry' });
      const feed = opts.hub.get(appName, name);
      if (decision.kind === 'not-found' || !feed) return notFound(reply, `${appName}/${name}`);
      // On demand (origins): the first playlist request starts segmenting the stream.
      opts.hub.touch(appName, name, feed, true);
      if (!(await feed.waitFirstSegment(opts.playlistWaitMs))) return notFound(reply, `${appName}/${name} (no segment yet)`);
      if (feed.unservedCodecs.length > 0) return codecNotServed(req, reply, feed, `${appName}/${name}`);
      const seg = feed.segmenter;
      // Delivery directives mean something only on an LL-HLS playlist; elsewhere they are ignored (6.2.5).
      const blocking = seg.lowLatency && directives.msn !== undefined;
      if (blocking) {
        const limit = advancePartLimit(seg.partTargetMs);
        const state = evaluateBlocking(seg.position(), directives, limit);
        if (state === 'too-far') {
          const pos = seg.position();
          req.log.info({ stream: `${appName}/${name}`, msn: directives.msn, part: directives.part, lastMsn: pos.lastMsn }, 'bad HLS request: blocking reload too far ahead');
          return reply.status(400).header('Cache-Control', 'no-store').send({
            code: 'HLS_TOO_FAR_AHEAD',
            message: `_HLS_msn=${directives.msn}${directives.part !== undefined ? ` _HLS_part=${directives.part}` : ''} is too far ahead of the last segment ${pos.lastMsn} (part ${pos.openParts} of ${pos.openMsn} is being written)`,
          });
        }
        if (state === 'wait') {
          const outcome = await block(`${appName}/${name}`, feed, reply, () => evaluateBlocking(seg.position(), directives, limit) !== 'wait');
          if (outcome !== 'ready') return blockFailed(reply, outcome, `segment ${directives.msn}${directives.part !== undefined ? ` part ${directives.part}` : ''}`);
        }
      }
      // The unsigned text and its ETag are rendered once per change; a viewer's proof makes its own.
      const base = seg.renderedPlaylist({ skip: directives.skip });
      const body = verdict.proof ? withSegmentProof(base.text, verdict.proof) : base.text;
      const etag = verdict.proof ? playlistEtag(body) : base.etag;
      // A response to a blocking reload stays right for whoever asks the same URL while its segments
      // are listed (it shows the playlist at or after that point): a CDN may keep it for a while.
      const maxAge = blocking ? Math.min(6, opts.hub.windowSize) * seg.targetDuration : Math.max(1, Math.floor(opts.hub.targetDurationMs / 2000));
      reply
        .header('Content-Type', 'application/vnd.apple.mpegurl')
        .header('Cache-Control', `max-age=${maxAge}`)
        .header('ETag', etag);
      if (req.headers['if-none-match'] === etag) return reply.status(304).send();
      return reply.send(body);
    }
    const feed = opts.hub.get(appName, name);
    let data = feed?.segmenter.segmentByUri(file);
    if (feed && !data && feed.segmenter.partState(file) !== 'gone') {
      // LL-HLS part: served once complete; the part being written (the preload hint) is waited for.
      const seg = feed.segmenter;
      if (seg.partState(file) === 'pending') {
        const outcome = await block(`${appName}/${name}`, feed, reply, () => seg.partState(file) !== 'pending');
        if (outcome !== 'ready') return blockFailed(reply, outcome, `part ${file}`);
      }
      data = seg.partByUri(file);
    }
    if (!feed || !data) {
      const decision = feed ? ({ kind: 'here' } as const) : await opts.resolve(appName, name, query, clientIp(req.socket));
      if (decision.kind === 'redirect') return reply.redirect(`${decision.httpBase}/${appName}/${file}${query}`, 302);
      if (decision.kind === 'limited') return limited(reply, decision.retryAfterS);
      return notFound(reply, `segment ${file}`);
    }
    opts.hub.touch(appName, name, feed, false);
    return reply
      .header('Content-Type', 'video/mp2t')
      .header('Cache-Control', 'public, max-age=3600, immutable')
      .header('ETag', `"${file.slice(0, -3)}-${data.length}"`)
      .send(data);
  });
}
