import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import pino from 'pino';
import { DiscoveryUnavailableError, StreamOwnedElsewhereError } from '../../common/errors';
import { HttpDiscoveryClient } from '../../discovery/client';
import { loadDiscoveryConfig, type DiscoveryConfig } from '../../discovery/config';
import { DiscoveryService } from '../../discovery/service';
import { RedisStore } from '../../discovery/store/redis-store';
import type { DiscoveryEvent } from '../../discovery/types';
import { SHARED_REDIS_URL, deleteKeys, randomPrefix } from '../helpers/redis-shared';
import { freePort, until } from '../helpers/wait';

/**
 * Discovery on a real Redis: replicas agree and see each other's events, a SIGKILLed owner's
 * stream moves within a second, and a Redis restart degrades (503 + stale reads) and recovers.
 * Uses the shared Redis at 127.0.0.1:6379 under a random prefix, and a private redis-server for
 * the restart (the shared one is never stopped). Every process started here is killed here.
 */

const log = pino({ level: process.env.CASCADE_TEST_LOG ?? 'silent' });

function config(overrides: Partial<DiscoveryConfig>): DiscoveryConfig {
  return loadDiscoveryConfig({ overrides: { port: 0, store: 'redis', sweepIntervalMs: 100, ...overrides } });
}

function replica(url: string, prefix: string, overrides: Partial<DiscoveryConfig> = {}): DiscoveryService {
  const store = new RedisStore({ url, prefix, logger: log, readyTimeoutMs: 1000, commandTimeoutMs: 2000 });
  return new DiscoveryService({ config: config({ redisUrl: url, redisPrefix: prefix, ...overrides }), store, logger: log });
}

/** Short enough for the expiry test, long enough that a loaded machine does not expire registrations mid-test. */
const ORIGIN_TTL_MS = 2000;

