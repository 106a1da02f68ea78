/**
 * The node HTTP API of origins and edges, shaped like SRS's HTTP API (`/api/v1/...`) so SRS tooling
 * (consoles, exporters, scripts) reads it. This file builds the SRS stream and client objects and
 * wires the parts: the routes (srs-api-routes.ts), byte counters and rates (node-stats.ts), system
 * figures (system-stats.ts), codec details from the cached sequence headers (protocol/codec-info.ts)
 * and the bearer check of the write route (common/bearer.ts). Field reference: docs/origin-api.md.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, TokenSet } from '../common/bearer';
import { verifyMemberCredential } from '../common/cluster-credentials';
import { CascadeError } from '../common/errors';
import type { Logger } from '../common/logger';
import { audioInfo, videoInfo } from '../protocol/codec-info';
import { clientAddress, isRemote, NO_MEDIA, streamId, type NodeMedia, type NodeSession, type NodeStreamSource } from './node-media';
import { NodeStats } from './node-stats';
import { registerSrsRoutes } from './srs-api-routes';
import { round } from './system-stats';

export { clientAddress, streamId, type NodeMedia, type NodeSession, type NodeStreamSource } from './node-media';
export { NodeStats, RateMeter, type StreamStats } from './node-stats';

export const DEFAULT_VHOST = '__defaultVhost__';

/** The config keys the API reads (origin and edge configs both fit). */
export interface NodeApiConfig {
  id: string;
  host: string;
  rtmpPort: number;
  publicHost?: string;
  /** Bearer tokens for writes; empty or absent: writes answer 403. */
  apiTokens?: readonly string[];
}

export interface NodeApiOptions {
  /** The media server's sessions (clients list, kicks, per-stream players and bytes). Absent: streams only. */
  media?: NodeMedia;
  config: NodeApiConfig;
  /** The live streams of this node. */
  streams: () => Iterable<NodeStreamSource>;
  log?: Logger;
  /** Sampling period of the 30 s rates. Default 5000. */
  sampleEveryMs?: number;
}

/**
 * node-media-server 4.4.3 caches each stream's sequence headers on its BroadcastServer as whole FLV
 * tags (11-byte header, body, 4-byte PreviousTagSize). Not in its typings: read narrowly here.
 * (Candidate for mediaserver/nms-host.ts: `NmsHost.sequenceHeaders(app, name)`.)
 */
interface CachedHeaders {
  flvVideoHeader?: Buffer | null;
  flvAudioHeader?: Buffer | null;
}

function tagBody(tag: Buffer | null | undefined): Buffer | null {
  if (!tag || tag.length < 15) return null;
  const size = tag.readUIntBE(1, 3);
  return tag.length >= 11 + size ? tag.subarray(11, 11 + size) : null;
}

function cachedHeaders(broadcast: unknown): { video: Buffer | null; audio: Buffer | null } {
  const h = broadcast as CachedHeaders | undefined;
  return { video: tagBody(h?.flvVideoHeader), audio: tagBody(h?.flvAudioHeader) };
}

/**
 * preHandler for write routes: 401 without a valid credential, 403 when the node accepts none (no
 * API tokens and no cluster secret). Accepted: one of `tokens`, or, when the node has the cluster
 * secret, an `admin` member credential (discovery's admin actions forward with one; docs/discovery.md).
 */
export function writeAuth(tokens: readonly string[] | undefined, clusterSecret = ''): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const accepted = new TokenSet(tokens);
  return async (req, reply) => {
    if (accepted.size === 0 && clusterSecret === '') {
      throw new CascadeError('FORBIDDEN', 'API writes are disabled on this node: set apiTokens (CASCADE_API_TOKENS) to enable them');
    }
    const given = bearerToken(req.headers.authorization);
    if (accepted.has(given)) return;
    const member = given === null ? null : verifyMemberCredential(clusterSecret, given);
    if (member?.role === 'admin') return;
    if (member) throw new CascadeError('FORBIDDEN', `a ${member.role} credential may not use this route`);
    void reply.header('www-authenticate', 'Bearer');
    throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <token> (one of apiTokens, or an admin credential)');
  };
}

