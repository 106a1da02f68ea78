import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { CascadeError, DiscoveryUnavailableError } from '../../../common/errors';
import { HttpDiscoveryClient } from '../../../discovery/client';
import { ReadCache } from '../../../discovery/read-cache';
import { buildDiscoveryApp } from '../../../discovery/app';
import { DiscoveryService } from '../../../discovery/service';
import { MemoryStore } from '../../../discovery/store/memory-store';
import type { DiscoveryStore } from '../../../discovery/store/types';
import { ORIGIN_A, ORIGIN_B, silentLogger, testConfig } from './helpers';

/** A store that can be switched "down": every backend call then fails like an unreachable Redis. */
function switchable(inner: DiscoveryStore): { store: DiscoveryStore; down(on: boolean): void } {
  let isDown = false;
  const passthrough = new Set(['kind', 'subscribe', 'close']);
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      // Like the Redis store it stands for, it cannot tell its next expiry without a round trip.
      if (prop === 'msUntilNextExpiry') return undefined;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || passthrough.has(prop) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (isDown) throw new CascadeError('STORE_UNAVAILABLE', 'redis: connect ECONNREFUSED 127.0.0.1:6379');
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { store, down: (on) => (isDown = on) };
}

describe('degraded mode: the store is unreachable', () => {
  let s: ReturnType<typeof switchable>;
  let app: ReturnType<typeof buildDiscoveryApp>;
  let token: number;
  const call = (opts: InjectOptions): Promise<LightMyRequestResponse> => app.inject(opts);

  beforeEach(async () => {
    s = switchable(new MemoryStore());
    app = buildDiscoveryApp(s.store, testConfig({ staleCacheMs: 400 }), silentLogger());
    await app.ready();
    await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A });
    token = (await call({ method: 'POST', url: '/v1/streams/live/s1/claim', payload: { originId: 'o1' } })).json<{ token: number }>().token;
    await call({ method: 'POST', url: '/v1/streams/live/s2/claim', payload: { originId: 'o1' } });
    // Warm the cache the way edges do: lookups and lists.
    expect((await call({ method: 'GET', url: '/v1/streams/live/s1' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/streams?app=live' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/origins' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/api/v1/clusters?app=live&stream=s1' })).statusCode).toBe(200);
    s.down(true);
  });

  afterEach(async () => {
    await app.close();
  });

  it('writes answer 503 STORE_UNAVAILABLE', async () => {
    for (const req of [
      { method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A },
      { method: 'DELETE', url: '/v1/origins/o1' },
      { method: 'POST', url: '/v1/streams/live/s1/claim', payload: { originId: 'o1' } },
      { method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'o1', token } },
      { method: 'POST', url: '/v1/streams/live/s1/release', payload: { originId: 'o1', token } },
      { method: 'POST', url: '/v1/streams/live/s1/avoid', payload: { originId: 'o1', ms: 1000 } },
    ] as InjectOptions[]) {
      const res = await call(req);
      expect({ url: req.url, status: res.statusCode, code: res.json<{ code: string }>().code }).toEqual({ url: req.url, status: 503, code: 'STORE_UNAVAILABLE' });
    }
  });

  it('reads answer from the recent cache, marked stale (header and list field)', async () => {
    const look = await call({ method: 'GET', url: '/v1/streams/live/s1' });
    expect(look.statusCode).toBe(200);
    expect(look.headers['x-cascade-stale']).toBe('1');
    expect(look.headers.warning).toBe('110 - "Response is Stale"');
    expect(look.headers.age).toBe('0');
    expect(look.json()).toMatchObject({ app: 'live', name: 's1', origin: { id: 'o1' }, token });
    expect(Object.keys(look.json<Record<string, unknown>>())).toEqual(['app', 'name', 'origin', 'since', 'token']);

    // Known from the list page: a lookup of live/s2 is answered too.
    const s2 = await call({ method: 'GET', url: '/v1/streams/live/s2' });
    expect({ status: s2.statusCode, stale: s2.headers['x-cascade-stale'] }).toEqual({ status: 200, stale: '1' });

    const list = await call({ method: 'GET', url: '/v1/streams?app=live' });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ streams: [{ name: 's1' }, { name: 's2' }], stale: true });
    expect(list.headers['x-cascade-stale']).toBe('1');

    const origins = await call({ method: 'GET', url: '/v1/origins' });
    expect(origins.json()).toMatchObject({ origins: [{ id: 'o1' }], stale: true });

    const srs = await call({ method: 'GET', url: '/api/v1/clusters?app=live&stream=s1' });
    expect(srs.json()).toMatchObject({ code: 0, data: { origin: { port: 19351 } } });
    expect(srs.headers['x-cascade-stale']).toBe('1');
  });

  it('reads never answered before, health and placement answer 503', async () => {
    for (const req of [
      { method: 'GET', url: '/v1/streams/live/never-read' },
      { method: 'GET', url: '/v1/streams?app=other' },
      { method: 'GET', url: '/v1/origins/o2' },
      { method: 'GET', url: '/healthz' },
      { method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'new' } },
      { method: 'GET', url: '/v1/publish-url/live/new' },
    ] as InjectOptions[]) {
      const res = await call(req);
      expect({ url: req.url, status: res.statusCode, code: res.json<{ code: string }>().code }).toEqual({ url: req.url, status: 503, code: 'STORE_UNAVAILABLE' });
    }
  });

  it('stale answers end after staleCacheMs', async () => {
    await new Promise((r) => setTimeout(r, 450));
    const res = await call({ method: 'GET', url: '/v1/streams/live/s1' });
    expect(res.statusCode).toBe(503);
  });

  it('recovers by itself: fresh answers, no stale marks, writes work', async () => {
    s.down(false);
    const look = await call({ method: 'GET', url: '/v1/streams/live/s1' });
    expect(look.statusCode).toBe(200);
    expect(look.headers['x-cascade-stale']).toBeUndefined();
    expect((await call({ method: 'PUT', url: '/v1/origins/o2', payload: ORIGIN_B })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/streams?app=live' })).json<Record<string, unknown>>().stale).toBeUndefined();
  });

  it('the metrics count stale reads and renew failures by reason', async () => {
    await call({ method: 'GET', url: '/v1/streams/live/s1' });
    await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'o1', token } });
    const text = (await call({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('cascade_discovery_stale_reads_total{route="/v1/streams/:app/:name"} 1');
    expect(text).toContain('cascade_discovery_lease_renew_failures_total{reason="store_unavailable"} 1');
    expect(text).toContain('cascade_discovery_store_up{store="memory"} 0');
  });
});

