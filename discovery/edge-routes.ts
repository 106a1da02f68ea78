import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { BadRequestError } from '../common/errors';
import type { HostAllowlist } from '../common/host-allowlist';
import { errors, type RouteContext } from './route-context';
import { normalizeBaseUrl } from './http';
import * as S from './schemas';
import type { EdgeRecord, EdgeRecordInput } from './store/types';
import type { EdgeHeartbeatRequest, EdgeHeartbeatResult, EdgeView } from './types';

/**
 * The store input of an edge heartbeat: URLs normalized and their hosts checked against `edgeHosts`
 * (the console links players there), load.streams counted. Duplicate `app/name` entries are refused:
 * an edge reports each stream once.
 */
export function edgeInput(id: string, body: EdgeHeartbeatRequest, allowlist: HostAllowlist): EdgeRecordInput {
  const urls: Partial<Record<'rtmp' | 'http', string>> = {};
  for (const field of ['rtmp', 'http'] as const) {
    const text = body[field];
    if (text === undefined) continue;
    const url = normalizeBaseUrl(text, field);
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (!allowlist.allows(host)) throw new BadRequestError(`${field} host ${host.slice(0, 255)} is not in discovery's edgeHosts (${allowlist.entries.join(', ')})`);
    urls[field] = url;
  }
  const seen = new Set<string>();
  for (const s of body.streams) {
    const key = `${s.app}/${s.name}`;
    if (seen.has(key)) throw new BadRequestError(`stream ${key} is listed twice`);
    seen.add(key);
  }
  return {
    id,
    ...urls,
    ...(body.region !== undefined ? { region: body.region } : {}),
    state: body.state ?? 'active',
    load: { viewers: body.load.viewers, egressBps: body.load.egressBps, ...(body.load.cpu !== undefined ? { cpu: body.load.cpu } : {}), streams: body.streams.length },
    streams: body.streams.map((s) => ({
      app: s.app,
      name: s.name,
      viewers: { rtmp: s.viewers.rtmp, flv: s.viewers.flv, hls: s.viewers.hls },
      egressBps: s.egressBps,
      ...(s.upstream !== undefined ? { upstream: s.upstream } : {}),
      state: s.state,
    })),
  };
}

/** The wire view of a stored edge (without its expiry). */
export function edgeView(e: EdgeRecord): EdgeView {
  const { expiresAt: _expiresAt, ...view } = e;
  void _expiresAt;
  return view;
}

/**
 * Edge registry (docs/discovery.md "Edge registry"): edges heartbeat their viewers per stream and
 * protocol so `GET /v1/cluster` can say who watches what, where. An edge writes as itself only
 * (its member credential) or an admin for it; reads follow the read rules.
 */
export const edgeRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, auth, read, readDoc, writeDoc, cachedRead, edgeAllowlist } = ctx;
  const edgeWrite = { onRequest: auth.edgeWrite };

  app.post<{ Params: Static<typeof S.EdgeParams>; Body: Static<typeof S.EdgeHeartbeatBody> }>(
    '/v1/edges/:id/heartbeat',
    {
      ...edgeWrite,
      // Up to 2000 streams of ~150 bytes each.
      bodyLimit: Math.max(config.bodyLimit, 1024 * 1024),
      schema: {
        tags: ['edges'],
        summary: `Edge heartbeat: URLs, load and every stream it serves (viewers by protocol, egress, upstream; at most ${S.MAX_EDGE_STREAMS}). The first one announces edge.up; an edge silent for edgeTtlMs is gone (edge.down)`,
        ...writeDoc,
        params: S.EdgeParams,
        body: S.EdgeHeartbeatBody,
        response: { 200: S.EdgeHeartbeatResultSchema, ...errors(400, 401, 403, 413, 429, 503) },
      },
    },
    async (request): Promise<EdgeHeartbeatResult> => {
      const { id } = request.params;
      auth.actAsEdge(request, id);
      const record = await store.upsertEdge(edgeInput(id, request.body, edgeAllowlist), config.edgeTtlMs, config.maxEdges);
      return { edge: edgeView(record), ttlMs: config.edgeTtlMs };
    },
  );

  app.delete<{ Params: Static<typeof S.EdgeParams> }>(
    '/v1/edges/:id',
    { ...edgeWrite, schema: { tags: ['edges'], summary: 'Deregister an edge (edge.down); 204 whether or not it was registered', ...writeDoc, params: S.EdgeParams, response: errors(400, 401, 403, 503) } },
    async (request, reply) => {
      auth.actAsEdge(request, request.params.id);
      await store.removeEdge(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/edges',
    { ...read, schema: { tags: ['edges'], summary: 'Every live edge with its last report', ...readDoc, response: { 200: S.EdgeListSchema, ...errors(401, 503) } } },
    async (_request, reply) => {
      const { value: edges } = await cachedRead(reply, 'edges', async () => (await store.listEdges()).map(edgeView).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      return { edges };
    },
  );
};
