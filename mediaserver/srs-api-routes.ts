/**
 * The SRS-compatible routes of the node API (SRS's `/api/v1/...`), so SRS tooling reads them:
 *
 *   GET    /api/v1/summaries      process and system figures (SRS `srs_api_dump_summaries`)
 *   GET    /api/v1/streams        live streams (SRS `SrsStatisticStream::dumps`) + Cascade fields
 *   GET    /api/v1/streams/:id
 *   GET    /api/v1/clients        publishers and players (SRS `SrsStatisticClient::dumps`)
 *   GET    /api/v1/clients/:id
 *   DELETE /api/v1/clients/:id    kick a client (bearer token; none configured = writes off, 403)
 *
 * Success bodies carry SRS's envelope `{code:0, server, service, pid, ...}`; errors are Cascade's
 * `{"code":"UPPER_SNAKE","message"}` with an HTTP status. Field reference: docs/origin-api.md.
 */
import type { Socket } from 'node:net';
import os from 'node:os';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../common/logger';
import { clientAddress, type NodeSession, type NodeStreamSource } from './node-media';
import type { NodeStats } from './node-stats';
import { cascadeVersion, idleSeconds, memInfo, netDevices, round, tcpConnections } from './system-stats';

export interface SrsRouteContext {
  /** SRS's success envelope around a body. */
  envelope(body: Record<string, unknown>): Record<string, unknown>;
  stats: NodeStats;
  streams(): Iterable<NodeStreamSource>;
  streamId(src: NodeStreamSource): string;
  streamView(src: NodeStreamSource): Record<string, unknown>;
  /** Remote sessions playing or publishing a stream. */
  clients(): NodeSession[];
  clientView(s: NodeSession): Record<string, unknown>;
  /** preHandler of the write route (DELETE). */
  writeAuth: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  log: Logger;
}

const ListQuery = Type.Object({
  start: Type.Optional(Type.Integer({ minimum: 0 })),
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** How long a kicked client that ignores the close may keep its socket. */
const KICK_GRACE_MS = 2000;

function page<T>(list: T[], q: { start?: number; count?: number }): T[] {
  return list.slice(q.start ?? 0, (q.start ?? 0) + (q.count ?? list.length));
}

/** SRS's `data` of /api/v1/summaries. */
function summary(stats: NodeStats, connections: number): Record<string, unknown> {
  const now = Date.now();
  const mem = memInfo();
  const rss = process.memoryUsage().rss;
  const cpu = stats.cpuUsage();
  const load = os.loadavg();
  const net = netDevices();
  const conns = tcpConnections();
  const bytes = stats.totalBytes();
  return {
    ok: true,
    now_ms: now,
    self: {
      version: cascadeVersion(),
      pid: process.pid,
      ppid: process.ppid,
      // Never argv, cwd or the environment (SRS has `argv` and `cwd`): this route is open, and a
      // secret given as a flag (--publish-secret, --api-tokens, ...) would be public.
      mem_kbyte: Math.round(rss / 1024),
      mem_percent: mem.totalKb > 0 ? round(rss / 1024 / mem.totalKb, 4) : 0,
      cpu_percent: cpu.self,
      srs_uptime: Math.floor((now - stats.startedAt) / 1000),
      // Cascade extra
      node_version: process.version,
    },
    system: {
      cpu_percent: cpu.system,
      disk_read_KBps: 0,
      disk_write_KBps: 0,
      disk_busy_percent: 0,
      mem_ram_kbyte: mem.totalKb,
      mem_ram_percent: mem.ramPercent,
      mem_swap_kbyte: mem.swapKb,
      mem_swap_percent: mem.swapPercent,
      cpus: os.cpus().length,
      cpus_online: os.availableParallelism(),
      uptime: os.uptime(),
      ilde_time: idleSeconds(), // sic: SRS's field name
      load_1m: load[0],
      load_5m: load[1],
      load_15m: load[2],
      net_sample_time: now,
      net_recv_bytes: net.recv,
      net_send_bytes: net.send,
      net_recvi_bytes: net.recvi,
      net_sendi_bytes: net.sendi,
      srs_sample_time: now,
      srs_recv_bytes: bytes.in,
      srs_send_bytes: bytes.out,
      conn_sys: conns.all,
      conn_sys_et: conns.established,
      conn_sys_tw: conns.timeWait,
      conn_sys_udp: conns.udp,
      conn_srs: connections,
    },
  };
}

export function registerSrsRoutes(app: FastifyInstance, ctx: SrsRouteContext): void {
  const { envelope } = ctx;

  app.get('/api/v1/summaries', async () => envelope({ data: summary(ctx.stats, ctx.clients().length) }));

  app.get<{ Querystring: { start?: number; count?: number } }>('/api/v1/streams', { schema: { querystring: ListQuery } }, async (req) =>
    envelope({ streams: page([...ctx.streams()].map(ctx.streamView), req.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/streams/:id', { schema: { params: IdParams } }, async (req, reply) => {
    const src = [...ctx.streams()].find((s) => ctx.streamId(s) === req.params.id);
    if (!src) return reply.status(404).send({ code: 'STREAM_NOT_FOUND', message: `no live stream with id ${req.params.id} on this node` });
    return envelope({ stream: ctx.streamView(src) });
  });

  app.get<{ Querystring: { start?: number; count?: number } }>('/api/v1/clients', { schema: { querystring: ListQuery } }, async (req) =>
    envelope({ clients: page(ctx.clients().map(ctx.clientView), req.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/clients/:id', { schema: { params: IdParams } }, async (req, reply) => {
    const s = ctx.clients().find((c) => c.id === req.params.id);
    if (!s) return reply.status(404).send({ code: 'NOT_FOUND', message: `no client ${req.params.id} on this node` });
    return envelope({ client: ctx.clientView(s) });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/clients/:id', { schema: { params: IdParams }, preHandler: ctx.writeAuth }, async (req, reply) => {
    const s = ctx.clients().find((c) => c.id === req.params.id);
    if (!s) return reply.status(404).send({ code: 'NOT_FOUND', message: `no client ${req.params.id} on this node` });
    ctx.log.info({ session: s.id, stream: `${s.streamApp}/${s.streamName}`, publisher: s.isPublisher, ip: clientAddress(s.ip) }, 'client kicked by API');
    s.close();
    // NMS's RTMP close() only half-closes: a client that ignores it is cut off.
    const sock = (s as { socket?: Socket }).socket;
    if (sock && !sock.destroyed) {
      const t = setTimeout(() => sock.destroy(), KICK_GRACE_MS);
      t.unref();
      sock.once('close', () => clearTimeout(t));
    }
    return envelope({});
  });
}