describe('degraded mode through HttpDiscoveryClient (what origins and edges see)', () => {
  it('503 → DiscoveryUnavailableError on writes, stale lookups still resolve, the service keeps running', async () => {
    const s = switchable(new MemoryStore());
    const service = new DiscoveryService({ config: testConfig({ port: 0 }), store: s.store, logger: silentLogger() });
    await service.start();
    const client = new HttpDiscoveryClient(service.url);
    try {
      await client.registerOrigin('o1', ORIGIN_A);
      const lease = await client.claimStream('live', 's1', 'o1');
      expect(await client.lookup('live', 's1')).toMatchObject({ token: lease.token });
      s.down(true);
      await expect(client.renewStream('live', 's1', 'o1', lease.token)).rejects.toBeInstanceOf(DiscoveryUnavailableError);
      await expect(client.registerOrigin('o1', ORIGIN_A)).rejects.toMatchObject({ code: 'DISCOVERY_UNAVAILABLE', details: { status: 503, serverCode: 'STORE_UNAVAILABLE' } });
      await expect(client.health()).rejects.toBeInstanceOf(DiscoveryUnavailableError);
      expect(await client.lookup('live', 's1')).toMatchObject({ token: lease.token });
      s.down(false);
      expect(await client.renewStream('live', 's1', 'o1', lease.token)).toMatchObject({ token: lease.token });
      expect(await client.health()).toEqual({ status: 'ok', store: 'memory' });
    } finally {
      await client.close();
      await service.stop();
    }
  });
});

describe('ReadCache', () => {
  it('remembers answers, serves them only for STORE_UNAVAILABLE and only while young, and stays bounded', async () => {
    let now = 1000;
    const cache = new ReadCache(100, 3, () => now);
    expect(await cache.read('a', async () => 1)).toEqual({ value: 1 });
    const down = async (): Promise<number> => {
      throw new CascadeError('STORE_UNAVAILABLE', 'down');
    };
    now += 40;
    expect(await cache.read('a', down)).toEqual({ value: 1, staleMs: 40 });
    await expect(cache.read('b', down)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(
      cache.read('a', async () => {
        throw new Error('bug');
      }),
    ).rejects.toThrow('bug');
    now += 61;
    await expect(cache.read('a', down)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    for (const k of ['k1', 'k2', 'k3', 'k4']) cache.put(k, k);
    expect(cache.size).toBe(3);
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k4')).toEqual({ value: 'k4', staleMs: 0 });
    const off = new ReadCache(0);
    off.put('x', 1);
    expect(off.size).toBe(0);
  });
});
