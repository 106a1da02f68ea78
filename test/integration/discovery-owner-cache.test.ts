import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { HttpDiscoveryClient } from '../../discovery/client';
import { loadDiscoveryConfig } from '../../discovery/config';
import { DiscoveryService } from '../../discovery/service';
import { RedisStore } from '../../discovery/store/redis-store';
import type { DiscoveryEvent, StreamOwnerView } from '../../discovery/types';
import { SHARED_REDIS_URL, deleteKeys, randomPrefix } from '../helpers/redis-shared';

/**
 * The owner cache of stream lookups on a real Redis (shared Redis, random key prefix, cleaned up):
 * two replicas; replica A answers lookups from its cache, replica B (or the store directly) changes
 * the owner. Once A has heard the change (its SSE stream shows it: the cache hears events first), A
 * never answers the old owner again; A's own writes are visible in A's next answer at once.
 */

const log = pino({ level: process.env.CASCADE_TEST_LOG ?? 'silent' });
/** Long: nothing here may expire during the test; the cache must not rely on its max age. */
const OWNER_CACHE_MS = 60_000;

function replica(prefix: string, ttlMs = 60_000): { service: DiscoveryService; store: RedisStore } {
  const store = new RedisStore({ url: SHARED_REDIS_URL, prefix, logger: log, readyTimeoutMs: 1000, commandTimeoutMs: 2000 });
  const config = loadDiscoveryConfig({
    overrides: { port: 0, store: 'redis', redisUrl: SHARED_REDIS_URL, redisPrefix: prefix, originTtlMs: ttlMs, leaseTtlMs: ttlMs, ownerCacheMs: OWNER_CACHE_MS, livenessCheck: false },
  });
  return { service: new DiscoveryService({ config, store, logger: log }), store };
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function cacheCounts(url: string): Promise<{ hit: number; miss: number }> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const get = (result: string): number => Number(new RegExp(`^cascade_discovery_owner_cache_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return { hit: get('hit'), miss: get('miss') };
}

describe('owner cache on Redis: takeovers and releases invalidate it', () => {
  const prefix = randomPrefix();
  const a = replica(prefix);
  const b = replica(prefix);
  let ca: HttpDiscoveryClient;
  let cb: HttpDiscoveryClient;
  let alive: Server;
  const heard: DiscoveryEvent[] = [];
  let sub: { ready: Promise<void>; close(): Promise<void> };

  beforeAll(async () => {
    alive = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    await new Promise<void>((resolve) => alive.listen(0, '127.0.0.1', resolve));
    const http = `http://127.0.0.1:${(alive.address() as AddressInfo).port}`;
    await Promise.all([a.service.start(), b.service.start()]);
    ca = new HttpDiscoveryClient(a.service.url);
    cb = new HttpDiscoveryClient(b.service.url);
    sub = ca.subscribeEvents((e) => heard.push(e));
    await sub.ready;
    await cb.registerOrigin('o1', { rtmp: 'rtmp://127.0.0.1:19371', http });
    await cb.registerOrigin('o2', { rtmp: 'rtmp://127.0.0.1:19372', http });
  });

  afterAll(async () => {
    await sub?.close();
    await Promise.all([ca?.close(), cb?.close()]);
    await Promise.all([a.service.stop(), b.service.stop()]);
    await new Promise<void>((resolve) => alive.close(() => resolve()));
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  /** Lookups on A until A has heard `event`; then every lookup must show `expected`. */
  async function afterHeard(match: (e: DiscoveryEvent) => boolean, expected: (v: StreamOwnerView | null) => boolean, app: string, name: string): Promise<void> {
    // The event may have reached A before this is called (each test's events are unique).
    await until('the event at A', async () => {
      await ca.lookup(app, name); // keep reading (and filling) meanwhile
      return heard.some(match) ? true : undefined;
    });
    for (let i = 0; i < 20; i++) expect(expected(await ca.lookup(app, name))).toBe(true);
  }

  it('answers repeated lookups from the cache', async () => {
    await cb.claimStream('live', 'hot', 'o1');
    await until('A knows hot', async () => ((await ca.lookup('live', 'hot'))?.origin.id === 'o1' ? true : undefined));
    const before = await cacheCounts(a.service.url);
    for (let i = 0; i < 10; i++) expect((await ca.lookup('live', 'hot'))?.origin.id).toBe('o1');
    const after = await cacheCounts(a.service.url);
    expect(after.hit - before.hit).toBeGreaterThanOrEqual(9);
    // The cached answer is the same JSON as the store's (anonymous here: discovery is open, tokens shown).
    const fresh = await b.store.getStream('live', 'hot');
    expect(await ca.lookup('live', 'hot')).toEqual({ app: 'live', name: 'hot', origin: { id: 'o1', rtmp: 'rtmp://127.0.0.1:19371', http: expect.any(String) }, since: fresh?.since, token: fresh?.token });
  });

  it('a takeover on another replica (stream.moved): never the old owner once A heard it', async () => {
    const lease = await cb.claimStream('live', 'take', 'o1');
    for (let i = 0; i < 3; i++) expect((await ca.lookup('live', 'take'))?.origin.id).toBe('o1');
    const moved = await b.store.claimStream('live', 'take', 'o2', 60_000, { breakToken: lease.token });
    expect('lease' in moved && moved.moved?.from).toBe('o1');
    await afterHeard((e) => e.type === 'stream.moved' && e.data.name === 'take', (v) => v?.origin.id === 'o2', 'live', 'take');
  });

  it('a release on another replica (stream.released): 404 once A heard it; a new claim: the new owner', async () => {
    const lease = await cb.claimStream('live', 'rel', 'o1');
    expect((await ca.lookup('live', 'rel'))?.origin.id).toBe('o1');
    await cb.releaseStream('live', 'rel', 'o1', lease.token);
    await afterHeard((e) => e.type === 'stream.released' && e.data.name === 'rel', (v) => v === null, 'live', 'rel');
    await cb.claimStream('live', 'rel', 'o2');
    await afterHeard((e) => e.type === 'stream.claimed' && e.data.name === 'rel' && e.data.origin.id === 'o2', (v) => v?.origin.id === 'o2', 'live', 'rel');
  });

  it("an origin's deregistration on another replica (origin.down): its streams are gone once A heard it", async () => {
    await cb.registerOrigin('o3', { rtmp: 'rtmp://127.0.0.1:19373', http: 'http://127.0.0.1:1' });
    await cb.claimStream('live', 'gone', 'o3');
    expect((await ca.lookup('live', 'gone'))?.origin.id).toBe('o3');
    await cb.deregisterOrigin('o3');
    await afterHeard((e) => e.type === 'origin.down' && e.data.id === 'o3', (v) => v === null, 'live', 'gone');
  });

  it("A's own writes are in A's next answer, without waiting for the event", async () => {
    const lease = await ca.claimStream('live', 'own', 'o1');
    expect((await ca.lookup('live', 'own'))?.token).toBe(lease.token);
    await ca.releaseStream('live', 'own', 'o1', lease.token);
    expect(await ca.lookup('live', 'own')).toBeNull();
    const again = await ca.claimStream('live', 'own', 'o2');
    expect(await ca.lookup('live', 'own')).toMatchObject({ origin: { id: 'o2' }, token: again.token });
    // A same-origin re-claim (new token, no event) through A: the next answer has the new token.
    const reclaimed = await ca.claimStream('live', 'own', 'o2');
    expect(reclaimed.token).toBeGreaterThan(again.token);
    expect((await ca.lookup('live', 'own'))?.token).toBe(reclaimed.token);
  });

  it('bad names are 400 (never cached); names probed at random are 404 until a claim of one of them is heard', async () => {
    for (const bad of ['a%2Fb', 'x'.repeat(300), '%E0%A4%A', '..']) {
      const res = await fetch(`${a.service.url}/v1/streams/live/${bad}`);
      expect([400, 404]).toContain(res.status);
      expect(((await res.json()) as { code: string }).code).toMatch(/BAD_REQUEST|NOT_FOUND|STREAM_NOT_FOUND/);
    }
    const names = Array.from({ length: 200 }, (_, i) => `probe${i}`);
    for (const n of names) expect(await ca.lookup('live', n)).toBeNull();
    await cb.claimStream('live', 'probe7', 'o1');
    await afterHeard((e) => e.type === 'stream.claimed' && e.data.name === 'probe7', (v) => v?.origin.id === 'o1', 'live', 'probe7');
    expect(await ca.lookup('live', 'probe8')).toBeNull();
  });

  it('the Redis store reports its event subscription (the cache is used only while it is up)', () => {
    expect(a.store.eventEpoch()).toEqual(expect.any(Number));
  });

  /** Lookups on A until `ok` holds (well within the test's 60 s max age: a hint did it), then 20 more that must all hold. */
  async function seenWithin(ms: number, ok: (v: StreamOwnerView | null) => boolean, app: string, name: string): Promise<void> {
    const t0 = Date.now();
    await until('the change at A', async () => (ok(await ca.lookup(app, name)) ? true : undefined), ms);
    expect(Date.now() - t0).toBeLessThan(ms);
    for (let i = 0; i < 20; i++) expect(ok(await ca.lookup(app, name))).toBe(true);
  }

  it('a same-origin re-claim on another replica (only the token changes, no event): A shows the new token at once', async () => {
    const first = await cb.claimStream('live', 'retok', 'o1');
    for (let i = 0; i < 3; i++) expect((await ca.lookup('live', 'retok'))?.token).toBe(first.token);
    const second = await cb.claimStream('live', 'retok', 'o1');
    expect(second.token).toBeGreaterThan(first.token);
    await seenWithin(2000, (v) => v?.token === second.token, 'live', 'retok');
  });

  it("an origin's new addresses through another replica's PUT (no state change, no event): A shows them at once", async () => {
    await cb.registerOrigin('o4', { rtmp: 'rtmp://127.0.0.1:19374', http: 'http://127.0.0.1:1' });
    await cb.claimStream('live', 'addr', 'o4');
    for (let i = 0; i < 3; i++) expect((await ca.lookup('live', 'addr'))?.origin.rtmp).toBe('rtmp://127.0.0.1:19374');
    await cb.registerOrigin('o4', { rtmp: 'rtmp://127.0.0.1:19375', http: 'http://127.0.0.1:1' });
    await seenWithin(2000, (v) => v?.origin.rtmp === 'rtmp://127.0.0.1:19375', 'live', 'addr');
  });

  it('while the event subscription is down the cache is off (a takeover meanwhile is seen), and it starts empty after', async () => {
    const lease = await cb.claimStream('live', 'outage', 'o1');
    for (let i = 0; i < 3; i++) expect((await ca.lookup('live', 'outage'))?.origin.id).toBe('o1');
    const epoch = a.store.eventEpoch();
    const sub = (a.store as unknown as { sub: { disconnect(reconnect?: boolean): void; connect(): Promise<void> } }).sub;
    sub.disconnect(false);
    await until('the subscription down', () => (a.store.eventEpoch() === null ? true : undefined));
    try {
      // The takeover's event is lost for A: A must read the store.
      await b.store.claimStream('live', 'outage', 'o2', 60_000, { breakToken: lease.token });
      const before = await cacheCounts(a.service.url);
      for (let i = 0; i < 5; i++) expect((await ca.lookup('live', 'outage'))?.origin.id).toBe('o2');
      const after = await cacheCounts(a.service.url);
      expect(after.hit - before.hit).toBe(0);
    } finally {
      await sub.connect();
    }
    await until('subscribed again', () => (a.store.eventEpoch() !== null ? true : undefined));
    expect(a.store.eventEpoch()).not.toBe(epoch);
    expect((await ca.lookup('live', 'outage'))?.origin.id).toBe('o2');
  });
});

describe('owner cache on Redis: heartbeats keep entries past the lease expiry read, and only heartbeats', () => {
  const prefix = randomPrefix();
  // Short TTLs: an entry would end with the lease expiry it was read with unless a heartbeat renewal hint moves it.
  const TTL = 2500;
  const a = replica(prefix, TTL);
  const b = replica(prefix, TTL);
  let ca: HttpDiscoveryClient;
  let cb: HttpDiscoveryClient;
  let beating = true;
  let loop: Promise<void> | undefined;

  beforeAll(async () => {
    await Promise.all([a.service.start(), b.service.start()]);
    ca = new HttpDiscoveryClient(a.service.url);
    cb = new HttpDiscoveryClient(b.service.url);
  });

  afterAll(async () => {
    beating = false;
    await loop;
    await Promise.all([ca?.close(), cb?.close()]);
    await Promise.all([a.service.stop(), b.service.stop()]);
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('renewed by the owner heartbeats through another replica: hits for 2 lease TTLs; once they stop, 404 right after the lease expires', async () => {
    const reg = { rtmp: 'rtmp://127.0.0.1:19381', http: 'http://127.0.0.1:1' };
    const hb = { incarnation: 'i1', startedAt: Date.now(), registration: reg, leases: [{ app: 'live', name: 'beat' }] };
    await cb.heartbeat('hb1', hb);
    const lease = await cb.claimStream('live', 'beat', 'hb1');
    const withToken = { ...hb, leases: [{ app: 'live', name: 'beat', token: lease.token }] };
    loop = (async () => {
      while (beating) {
        await cb.heartbeat('hb1', withToken);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    expect((await ca.lookup('live', 'beat'))?.origin.id).toBe('hb1');
    const before = await cacheCounts(a.service.url);
    const end = Date.now() + 2 * TTL;
    let lookups = 0;
    while (Date.now() < end) {
      expect((await ca.lookup('live', 'beat'))?.token).toBe(lease.token);
      lookups++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = await cacheCounts(a.service.url);
    // Without the renewals every lookup after the first TTL would miss (the entry ends with the expiry read).
    expect(after.hit - before.hit).toBe(lookups);
    beating = false;
    await loop;
    const stopped = Date.now();
    await until('404 after the lease expired', async () => ((await ca.lookup('live', 'beat')) === null ? true : undefined), 4 * TTL);
    // Never past the last renewal's expiry (+ scheduling slack; the sweep is not needed: the cache ends at the expiry).
    expect(Date.now() - stopped).toBeLessThan(TTL + 1500);
  });
});
