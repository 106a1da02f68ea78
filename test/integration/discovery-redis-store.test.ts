import pino from 'pino';
import { RedisStore, lexRange, parseEvent, storeError } from '../../discovery/store/redis-store';
import type { OwnerHint } from '../../discovery/store/types';
import { realClock, runStoreContract } from '../unit/discovery/store-contract';
import { SHARED_REDIS_URL, deleteKeys, expectUnreachableStoreDegrades, keysUnder, randomPrefix } from '../helpers/redis-shared';

/** Every store of a test gets its own prefix; its keys are deleted after the test. */
const prefixes: string[] = [];

async function openStore(prefix = randomPrefix()): Promise<RedisStore> {
  prefixes.push(prefix);
  // A generous command timeout: the contract tests behaviour, and a loaded machine can starve Redis for
  // longer than the production default of 500 ms (the degraded-mode tests use their own short ones).
  const store = new RedisStore({ url: SHARED_REDIS_URL, prefix, commandTimeoutMs: 5000, logger: pino({ level: 'silent' }) });
  await store.connect();
  return store;
}

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(SHARED_REDIS_URL, prefix);
});

runStoreContract('RedisStore', () => openStore(), { makeClock: () => realClock() });

describe('RedisStore specifics', () => {
  it('getStreamOwner: the lease and its owner in one read, as getStream + getOrigin answer them', async () => {
    const store = await openStore();
    try {
      expect(store.eventEpoch()).toBeNull(); // not subscribed yet
      const stop = await store.subscribe(() => undefined);
      expect(store.eventEpoch()).toEqual(expect.any(Number));
      await store.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2', region: 'eu' }, 60_000);
      expect(await store.getStreamOwner('live', 's1')).toBeNull();
      await store.claimStream('live', 's1', 'o1', 60_000);
      expect(await store.getStreamOwner('live', 's1')).toEqual({ lease: await store.getStream('live', 's1'), origin: await store.getOrigin('o1') });
      await store.removeOrigin('o1');
      expect(await store.getStreamOwner('live', 's1')).toBeNull();
      stop();
    } finally {
      await store.close();
    }
    expect(store.eventEpoch()).toBeNull();
  });

  it('owner-cache hints: a same-origin re-claim, an address change without a state change, a heartbeat renewal (never on the event channel)', async () => {
    const store = await openStore();
    const hints: OwnerHint[] = [];
    const events: string[] = [];
    const stopHints = store.onOwnerHints((h) => hints.push(h));
    const stop = await store.subscribe((e) => events.push(e.type));
    const waitHints = async (n: number): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (hints.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(hints.length).toBeGreaterThanOrEqual(n);
    };
    try {
      await store.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 60_000);
      const first = await store.claimStream('live', 's1', 'o1', 60_000);
      // A claim: its new owner view, live until the lease's or the registration's expiry, the earlier.
      await waitHints(1);
      const lease1 = 'lease' in first ? first.lease : undefined;
      const reg = await store.getOrigin('o1');
      const until1 = Math.min(lease1?.expiresAt ?? NaN, reg?.expiresAt ?? NaN);
      expect(hints[0]).toEqual({ owner: { app: 'live', name: 's1', origin: { id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2' }, since: lease1?.since, token: lease1?.token }, until: until1 });
      await store.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 60_000); // same addresses: nothing
      const again = await store.claimStream('live', 's1', 'o1', 60_000); // same origin: new token, no event
      expect('lease' in again && lease1 && again.lease.token > lease1.token).toBe(true);
      await waitHints(2);
      expect(hints[1]).toMatchObject({ owner: { name: 's1', token: 'lease' in again ? again.lease.token : -1 } });
      hints.splice(0, 2);
      await store.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:3', http: 'http://h:2' }, 60_000); // moved, still active
      await waitHints(1);
      expect(hints[0]).toEqual({ origin: 'o1' });
      const hb = { origin: { id: 'o1', rtmp: 'rtmp://h:3', http: 'http://h:2', incarnation: 'i1', startedAt: 1 }, leases: [{ app: 'live', name: 's1' }] };
      const before = Date.now();
      await store.heartbeat(hb, 60_000, 5_000);
      await waitHints(2);
      expect(hints[1]).toEqual({ renewed: 'o1', until: expect.any(Number) });
      const { until } = hints[1] as { until: number };
      expect(until).toBe((await store.getStream('live', 's1'))?.expiresAt); // the renewed lease's expiry (shorter than the registration's)
      expect(until).toBeGreaterThanOrEqual(before + 5_000 - 1000); // Redis TIME, roughly ours
      expect(events).toEqual(['origin.up', 'stream.claimed']); // hints are not events
      // A lease of o1 that lapsed and stays (listed without a token): no renewal hint.
      await store.claimStream('live', 'short', 'o1', 100);
      await new Promise((r) => setTimeout(r, 150));
      const n = hints.length;
      await store.heartbeat({ ...hb, leases: [...hb.leases, { app: 'live', name: 'short' }] }, 60_000, 5_000);
      await store.claimStream('live', 's1', 'o1', 60_000); // a later hint, so the one above would have come by now
      await waitHints(n + 1);
      expect(hints.slice(n)).toEqual([{ owner: expect.objectContaining({ name: 's1' }), until: expect.any(Number) }]);
      // A heartbeat's re-claim of a live lease of its own under another token: only the token changes, no event.
      const m = hints.length;
      await store.heartbeat({ ...hb, leases: [{ app: 'live', name: 's1', token: 1 }] }, 60_000, 5_000);
      await waitHints(m + 2);
      expect(hints.slice(m)).toEqual([{ stream: 'live/s1' }, { renewed: 'o1', until: expect.any(Number) }]);
    } finally {
      stop();
      stopHints();
      await store.close();
    }
  });

  it('bounds avoid marks per origin and in total: the oldest are evicted (with their index entries)', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const store = new RedisStore({ url: SHARED_REDIS_URL, prefix, commandTimeoutMs: 5000, maxAvoidsPerOrigin: 5, maxAvoids: 8, logger: pino({ level: 'silent' }) });
    await store.connect();
    try {
      // Increasing ms: later marks end later, so "soonest-ending" is "oldest".
      for (let i = 0; i < 20; i++) await store.avoidOrigin('live', `s${i}`, 'a', 60_000 + i);
      const kept = [];
      for (let i = 0; i < 20; i++) if ((await store.getAvoids('live', `s${i}`)).length > 0) kept.push(i);
      expect(kept).toEqual([15, 16, 17, 18, 19]);
      for (let i = 0; i < 5; i++) await store.avoidOrigin('live', `t${i}`, 'b', 70_000 + i);
      const all = [];
      for (let i = 0; i < 20; i++) for (const e of await store.getAvoids('live', `s${i}`)) all.push(`${e.originId}:s${i}`);
      for (let i = 0; i < 5; i++) for (const e of await store.getAvoids('live', `t${i}`)) all.push(`${e.originId}:t${i}`);
      expect(all).toEqual(['a:s17', 'a:s18', 'a:s19', 'b:t0', 'b:t1', 'b:t2', 'b:t3', 'b:t4']);
      const keys = await keysUnder(SHARED_REDIS_URL, prefix);
      expect(keys.filter((k) => k.startsWith(`${prefix}avoid:`)).length).toBe(8);
    } finally {
      await store.close();
    }
  });

  it('uses the prefix for every key, cleans up after release, and reports kind redis', async () => {
    const prefix = randomPrefix();
    const store = await openStore(prefix);
    try {
      expect(store.kind).toBe('redis');
      await store.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 60_000);
      const r = await store.claimStream('live', 's1', 'o1', 60_000);
      await store.avoidOrigin('live', 's1', 'o2', 60_000);
      expect(await keysUnder(SHARED_REDIS_URL, prefix)).toEqual(
        ['avoid-all', 'avoid-by:o2', 'avoid:live/s1', 'lease-exp', 'lease:live/s1', 'leases', 'origin-leases:o1', 'origin:o1', 'origins', 'token-max', 'token:live/s1'].map((k) => prefix + k),
      );
      if (!('lease' in r)) throw new Error('claim failed');
      expect(await store.releaseStream('live', 's1', 'o1', r.lease.token)).toBe(true);
      expect(await keysUnder(SHARED_REDIS_URL, prefix)).toEqual(['avoid-all', 'avoid-by:o2', 'avoid:live/s1', 'origin:o1', 'origins', 'token-max', 'token:live/s1'].map((k) => prefix + k));
    } finally {
      await store.close();
    }
  });

  it('two stores on one prefix see the same state and events (replicas)', async () => {
    const prefix = randomPrefix();
    const a = await openStore(prefix);
    const b = await openStore(prefix);
    const seen: string[] = [];
    const stop = await b.subscribe((e) => seen.push(e.type));
    try {
      await a.upsertOrigin({ id: 'o1', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 60_000);
      await a.claimStream('live', 's1', 'o1', 60_000);
      expect((await b.getStream('live', 's1'))?.originId).toBe('o1');
      for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual(['origin.up', 'stream.claimed']);
    } finally {
      stop();
      await a.close();
      await b.close();
    }
  });

  it('an unreachable Redis: connect() gives up after readyTimeoutMs, every call fails fast with STORE_UNAVAILABLE, close() works', async () => {
    await expectUnreachableStoreDegrades(new RedisStore({ url: 'redis://127.0.0.1:1', prefix: randomPrefix(), readyTimeoutMs: 200, logger: pino({ level: 'silent' }) }));
  });

  // redis-sentinel:// is tested the same way in test/integration/discovery-redis-ha.test.ts: ioredis
  // leaves a 2 s timer per failed sentinel query after close(), which would hold this file's run open.
  it.each([['redis-cluster://127.0.0.1:1,127.0.0.1:2']])(
    'degraded the same way on %s: connect() and subscribe() give up after readyTimeoutMs, calls fail fast with STORE_UNAVAILABLE, close() works',
    async (url) => {
      await expectUnreachableStoreDegrades(new RedisStore({ url, prefix: randomPrefix(), readyTimeoutMs: 200, logger: pino({ level: 'silent' }) }));
    },
  );

  it('maps errors: connection trouble → STORE_UNAVAILABLE, a script bug stays a plain error', () => {
    expect(storeError(new Error('Connection is closed.'))).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const loading = Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' });
    expect(storeError(loading)).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const bug = Object.assign(new Error('ERR user_script:1: Script attempted to access nonexistent global variable'), { name: 'ReplyError' });
    expect(storeError(bug)).toBe(bug);
  });

  it('maps cluster and failover replies: CLUSTERDOWN, TRYAGAIN, MOVED, ASK, a script stopped by a cluster change → STORE_UNAVAILABLE; CROSSSLOT stays a bug', () => {
    const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });
    for (const message of [
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'READONLY You can\'t write against a read only replica.',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.',
      'ERR Script attempted to execute a write command while the cluster is down and readonly script: 1234, on @user_script:3.',
      'ERR Command \'get\' in script attempted to access a non local key in a cluster node script: abc',
    ]) {
      expect(storeError(reply(message))).toMatchObject({ code: 'STORE_UNAVAILABLE', message: `redis: ${message}` });
    }
    for (const message of ['MOVED 3999 127.0.0.1:7001', 'ASK 3999 127.0.0.1:7001']) {
      expect(storeError(reply(message))).toMatchObject({ code: 'STORE_UNAVAILABLE', message: `redis: ${message} (a Redis Cluster node: use a redis-cluster:// URL)` });
    }
    for (const plain of ["Cluster isn't ready and enableOfflineQueue options is false", 'Too many Cluster redirections. Last error: ReplyError: MOVED 1 h:1', 'None of startup nodes is available']) {
      expect(storeError(new Error(plain))).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    }
    const crossSlot = reply("CROSSSLOT Keys in request don't hash to the same slot");
    expect(storeError(crossSlot)).toBe(crossSlot);
  });

  it('a bad redisUrl throws RedisUrlError (a ConfigError) at construction, without the password', () => {
    expect(() => new RedisStore({ url: 'redis-sentinel://:hunter2@s1:26379', logger: pino({ level: 'silent' }) })).toThrow(/master name is missing/);
    try {
      new RedisStore({ url: 'redis-sentinel://:hunter2@s1:26379' });
    } catch (err) {
      expect(err).toMatchObject({ name: 'RedisUrlError' });
      expect(String(err)).not.toContain('hunter2');
    }
  });

  it('logs name the target without its password', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const store = new RedisStore({ url: 'redis://:hunter2@127.0.0.1:1/3', prefix: randomPrefix(), readyTimeoutMs: 200, logger });
    await store.connect();
    await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await store.close();
    expect(lines.join('')).toContain('"url":"redis://***@127.0.0.1:1/3"');
    expect(lines.join('')).not.toContain('hunter2');
  });

  it.each([
    [undefined, undefined, { min: '-', max: '+' }],
    ['live', undefined, { min: '[live/', max: '(live0' }],
    [undefined, 'live/s1', { min: '(live/s1', max: '+' }],
    ['live', 'live/s1', { min: '(live/s1', max: '(live0' }],
    ['live', 'a/x', { min: '[live/', max: '(live0' }],
    ['live', 'live0/x', null],
    ['live', 'm/x', null],
  ])('lexRange(%s, %s) → %j', (app, after, expected) => {
    expect(lexRange(app, after)).toEqual(expected);
  });

  it('parseEvent accepts known event types only', () => {
    expect(parseEvent('{"type":"origin.down","data":{"id":"a","reason":"expired"}}')).toEqual({ type: 'origin.down', data: { id: 'a', reason: 'expired' } });
    for (const bad of ['', 'x', '{}', '{"type":"nope","data":{}}', '{"type":"origin.down"}', '{"type":"origin.down","data":null}', '[]']) expect(parseEvent(bad)).toBeNull();
  });
});
