import Redis from 'ioredis';
import pino from 'pino';
import { RedisStore } from '../../discovery/store/redis-store';
import type { Lease, OriginRecordInput } from '../../discovery/store/types';
import type { DiscoveryEvent } from '../../discovery/types';
import { startService, waitFor, type TestProcess } from '../helpers/processes';
import {
  freePort,
  redisCommand,
  redisInfo,
  sentinelFailover,
  startClusterSetup,
  startSentinelSetup,
  type ClusterSetup,
  type RedisProcess,
  type SentinelSetup,
} from '../helpers/redis-servers';
import { expectUnreachableStoreDegrades, randomPrefix } from '../helpers/redis-shared';
import { realClock, runStoreContract } from '../unit/discovery/store-contract';

/**
 * The Redis store on Redis HA setups, on private redis-server processes (test/helpers/redis-servers.ts):
 * the whole store contract on Sentinel (1 master, 1 replica, 3 sentinels) and on Cluster (3 masters
 * with a replica each), then a failover of each: `SENTINEL FAILOVER` through redis-cli, and SIGKILL of
 * the cluster master that owns Cascade's slot. Through a failover writes fail with STORE_UNAVAILABLE
 * (503) for a moment and then succeed against the new master, leases written before it are still
 * there, and the event subscription made before it keeps delivering.
 */

const log = pino({ level: process.env.CASCADE_TEST_LOG ?? 'silent' });
/** Contract time unit: longer than the unit tests' 150 ms, so a loaded 2-core box does not flake. */
const contractClock = (): ReturnType<typeof realClock> => realClock(300, 120);

function reg(id: string): OriginRecordInput {
  return { id, rtmp: `rtmp://10.0.0.1:1935`, http: `http://10.0.0.1:8081` };
}

async function openStore(url: string, prefix = randomPrefix()): Promise<RedisStore> {
  const store = new RedisStore({ url, prefix, logger: log, readyTimeoutMs: 10_000, commandTimeoutMs: 500 });
  await store.connect();
  return store;
}

async function claimOk(store: RedisStore, name: string, originId: string): Promise<Lease> {
  const r = await store.claimStream('live', name, originId, 60_000);
  if (!('lease' in r)) throw new Error(`claim of ${name} by ${originId} lost to ${r.conflict.originId}`);
  return r.lease;
}

/** Until `n` events of `type` for stream `name` arrived (or any event when name is omitted). */
function eventArrived(events: DiscoveryEvent[], type: DiscoveryEvent['type'], name?: string): boolean {
  return events.some((e) => e.type === type && (name === undefined || ('name' in e.data && e.data.name === name)));
}

/**
 * An origin as Leases v2 runs it, fast: one `store.heartbeat` listing every lease it holds, then a
 * claim of one new stream (`hb-N`), one round every `everyMs`. Records when rounds failed and how
 * (error code), so a test can measure the write outage, and which leases a heartbeat had to re-claim:
 * acknowledged writes the failover lost (the promoted replica never got them).
 */