export interface NodeApi {
  readonly stats: NodeStats;
  /** SRS service id of this process (random, changes on restart). */
  readonly serviceId: string;
  streamViews(): Array<Record<string, unknown>>;
  clientViews(): Array<Record<string, unknown>>;
}

export function registerNodeApi(app: FastifyInstance, opts: NodeApiOptions): NodeApi {
  const { config } = opts;
  const nms = opts.media ?? NO_MEDIA;
  const log = opts.log ?? (app.log as unknown as Logger);
  const serviceId = randomBytes(4).toString('hex');
  const pid = String(process.pid);
  const stats = new NodeStats(nms, opts.streams, opts.sampleEveryMs);
  const rtmpBase = `rtmp://${config.publicHost || config.host}:${config.rtmpPort}`;
  app.addHook('onClose', async () => stats.close());

  const envelope = (body: Record<string, unknown>): Record<string, unknown> => ({ code: 0, server: config.id, service: serviceId, pid, ...body });

  const streamView = (src: NodeStreamSource): Record<string, unknown> => {
    const st = stats.streamStats(src);
    const b = nms.broadcast(src.app, src.name);
    const headers = src.sequenceHeaders?.() ?? cachedHeaders(b);
    const publisher = b?.publisher && isRemote(b.publisher) ? b.publisher : null;
    const view: Record<string, unknown> = {
      id: streamId(src.app, src.name),
      name: src.name,
      vhost: DEFAULT_VHOST,
      app: src.app,
      tcUrl: `${rtmpBase}/${src.app}`,
      url: `/${src.app}/${src.name}`,
      live_ms: Date.now(),
      clients: st.clients,
      frames: src.frames ?? 0,
      send_bytes: st.sendBytes,
      recv_bytes: st.recvBytes,
      kbps: { recv_30s: st.recvKbps, send_30s: st.sendKbps },
      publish: publisher ? { active: true, cid: publisher.id } : { active: nms.isLive(src.app, src.name) },
      video: videoInfo(headers.video),
      audio: audioInfo(headers.audio),
    };
    // Cascade extras: what the role reports about the stream (never overriding SRS's fields).
    for (const [k, v] of Object.entries(src)) if (!(k in view) && typeof v !== 'function') view[k] = v;
    if (!('viewers' in view)) view.viewers = st.viewers;
    return view;
  };

  const clientView = (s: NodeSession): Record<string, unknown> => {
    const publish = s.isPublisher;
    const type = publish ? 'fmle-publish' : s.protocol === 'rtmp' ? 'rtmp-play' : s.protocol === 'flv' ? 'flv-play' : `${s.protocol}-play`;
    return {
      id: s.id,
      vhost: DEFAULT_VHOST,
      stream: streamId(s.streamApp, s.streamName),
      ip: clientAddress(s.ip),
      pageUrl: '',
      swfUrl: '',
      tcUrl: `${rtmpBase}/${s.streamApp}`,
      url: `/${s.streamApp}/${s.streamName}`,
      name: s.streamName,
      type,
      publish,
      alive: round((Date.now() - s.createTime) / 1000, 3),
      send_bytes: s.outBytes,
      recv_bytes: s.inBytes,
      kbps: stats.clientKbps(s),
      // Cascade extras
      app: s.streamApp,
      protocol: s.protocol,
    };
  };

  const clients = (): NodeSession[] => [...nms.sessions()].filter((s) => isRemote(s) && s.streamApp !== '' && s.streamName !== '');
  const api: NodeApi = {
    stats,
    serviceId,
    streamViews: () => [...opts.streams()].map(streamView),
    clientViews: () => clients().map(clientView),
  };

  registerSrsRoutes(app, {
    envelope,
    stats,
    streams: opts.streams,
    streamId: (src) => streamId(src.app, src.name),
    streamView,
    clients,
    clientView,
    writeAuth: writeAuth(config.apiTokens),
    log,
  });
  return api;
}
