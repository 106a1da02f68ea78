import { CascadeError } from '../../../common/errors';
import type { DiscoveryStore, Lease, OriginRecordInput } from '../../../discovery/store/types';

/** A controllable clock handed to the store under test. */
export interface TestClock {
  now(): number;
  /** Moves time forward (a store on a real clock would sleep here). */
  advance(ms: number): Promise<void>;
}

export function fakeClock(start = 1_700_000_000_000): TestClock {
  let t = start;
  return {
    now: () => t,
    advance: async (ms: number) => {
      t += ms;
    },
  };
}

export type MakeStore = (clock: TestClock) => DiscoveryStore | Promise<DiscoveryStore>;

export interface StoreContractOptions {
  /** Make the clock for each test (default: `fakeClock()`). */
  makeClock?: () => TestClock;
}

const TTL = 6000;
const LEASE = 6000;

function reg(id: string, extra: Partial<OriginRecordInput> = {}): OriginRecordInput {
  return { id, rtmp: `rtmp://10.0.0.1:${1900 + id.length}`, http: `http://10.0.0.1:${8000 + id.length}`, ...extra };
}

function isLease(r: { lease: Lease } | { conflict: Lease }): r is { lease: Lease } {
  return 'lease' in r;
}

/**
 * The behaviour every `DiscoveryStore` must have (DESIGN.md section 3, "Leases"). Used by
 * memory-store.test.ts; a Redis store runs the same suite.
 */