class Heartbeat {
  readonly failures: Array<{ at: number; code: string }> = [];
  readonly successes: number[] = [];
  /** Streams whose claim was acknowledged, and when it was sent. */
  readonly claimed: Array<{ name: string; at: number }> = [];
  /** Leases a heartbeat answered `reclaimed` (the store had lost them). */
  readonly reclaimed: string[] = [];
  /** Anything else a heartbeat answered that it must never answer here (fenced, absent). */
  readonly unexpected: string[] = [];
  private readonly held = new Map<string, { app: string; name: string; token: number; since: number }>();
  private running = true;
  private readonly done: Promise<void>;
  constructor(
    private readonly store: RedisStore,
    private readonly originId: string,
    leases: Lease[],
    everyMs = 50,
  ) {
    for (const l of leases) this.held.set(l.name, { app: l.app, name: l.name, token: l.token, since: l.since });
    this.done = (async () => {
      for (let n = 0; this.running; n++) {
        const at = Date.now();
        try {
          await this.beat();
          const lease = await claimOk(this.store, `hb-${n}`, this.originId);
          this.held.set(lease.name, { app: lease.app, name: lease.name, token: lease.token, since: lease.since });
          this.claimed.push({ name: lease.name, at });
          this.successes.push(at);
        } catch (err) {
          const e = err as { code?: unknown; message?: unknown };
          this.failures.push({ at, code: typeof e.code === 'string' ? e.code : `plain error: ${String(e.message)}` });
        }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  /** One heartbeat with every held lease; returns how many it re-claimed. */
  async beat(): Promise<number> {
    const listed = [...this.held.values()];
    const out = await this.store.heartbeat({ origin: { ...reg(this.originId), incarnation: 'boot-1', startedAt: 1 }, leases: listed }, 60_000, 60_000);
    let reclaimed = 0;
    for (const r of out.leases) {
      if (r.status === 'reclaimed') {
        reclaimed++;
        this.reclaimed.push(r.name);
        this.held.set(r.name, { ...this.held.get(r.name)!, token: r.token! });
      } else if (r.status !== 'renewed') {
        this.unexpected.push(`${r.name}: ${r.status}`);
      }
    }
    return reclaimed;
  }

  /** Every lease the origin holds is in the store. */
  async allHeld(): Promise<boolean> {
    const live = new Set((await this.store.listStreams()).map((l) => l.name));
    return [...this.held.keys()].every((name) => live.has(name));
  }

  /** Rounds that succeeded after `t`. */
  okSince(t: number): number {
    return this.successes.filter((s) => s > t).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/**
 * `cascade discovery --store redis --redis-url URL` from dist/: it serves a registration and a claim,
 * reports the store in /healthz, and exits promptly on SIGTERM (nothing keeps the process alive).
 */
async function discoveryProcessServesAndStops(url: string): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc: TestProcess = await startService(
    'discovery',
    ['--host', '127.0.0.1', '--port', String(port), '--store', 'redis', '--redis-url', url, '--redis-prefix', randomPrefix()],
    `${base}/healthz`,
  );
  try {
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', store: 'redis' });
    const put = await fetch(`${base}/v1/origins/o1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081' }),
    });
    expect(put.status).toBe(200);
    const claim = await fetch(`${base}/v1/streams/live/s1/claim`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ originId: 'o1' }) });
    expect(claim.status).toBe(200);
    expect(await (await fetch(`${base}/v1/streams/live/s1`)).json()).toMatchObject({ origin: { id: 'o1' } });
  } finally {
    const t = Date.now();
    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t).toBeLessThan(3000);
  }
  expect(proc.text).not.toMatch(/"level":(50|60)/);
}

/** Write outage around a failover started at t0: first failure, last failure, first success after it. */
function outage(hb: Heartbeat, t0: number): { failedRounds: number; codes: string[]; firstFailMs: number | null; recoveredMs: number } {
  const fails = hb.failures.filter((f) => f.at >= t0);
  const lastFail = fails.length > 0 ? fails[fails.length - 1].at : t0;
  const recovered = hb.successes.find((s) => s > lastFail) ?? NaN;
  return {
    failedRounds: fails.length,
    codes: [...new Set(fails.map((f) => f.code))],
    firstFailMs: fails.length > 0 ? fails[0].at - t0 : null,
    recoveredMs: recovered - t0,
  };
}

describe('RedisStore on Redis Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  let setup: SentinelSetup | undefined;
  const url = (): string => {
    if (!setup) throw new Error('sentinel setup did not start');
    return setup.url;
  };

  beforeAll(async () => {
    setup = await startSentinelSetup({ sentinels: 3 });
  }, 120_000);

  afterAll(async () => {
    await setup?.stop();
  }, 30_000);

  runStoreContract('RedisStore (redis-sentinel://)', () => openStore(url()), { makeClock: contractClock });

  it('no sentinel reachable: connect() and subscribe() give up after readyTimeoutMs, calls fail fast with STORE_UNAVAILABLE, close() works', async () => {
    // After close(), ioredis keeps a 2 s timer for each failed sentinel query (its default
    // disconnectTimeout on the internal sentinel connections); discovery's main exits regardless.
    await expectUnreachableStoreDegrades(new RedisStore({ url: 'redis-sentinel://127.0.0.1:1,127.0.0.1:2/mymaster', prefix: randomPrefix(), readyTimeoutMs: 200, logger: log }));
  });

  it('a redis:// URL naming the replica: reads work, writes answer STORE_UNAVAILABLE (READONLY)', async () => {
    const s = setup as SentinelSetup;
    const primary = await openStore(url());
    const prefix = primary.prefix;
    const onReplica = await openStore(`redis://127.0.0.1:${s.replica.port}`, prefix);
    try {
      await primary.upsertOrigin(reg('o1'), 60_000);
      expect(Number(await redisCommand(s.master.port, 'WAIT', 1, 5000))).toBe(1);
      expect((await onReplica.getOrigin('o1'))?.id).toBe('o1');
      await expect(onReplica.upsertOrigin(reg('o2'), 60_000)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/READONLY/) });
      await expect(onReplica.claimStream('live', 's1', 'o1', 60_000)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      await onReplica.close();
      await primary.close();
    }
  });

  it('a discovery process on redis-sentinel:// serves and stops promptly', async () => {
    await discoveryProcessServesAndStops(url());
  }, 60_000);

  it('SENTINEL FAILOVER: writes fail (STORE_UNAVAILABLE only) for a moment at most, then succeed on the new master; leases, tokens and the event subscription survive; the next heartbeat re-claims what the failover lost', async () => {
    const s = setup as SentinelSetup;
    const store = await openStore(url());
    const events: DiscoveryEvent[] = [];
    const unsubscribe = await store.subscribe((e) => events.push(e));
    let hb: Heartbeat | undefined;
    try {
      expect(store.mode).toBe('sentinel');
      expect(await s.currentMasterPort()).toBe(s.master.port);
      await store.upsertOrigin(reg('o1'), 60_000);
      const leases = [await claimOk(store, 's1', 'o1'), await claimOk(store, 's2', 'o1'), await claimOk(store, 's3', 'o1')];
      await waitFor(() => eventArrived(events, 'stream.claimed', 's3'), 10_000, 'stream.claimed s3 before the failover');
      // Replication is asynchronous: make sure the replica has everything before promoting it.
      expect(Number(await redisCommand(s.master.port, 'WAIT', 1, 5000))).toBe(1);

      hb = new Heartbeat(store, 'o1', leases);
      await waitFor(() => hb!.successes.length >= 3, 10_000, 'heartbeats before the failover');
      const t0 = Date.now();
      await sentinelFailover(s);
      await waitFor(async () => (await s.currentMasterPort()) === s.replica.port, 30_000, 'the sentinels to name the replica as master');
      const switchedMs = Date.now() - t0;
      // The sentinels demote the old master (and cut its clients): from then on writes can only succeed on the new one.
      await waitFor(async () => (await redisInfo(s.master.port, 'replication')).role === 'slave', 30_000, 'the old master to become a replica');
      const demoted = Date.now();
      await waitFor(() => hb!.okSince(demoted) >= 5 && hb!.okSince(t0 + outage(hb!, t0).recoveredMs) >= 5, 30_000, 'heartbeats to succeed again after the failover');
      await hb.stop();
      const o = outage(hb, t0);
      // Measured on a loaded 2-core box; printed for the record.
      console.log(
        `sentinel failover: sentinels switched after ${switchedMs} ms; writes: ${o.failedRounds} failed rounds (${o.codes.join(', ') || 'none'}), first failure +${o.firstFailMs} ms, writes ok again +${o.recoveredMs} ms; heartbeats re-claimed ${hb.reclaimed.length} of ${hb.claimed.length + leases.length} leases (acknowledged by the old master after the promotion, lost); old master demoted +${demoted - t0} ms`,
      );
      // The next heartbeat rebuilt what the failover lost: nothing fenced or absent, everything held is there.
      expect(hb.unexpected).toEqual([]);
      expect(await hb.beat()).toBe(0);
      expect(await hb.allHeld()).toBe(true);
      // Only STORE_UNAVAILABLE (503) while it lasts: never a lost lease, never a plain (500) error.
      for (const code of o.codes) expect(code).toBe('STORE_UNAVAILABLE');
      expect(o.recoveredMs).toBeLessThan(15_000);

      // The writes land on the promoted replica.
      expect((await redisInfo(s.replica.port, 'replication')).role).toBe('master');
      const rec = JSON.parse(String(await redisCommand(s.replica.port, 'GET', `${store.prefix}origin:o1`))) as { updatedAt: number };
      expect(rec.updatedAt).toBeGreaterThan(demoted);

      // Leases from before the failover renew with their tokens; new tokens keep growing.
      for (const l of leases) expect(await store.renewStream('live', l.name, 'o1', l.token, 60_000)).toMatchObject({ token: l.token, since: l.since });
      const s4 = await claimOk(store, 's4', 'o1');
      expect(s4.token).toBeGreaterThan(Math.max(...leases.map((l) => l.token)));
      // The subscription made before the failover (its connection was killed on the old master) delivers.
      await waitFor(() => eventArrived(events, 'stream.claimed', 's4'), 15_000, 'stream.claimed s4 after the failover');
      expect(await store.releaseStream('live', 's4', 'o1', s4.token)).toBe(true);
      await waitFor(() => eventArrived(events, 'stream.released', 's4'), 15_000, 'stream.released s4 after the failover');
    } finally {
      await hb?.stop();
      unsubscribe();
      await store.close();
    }
  }, 120_000);
});

describe('RedisStore on Redis Cluster (3 masters, 1 replica each)', () => {
  let setup: ClusterSetup | undefined;
  const url = (): string => {
    if (!setup) throw new Error('cluster setup did not start');
    return setup.url;
  };

  beforeAll(async () => {
    setup = await startClusterSetup({ masters: 3, replicasPerMaster: 1 });
  }, 180_000);

  afterAll(async () => {
    await setup?.stop();
  }, 30_000);

  runStoreContract('RedisStore (redis-cluster://)', () => openStore(url()), { makeClock: contractClock });

  it('a discovery process on redis-cluster:// serves and stops promptly', async () => {
    await discoveryProcessServesAndStops(url());
  }, 60_000);

  it('wraps the prefix in a hash tag: every key in one slot on one master; every node hears the events', async () => {
    const c = setup as ClusterSetup;
    const configured = randomPrefix();
    const store = await openStore(url(), configured);
    const listeners: Redis[] = [];
    try {
      expect(store.mode).toBe('cluster');
      expect(store.prefix).toBe(`{${configured.slice(0, -1)}}:`);
      // A plain subscriber on every node: PUBLISH inside a script reaches all of them.
      const heard = new Map<number, string[]>();
      for (const n of c.nodes) {
        const sub = new Redis({ host: '127.0.0.1', port: n.port, lazyConnect: true, retryStrategy: () => null });
        sub.on('error', () => undefined);
        listeners.push(sub);
        await sub.connect();
        await sub.subscribe(`${store.prefix}events`);
        heard.set(n.port, []);
        sub.on('message', (_channel: string, message: string) => heard.get(n.port)!.push((JSON.parse(message) as DiscoveryEvent).type));
      }
      await store.upsertOrigin(reg('o1'), 60_000);
      const lease = await claimOk(store, 's1', 'o1');
      await store.avoidOrigin('live', 's1', 'o2', 60_000);
      await waitFor(() => [...heard.values()].every((h) => h.includes('stream.claimed')), 10_000, 'every node to hear stream.claimed');
      expect([...heard.values()].every((h) => h[0] === 'origin.up')).toBe(true);

      const ownerPort = await c.slotOwnerPort(`${store.prefix}origins`);
      const slot = Number(await redisCommand(ownerPort, 'CLUSTER', 'KEYSLOT', `${store.prefix}origins`));
      const keys = (await redisCommand(ownerPort, 'KEYS', `${store.prefix.replace(/[{}*?[\]\\]/g, '\\$&')}*`)) as string[];
      expect(keys.sort()).toEqual(
        ['avoid-all', 'avoid-by:o2', 'avoid:live/s1', 'lease-exp', 'lease:live/s1', 'leases', 'origin-leases:o1', 'origin:o1', 'origins', 'token-max', 'token:live/s1'].map((k) => store.prefix + k),
      );
      expect(Number(await redisCommand(ownerPort, 'CLUSTER', 'COUNTKEYSINSLOT', slot))).toBeGreaterThanOrEqual(keys.length);
      for (const k of keys) expect(Number(await redisCommand(ownerPort, 'CLUSTER', 'KEYSLOT', k))).toBe(slot);
      expect(await store.releaseStream('live', 's1', 'o1', lease.token)).toBe(true);
      expect(await store.countStreams()).toBe(0);
      await store.ping();
    } finally {
      for (const l of listeners) l.disconnect();
      await store.close();
    }
  }, 60_000);

  it('SIGKILL of the master owning the slot: writes answer STORE_UNAVAILABLE until its replica takes over, then succeed; leases and events survive; the next heartbeat re-claims what was lost', async () => {
    const c = setup as ClusterSetup;
    const store = await openStore(url());
    const events: DiscoveryEvent[] = [];
    const unsubscribe = await store.subscribe((e) => events.push(e));
    let hb: Heartbeat | undefined;
    try {
      await store.upsertOrigin(reg('o1'), 60_000);
      const leases = [await claimOk(store, 's1', 'o1'), await claimOk(store, 's2', 'o1')];
      await waitFor(() => eventArrived(events, 'stream.claimed', 's2'), 10_000, 'stream.claimed s2 before the failover');
      const ownerPort = await c.slotOwnerPort(`${store.prefix}origins`);
      const owner = c.nodes.find((n) => n.port === ownerPort) as RedisProcess;
      expect(Number(await redisCommand(ownerPort, 'WAIT', 1, 5000))).toBe(1);

      hb = new Heartbeat(store, 'o1', leases);
      await waitFor(() => hb!.successes.length >= 3, 10_000, 'heartbeats before the failover');
      const t0 = Date.now();
      await owner.kill('SIGKILL');
      await waitFor(
        async () => {
          const p = await c.slotOwnerPort(`${store.prefix}origins`);
          return p !== 0 && p !== ownerPort;
        },
        60_000,
        'a replica to take over the slot',
      );
      const promoted = Date.now();
      const promotedMs = promoted - t0;
      await waitFor(() => hb!.okSince(promoted) >= 5 && hb!.okSince(t0 + outage(hb!, t0).recoveredMs) >= 5, 60_000, 'heartbeats to succeed again after the failover');
      await hb.stop();
      const o = outage(hb, t0);
      console.log(
        `cluster failover (SIGKILL of the slot's master): replica serving the slot after ${promotedMs} ms; writes: ${o.failedRounds} failed rounds (${o.codes.join(', ') || 'none'}), first failure +${o.firstFailMs} ms, writes ok again +${o.recoveredMs} ms; heartbeats re-claimed ${hb.reclaimed.length} of ${hb.claimed.length + leases.length} leases`,
      );
      expect(hb.unexpected).toEqual([]);
      expect(await hb.beat()).toBe(0);
      expect(await hb.allHeld()).toBe(true);
      for (const code of o.codes) expect(code).toBe('STORE_UNAVAILABLE');
      expect(o.failedRounds).toBeGreaterThan(0);
      expect(o.recoveredMs).toBeLessThan(30_000);

      for (const l of leases) expect(await store.renewStream('live', l.name, 'o1', l.token, 60_000)).toMatchObject({ token: l.token });
      const s3 = await claimOk(store, 's3', 'o1');
      expect(s3.token).toBeGreaterThan(Math.max(...leases.map((l) => l.token)));
      await waitFor(() => eventArrived(events, 'stream.claimed', 's3'), 15_000, 'stream.claimed s3 after the failover');
      await store.ping();
    } finally {
      await hb?.stop();
      unsubscribe();
      await store.close();
    }
  }, 180_000);
});