/** An HTTP /healthz that answers for any origin id (origins that are alive). */
async function aliveHealthz(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function killAndWait(proc: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  await exited;
}

describe('two discovery replicas on one Redis', () => {
  const prefix = randomPrefix();
  let a: DiscoveryService;
  let b: DiscoveryService;
  let ca: HttpDiscoveryClient;
  let cb: HttpDiscoveryClient;
  let alive: { server: Server; url: string };
  let victim: ChildProcess | undefined;

  beforeAll(async () => {
    alive = await aliveHealthz();
    a = replica(SHARED_REDIS_URL, prefix, { originTtlMs: ORIGIN_TTL_MS });
    b = replica(SHARED_REDIS_URL, prefix, { originTtlMs: ORIGIN_TTL_MS });
    await Promise.all([a.start(), b.start()]);
    ca = new HttpDiscoveryClient(a.url);
    cb = new HttpDiscoveryClient(b.url);
  });

  afterAll(async () => {
    await killAndWait(victim);
    await Promise.all([ca?.close(), cb?.close()]);
    await Promise.all([a?.stop(), b?.stop()]);
    await closeServer(alive.server);
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('agree on origins, owners, conflicts, listings and placement', async () => {
    expect(await ca.health()).toMatchObject({ status: 'ok', store: 'redis', redis: { reachable: true } });
    await ca.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19361', http: alive.url, capacity: 24, load: { weight: 21 } });
    await cb.registerOrigin('o2', { rtmp: 'rtmp://127.0.0.1:19362', http: alive.url, capacity: 24, load: { weight: 2 } });
    expect((await cb.listOrigins()).map((o) => o.id).sort()).toEqual(['o1', 'o2']);

    const lease = await ca.claimStream('live', 'r1', 'o1');
    expect(await cb.lookup('live', 'r1')).toEqual({ app: 'live', name: 'r1', origin: lease.origin, since: lease.since, token: lease.token });
    const conflict = await cb.claimStream('live', 'r1', 'o2').catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(StreamOwnedElsewhereError);
    expect(await cb.renewStream('live', 'r1', 'o1', lease.token)).toMatchObject({ token: lease.token });

    for (let i = 0; i < 5; i++) await cb.claimStream('live', `p${i}`, 'o2');
    const page = await ca.listStreamsPage({ app: 'live', limit: 4 });
    expect(page.streams.map((s) => s.name)).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(await cb.listStreams({ app: 'live' })).toHaveLength(6);
    expect((await ca.listStreams({ origin: 'o1' })).map((s) => s.name)).toEqual(['r1']);

    // o1 is at 21/24 = 0.875 (over high-water 0.85): both replicas send new publishers to o2, and to r1's owner for r1.
    // Heartbeat both first, as origins do (the steps above may take a while on a loaded machine).
    await ca.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19361', http: alive.url, capacity: 24, load: { weight: 21 } });
    await cb.registerOrigin('o2', { rtmp: 'rtmp://127.0.0.1:19362', http: alive.url, capacity: 24, load: { weight: 2 } });
    await ca.claimStream('live', 'r1', 'o1'); // the holder's re-claim: succeeds whether or not r1 outlived a lapse
    expect((await ca.place({ app: 'live', stream: 'new' })).origin.id).toBe('o2');
    expect(await cb.publishUrl('live', 'new')).toBe('rtmp://127.0.0.1:19362/live/new');
    expect(await cb.publishUrl('live', 'r1')).toBe('rtmp://127.0.0.1:19361/live/r1');
    await ca.avoid('live', 'new2', 'o2', 60_000);
    await expect(cb.place({ app: 'live', stream: 'new2' })).rejects.toMatchObject({ code: 'NO_ORIGIN_AVAILABLE' });
  });

  it('an event caused on replica A reaches an SSE client of replica B; expiry events come once, within ~1 s', async () => {
    const seen: Array<DiscoveryEvent & { at: number }> = [];
    const sub = cb.subscribeEvents((e) => seen.push({ ...e, at: Date.now() }));
    await sub.ready;
    await ca.registerOrigin('e1', { rtmp: 'rtmp://127.0.0.1:19363', http: alive.url });
    const lease = await ca.claimStream('live', 'ev1', 'e1');
    const lastHeartbeat = Date.now();
    const claimed = await until('stream.claimed on B', () => seen.find((e) => e.type === 'stream.claimed' && e.data.name === 'ev1'));
    expect(claimed.data).toEqual({ app: 'live', name: 'ev1', origin: lease.origin, since: lease.since, token: lease.token });
    // e1 stops heartbeating: its registration expires after ORIGIN_TTL_MS; both replicas sweep every 100 ms.
    const down = await until('origin.down', () => seen.find((e) => e.type === 'origin.down' && e.data.id === 'e1'), ORIGIN_TTL_MS + 10_000);
    const lateMs = down.at - (lastHeartbeat + ORIGIN_TTL_MS);
    process.stdout.write(`origin.down ${lateMs} ms after the registration expired\n`);
    expect(lateMs).toBeGreaterThan(-100); // not before the TTL (the claim answer came a little after the heartbeat)
    expect(lateMs).toBeLessThan(5000); // ~100 ms normally; generous for a loaded machine
    await new Promise((r) => setTimeout(r, 300));
    const mine = seen.filter((e) => (e.type === 'origin.down' && e.data.id === 'e1') || (e.type === 'stream.released' && e.data.name === 'ev1'));
    expect(mine.map((e) => e.type)).toEqual(['stream.released', 'origin.down']);
    expect(mine[0].data).toEqual({ app: 'live', name: 'ev1', originId: 'e1', token: lease.token, reason: 'origin-down' });
    await sub.close();
  });

  it('edge registry: a heartbeat on A is listed by B and in its cluster view; deregistering on B announces edge.down once', async () => {
    const edgeTtl = loadDiscoveryConfig().edgeTtlMs;
    const seen: DiscoveryEvent[] = [];
    const sub = cb.subscribeEvents((e) => seen.push(e), { types: ['edge.up', 'edge.down'] });
    await sub.ready;
    const report = { http: 'http://127.0.0.1:18080', load: { viewers: 2, egressBps: 1000 }, streams: [{ app: 'live', name: 'r1', viewers: { rtmp: 1, flv: 0, hls: 1 }, egressBps: 1000, upstream: 'o1', state: 'live' as const }] };
    expect((await ca.edgeHeartbeat('edge-r', report)).ttlMs).toBe(edgeTtl);
    const view = await until('the edge in B\'s cluster view', async () => {
      const v = (await (await fetch(`${b.url}/v1/cluster`)).json()) as { edges: Array<{ id: string }>; streams: Array<{ name: string; viewers: { byEdge: Array<{ edge: string; hls: number }> } }> };
      return v.edges.some((e) => e.id === 'edge-r') ? v : undefined;
    });
    expect(view.streams.find((x) => x.name === 'r1')?.viewers.byEdge).toEqual([{ edge: 'edge-r', rtmp: 1, flv: 0, hls: 1, egressBps: 1000 }]);
    await cb.deregisterEdge('edge-r');
    await until('edge.down on B', () => (seen.some((e) => e.type === 'edge.down') ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((e) => `${e.type}:${(e.data as { id: string }).id}`)).toEqual(['edge.up:edge-r', 'edge.down:edge-r']);
    expect((await (await fetch(`${a.url}/v1/edges`)).json()) as unknown).toEqual({ edges: [] });
    await sub.close();
  });

  it('a SIGKILLed owner: its stream is claimable on the other replica within 1 s', async () => {
    // The owner is a real process: it serves /healthz, registers through A every 200 ms, claims a stream.
    const script = `
      const http = require('node:http');
      const srv = http.createServer((q, s) => { s.writeHead(200, { 'content-type': 'application/json' }); s.end(JSON.stringify({ status: 'ok', role: 'origin', id: process.env.ID })); });
      srv.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + srv.address().port;
        const reg = () => fetch(process.env.DISC + '/v1/origins/' + process.env.ID, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rtmp: 'rtmp://127.0.0.1:19364', http: url }) });
        await reg();
        const r = await fetch(process.env.DISC + '/v1/streams/live/victim/claim', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ originId: process.env.ID }) });
        setInterval(() => reg().catch(() => {}), 200);
        process.stdout.write('READY ' + r.status + '\\n');
      });`;
    victim = spawn(process.execPath, ['-e', script], { env: { ...process.env, ID: 'victim-origin', DISC: a.url }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    victim.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    await until('victim ready', () => (out.includes('READY') ? true : undefined), 10_000);
    expect(out).toContain('READY 200');
    await cb.registerOrigin('rescuer', { rtmp: 'rtmp://127.0.0.1:19365', http: alive.url });
    await expect(cb.claimStream('live', 'victim', 'rescuer')).rejects.toBeInstanceOf(StreamOwnedElsewhereError);

    await killAndWait(victim, 'SIGKILL');
    const killedAt = Date.now();
    // The publisher reconnects to the rescuer, which claims through B and retries every 50 ms.
    const lease = await until('the rescuer owns the stream', () => cb.claimStream('live', 'victim', 'rescuer').catch(() => undefined), 5000, 50);
    const tookMs = Date.now() - killedAt;
    process.stdout.write(`claim after SIGKILL of the owner: ${tookMs} ms\n`);
    expect(tookMs).toBeLessThan(1000);
    expect(lease.origin.id).toBe('rescuer');
    expect(await ca.lookup('live', 'victim')).toMatchObject({ origin: { id: 'rescuer' }, token: lease.token });
  });
});

describe('a Redis restart (private redis-server): 503 and stale reads, no crash, full recovery', () => {
  const prefix = randomPrefix();
  let port: number;
  let redis: ChildProcess | undefined;
  let service: DiscoveryService;
  let client: HttpDiscoveryClient;
  let alive: { server: Server; url: string };
  let url: string;

  async function startRedis(): Promise<void> {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until(
      'redis-server answering',
      async () => {
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 100 });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG' ? true : undefined;
        } catch {
          return undefined;
        } finally {
          probe.disconnect();
        }
      },
      10_000,
      50,
    );
  }

  beforeAll(async () => {
    port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    alive = await aliveHealthz();
    await startRedis();
    service = replica(url, prefix, { staleCacheMs: 60_000 });
    await service.start();
    client = new HttpDiscoveryClient(service.url, { timeoutMs: 2000 });
  });

  afterAll(async () => {
    await client?.close();
    await service?.stop();
    await killAndWait(redis);
    await closeServer(alive.server);
  });

  it('degrades and recovers by itself', async () => {
    const events: DiscoveryEvent[] = [];
    const sub = client.subscribeEvents((e) => events.push(e), { reconnectMs: 100 });
    await sub.ready;
    await client.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19371', http: alive.url });
    const lease = await client.claimStream('live', 's1', 'o1');
    expect(await client.lookup('live', 's1')).toMatchObject({ token: lease.token });
    expect(await client.listStreams()).toHaveLength(1);

    await killAndWait(redis, 'SIGTERM');

    // Writes: 503 STORE_UNAVAILABLE, fast. The client maps it to DiscoveryUnavailableError (origins keep serving).
    const t0 = Date.now();
    const err = await client.renewStream('live', 's1', 'o1', lease.token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryUnavailableError);
    expect(err).toMatchObject({ details: { status: 503, serverCode: 'STORE_UNAVAILABLE' } });
    expect(Date.now() - t0).toBeLessThan(1500);
    await expect(client.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19371', http: alive.url })).rejects.toMatchObject({ details: { serverCode: 'STORE_UNAVAILABLE' } });

    // Health: 503 with the store named.
    const health = await fetch(`${service.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ code: 'STORE_UNAVAILABLE', store: 'redis', redis: { reachable: false } });

    // Reads: what was read recently is answered, marked stale; the rest is 503.
    const look = await fetch(`${service.url}/v1/streams/live/s1`);
    expect(look.status).toBe(200);
    expect(look.headers.get('x-cascade-stale')).toBe('1');
    expect(await look.json()).toMatchObject({ origin: { id: 'o1' }, token: lease.token });
    const list = await fetch(`${service.url}/v1/streams?limit=1000`); // the page listStreams() read
    expect(list.headers.get('x-cascade-stale')).toBe('1');
    expect(await list.json()).toMatchObject({ streams: [{ name: 's1' }], stale: true });
    expect(await client.listStreams()).toHaveLength(1);
    expect((await fetch(`${service.url}/v1/streams/live/unknown`)).status).toBe(503);
    expect(await client.lookup('live', 's1')).toMatchObject({ token: lease.token });

    // Nothing crashed: the service keeps serving (metrics included) while Redis is gone.
    await until('store_up 0 in /metrics', async () => {
      const metrics = await fetch(`${service.url}/metrics`);
      expect(metrics.status).toBe(200);
      return (await metrics.text()).includes('cascade_discovery_store_up{store="redis"} 0') || undefined;
    }, 5000, 100);

    // Redis comes back (empty: no persistence) on the same port.
    await startRedis();
    await until('healthz 200', async () => ((await fetch(`${service.url}/healthz`)).status === 200 ? true : undefined), 10_000, 100);
    // The state was lost with Redis: origins re-register and re-claim (as their heartbeat loop does).
    await expect(client.renewStream('live', 's1', 'o1', lease.token)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await client.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19371', http: alive.url });
    const again = await client.claimStream('live', 's1', 'o1');
    const fresh = await fetch(`${service.url}/v1/streams/live/s1`);
    expect(fresh.headers.get('x-cascade-stale')).toBeNull();
    expect(await fresh.json()).toMatchObject({ origin: { id: 'o1' }, token: again.token });
    // Events flow again (the subscriber connection re-subscribed by itself).
    await until('stream.claimed after the restart', () => (events.some((e) => e.type === 'stream.claimed' && e.data.token === again.token) ? true : undefined), 5000);
    await sub.close();
  });
});