export function runStoreContract(name: string, makeStore: MakeStore, opts: StoreContractOptions = {}): void {
  describe(`DiscoveryStore contract: ${name}`, () => {
    let clock: TestClock;
    let store: DiscoveryStore;

    beforeEach(async () => {
      clock = (opts.makeClock ?? fakeClock)();
      store = await makeStore(clock);
    });

    afterEach(async () => {
      await store.close();
    });

    async function claimOk(app: string, stream: string, originId: string, leaseMs = LEASE): Promise<Lease> {
      const r = await store.claimStream(app, stream, originId, leaseMs);
      if (!isLease(r)) throw new Error(`expected ${originId} to win ${app}/${stream}, owner is ${r.conflict.originId}`);
      return r.lease;
    }

    describe('origins', () => {
      it('upserts, reads and lists registrations with defaults', async () => {
        const t0 = clock.now();
        const o = await store.upsertOrigin(reg('o1', { region: 'eu', capacity: 24, load: { weight: 3, cpu: 12.5 } }), TTL);
        expect(o).toMatchObject({ id: 'o1', rtmp: 'rtmp://10.0.0.1:1902', state: 'active', region: 'eu', capacity: 24, load: { weight: 3, cpu: 12.5 } });
        expect(o.updatedAt).toBe(t0);
        expect(o.expiresAt).toBe(t0 + TTL);
        await store.upsertOrigin(reg('o2', { state: 'draining' }), TTL);
        expect(await store.getOrigin('o2')).toMatchObject({ id: 'o2', state: 'draining', load: {} });
        expect((await store.listOrigins()).map((x) => x.id).sort()).toEqual(['o1', 'o2']);
        expect(await store.getOrigin('nope')).toBeNull();
      });

      it('a heartbeat replaces the registration and refreshes its TTL', async () => {
        await store.upsertOrigin(reg('o1', { load: { viewers: 1 } }), TTL);
        await clock.advance(TTL - 1000);
        const again = await store.upsertOrigin(reg('o1', { load: { viewers: 7 }, state: 'draining' }), TTL);
        expect(again.updatedAt).toBe(clock.now());
        await clock.advance(TTL - 1000);
        expect(await store.getOrigin('o1')).toMatchObject({ state: 'draining', load: { viewers: 7 } });
      });

      it('expires a registration ttlMs after the last heartbeat', async () => {
        await store.upsertOrigin(reg('o1'), TTL);
        await clock.advance(TTL - 1);
        expect(await store.getOrigin('o1')).not.toBeNull();
        await clock.advance(1);
        expect(await store.getOrigin('o1')).toBeNull();
        expect(await store.listOrigins()).toEqual([]);
      });

      it('removeOrigin reports whether it was registered', async () => {
        await store.upsertOrigin(reg('o1'), TTL);
        expect(await store.removeOrigin('o1')).toBe(true);
        expect(await store.removeOrigin('o1')).toBe(false);
        expect(await store.getOrigin('o1')).toBeNull();
      });

      it('returns copies: mutating a result does not change the store', async () => {
        const o = await store.upsertOrigin(reg('o1', { load: { viewers: 1 } }), TTL);
        o.load.viewers = 99;
        o.state = 'draining';
        expect(await store.getOrigin('o1')).toMatchObject({ state: 'active', load: { viewers: 1 } });
      });
    });

    describe('leases', () => {
      beforeEach(async () => {
        await store.upsertOrigin(reg('a'), TTL);
        await store.upsertOrigin(reg('b'), TTL);
      });

      it('claims an absent stream', async () => {
        const t0 = clock.now();
        const lease = await claimOk('live', 's1', 'a');
        expect(lease).toMatchObject({ app: 'live', name: 's1', originId: 'a', since: t0, expiresAt: t0 + LEASE });
        expect(Number.isSafeInteger(lease.token) && lease.token > 0).toBe(true);
        expect(await store.getStream('live', 's1')).toEqual(lease);
        expect(await store.listStreams()).toEqual([lease]);
      });

      it('refuses a claim by an unregistered origin with ORIGIN_NOT_FOUND', async () => {
        await expect(store.claimStream('live', 's1', 'ghost', LEASE)).rejects.toMatchObject({ code: 'ORIGIN_NOT_FOUND' });
        await expect(store.claimStream('live', 's1', 'ghost', LEASE)).rejects.toBeInstanceOf(CascadeError);
        expect(await store.getStream('live', 's1')).toBeNull();
      });

      it('answers a claim of a held stream with the current owner', async () => {
        const lease = await claimOk('live', 's1', 'a');
        const r = await store.claimStream('live', 's1', 'b', LEASE);
        expect(r).toEqual({ conflict: lease });
        expect(await store.getStream('live', 's1')).toEqual(lease);
      });

      it('50 concurrent claims of one stream: exactly one winner, everyone else sees it', async () => {
        const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
        await Promise.all(ids.map((id) => store.upsertOrigin(reg(id), TTL)));
        const results = await Promise.all(ids.map((id) => store.claimStream('live', 'hot', id, LEASE)));
        const winners = results.filter(isLease);
        expect(winners).toHaveLength(1);
        const winner = winners[0].lease;
        for (const r of results) {
          if (!isLease(r)) expect(r.conflict).toEqual(winner);
        }
        expect(await store.getStream('live', 'hot')).toEqual(winner);
      });

      it('concurrent claims of different streams all succeed', async () => {
        const names = Array.from({ length: 20 }, (_, i) => `s${i}`);
        const results = await Promise.all(names.map((n, i) => store.claimStream('live', n, i % 2 ? 'a' : 'b', LEASE)));
        expect(results.every(isLease)).toBe(true);
        expect(await store.listStreams()).toHaveLength(20);
      });

      it('keeps apps apart: live/s1 and other/s1 are different streams', async () => {
        await claimOk('live', 's1', 'a');
        await claimOk('other', 's1', 'b');
        expect((await store.getStream('other', 's1'))?.originId).toBe('b');
      });

      it('a re-claim by the holder gets a newer token, keeps since, and fences the old token', async () => {
        const first = await claimOk('live', 's1', 'a');
        await clock.advance(1000);
        const second = await claimOk('live', 's1', 'a');
        expect(second.token).toBeGreaterThan(first.token);
        expect(second.since).toBe(first.since);
        expect(second.expiresAt).toBe(clock.now() + LEASE);
        expect(await store.renewStream('live', 's1', 'a', first.token, LEASE)).toBeNull();
        expect(await store.releaseStream('live', 's1', 'a', first.token)).toBe(false);
        expect(await store.renewStream('live', 's1', 'a', second.token, LEASE)).not.toBeNull();
      });

      it('tokens increase strictly across claim/release cycles and owners', async () => {
        const tokens: number[] = [];
        for (let i = 0; i < 20; i++) {
          const owner = i % 3 === 0 ? 'b' : 'a';
          const lease = await claimOk('live', 's1', owner);
          tokens.push(lease.token);
          expect(await store.releaseStream('live', 's1', owner, lease.token)).toBe(true);
          expect(await store.getStream('live', 's1')).toBeNull();
        }
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
      });

      it('renew extends the lease past its first expiry', async () => {
        const lease = await claimOk('live', 's1', 'a');
        for (let i = 0; i < 5; i++) {
          await clock.advance(LEASE - 1000);
          await store.upsertOrigin(reg('a'), TTL);
          const renewed = await store.renewStream('live', 's1', 'a', lease.token, LEASE);
          expect(renewed).toMatchObject({ token: lease.token, since: lease.since, expiresAt: clock.now() + LEASE });
        }
        expect((await store.getStream('live', 's1'))?.token).toBe(lease.token);
      });

      it('renew and release need the holder and its token', async () => {
        const lease = await claimOk('live', 's1', 'a');
        expect(await store.renewStream('live', 's1', 'b', lease.token, LEASE)).toBeNull();
        expect(await store.renewStream('live', 's1', 'a', lease.token + 1, LEASE)).toBeNull();
        expect(await store.releaseStream('live', 's1', 'b', lease.token)).toBe(false);
        expect(await store.releaseStream('live', 's1', 'a', lease.token - 1)).toBe(false);
        expect(await store.getStream('live', 's1')).toEqual(lease);
        expect(await store.renewStream('live', 'unknown', 'a', lease.token, LEASE)).toBeNull();
        expect(await store.releaseStream('live', 'unknown', 'a', lease.token)).toBe(false);
      });

      it('release frees the stream at once; a second release is rejected', async () => {
        const lease = await claimOk('live', 's1', 'a');
        expect(await store.releaseStream('live', 's1', 'a', lease.token)).toBe(true);
        expect(await store.releaseStream('live', 's1', 'a', lease.token)).toBe(false);
        expect(await store.getStream('live', 's1')).toBeNull();
        const next = await claimOk('live', 's1', 'b');
        expect(next.token).toBeGreaterThan(lease.token);
      });

      it('an expired lease is claimable by another origin; the stale owner cannot renew or release', async () => {
        const old = await claimOk('live', 's1', 'a', 3000);
        await clock.advance(3000);
        expect(await store.getStream('live', 's1')).toBeNull();
        const fresh = await claimOk('live', 's1', 'b');
        expect(fresh.token).toBeGreaterThan(old.token);
        expect(fresh.since).toBe(clock.now());
        expect(await store.renewStream('live', 's1', 'a', old.token, LEASE)).toBeNull();
        expect(await store.releaseStream('live', 's1', 'a', old.token)).toBe(false);
        expect(await store.getStream('live', 's1')).toEqual(fresh);
      });

      it('renewing an expired lease fails even with the right token', async () => {
        const lease = await claimOk('live', 's1', 'a', 3000);
        await clock.advance(3000);
        expect(await store.renewStream('live', 's1', 'a', lease.token, LEASE)).toBeNull();
      });

      it('when an origin registration expires, its leases are dropped at once', async () => {
        const long = TTL * 10;
        await claimOk('live', 's1', 'a', long);
        await claimOk('live', 's2', 'a', long);
        const keep = await claimOk('live', 's3', 'b', long);
        await clock.advance(TTL - 1000);
        await store.upsertOrigin(reg('b'), TTL); // b heartbeats, a does not
        await clock.advance(1000);
        expect(await store.getOrigin('a')).toBeNull();
        expect(await store.getStream('live', 's1')).toBeNull();
        expect(await store.listStreams()).toEqual([keep]);
        // The leases were long, but they went with their origin: another origin claims now.
        await claimOk('live', 's1', 'b');
        await claimOk('live', 's2', 'b');
      });

      it('removing an origin drops its leases at once', async () => {
        const lease = await claimOk('live', 's1', 'a');
        await store.removeOrigin('a');
        expect(await store.getStream('live', 's1')).toBeNull();
        expect(await store.listStreams()).toEqual([]);
        expect(await store.renewStream('live', 's1', 'a', lease.token, LEASE)).toBeNull();
        // Re-registering does not bring the leases back.
        await store.upsertOrigin(reg('a'), TTL);
        expect(await store.getStream('live', 's1')).toBeNull();
      });

      it('a draining origin keeps its leases', async () => {
        const lease = await claimOk('live', 's1', 'a');
        await store.upsertOrigin(reg('a', { state: 'draining' }), TTL);
        expect(await store.getStream('live', 's1')).toEqual(lease);
      });
    });

    it('ping resolves while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
