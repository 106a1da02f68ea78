import { CascadeError, StaleIncarnationError, TooManyEdgesError } from '../../../common/errors';
import type { DiscoveryStore, EdgeRecordInput, HeartbeatOutcome, Lease, OriginRecordInput } from '../../../discovery/store/types';
import type { DiscoveryEvent, HeartbeatLease } from '../../../discovery/types';
import { until } from '../../helpers/wait';

/**
 * The clock a contract run uses. An injected clock (`fakeClock`, MemoryStore) moves time without
 * sleeping and the assertions are exact; a real clock (`realClock`, RedisStore, whose TTLs and
 * timestamps come from Redis' own clock) sleeps through short TTLs and allows `slack` ms.
 */
export interface TestClock {
  now(): number;
  /** Moves time forward (a store on a real clock sleeps here). */
  advance(ms: number): Promise<void>;
  /** Tolerance of time assertions in ms: 0 when the store reads this very clock. */
  readonly slack: number;
  /** The contract's time unit in ms: TTLs are 6 units. 1000 on an injected clock. */
  readonly unit: number;
}

export function fakeClock(start = 1_700_000_000_000): TestClock {
  let t = start;
  return {
    now: () => t,
    advance: async (ms: number) => {
      t += ms;
    },
    slack: 0,
    unit: 1000,
  };
}

/** Wall-clock time: TTLs of 6 × `unit` ms, assertions within `slack` ms. */
export function realClock(unit = 150, slack = 50): TestClock {
  return {
    now: () => Date.now(),
    advance: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
    slack,
    unit,
  };
}

export type MakeStore = (clock: TestClock) => DiscoveryStore | Promise<DiscoveryStore>;

export interface StoreContractOptions {
  /** Make the clock for each test (default: `fakeClock()`). */
  makeClock?: () => TestClock;
}

function reg(id: string, extra: Partial<OriginRecordInput> = {}): OriginRecordInput {
  return { id, rtmp: `rtmp://10.0.0.1:${1900 + id.length}`, http: `http://10.0.0.1:${8000 + id.length}`, ...extra };
}

function edge(id: string, extra: Partial<EdgeRecordInput> = {}): EdgeRecordInput {
  return {
    id,
    rtmp: 'rtmp://10.0.1.1:1935',
    http: 'http://10.0.1.1:8080',
    state: 'active',
    load: { viewers: 3, egressBps: 3_000_000, streams: 1 },
    streams: [{ app: 'live', name: 's1', viewers: { rtmp: 1, flv: 1, hls: 1 }, egressBps: 3_000_000, upstream: 'o1', state: 'live' }],
    ...extra,
  };
}

function isLease(r: { lease: Lease } | { conflict: Lease }): r is { lease: Lease } {
  return 'lease' in r;
}

/**
 * The behaviour every `DiscoveryStore` must have (docs/design.md section 3, "Leases"). Used by
 * memory-store.test.ts (injected clock) and test/integration/discovery-redis-store.test.ts (real Redis,
 * real clock).
 */
export function runStoreContract(name: string, makeStore: MakeStore, opts: StoreContractOptions = {}): void {
  describe(`DiscoveryStore contract: ${name}`, () => {
    let clock: TestClock;
    let store: DiscoveryStore;
    /** Origin TTL and default lease: 6 units (6 s on the injected clock). */
    let TTL: number;
    let LEASE: number;
    let U: number;

    beforeEach(async () => {
      clock = (opts.makeClock ?? fakeClock)();
      U = clock.unit;
      TTL = 6 * U;
      LEASE = 6 * U;
      store = await makeStore(clock);
    });

    afterEach(async () => {
      await store.close();
    });

    /** `expected` exactly (injected clock) or within the clock's slack. */
    function near(expected: number): number {
      if (clock.slack === 0) return expected;
      const slack = clock.slack;
      return {
        asymmetricMatch: (actual: unknown) => typeof actual === 'number' && Math.abs(actual - expected) <= slack,
        toString: () => `≈${expected}`,
        toAsymmetricMatcher: () => `${expected} ± ${slack}`,
      } as unknown as number;
    }

    /** Sleeps/moves to just before `ms` from the last operation (safely before on a real clock). */
    async function justBefore(ms: number): Promise<number> {
      const step = clock.slack === 0 ? ms - 1 : ms - 3 * clock.slack;
      await clock.advance(step);
      return step;
    }

    /** Moves past the instant `ms` after the last operation (exactly onto it on the injected clock). */
    async function past(ms: number): Promise<void> {
      await clock.advance(ms + clock.slack);
    }

    async function claimOk(app: string, stream: string, originId: string, leaseMs = LEASE): Promise<Lease> {
      const r = await store.claimStream(app, stream, originId, leaseMs);
      if (!isLease(r)) throw new Error(`expected ${originId} to win ${app}/${stream}, owner is ${r.conflict.originId}`);
      return r.lease;
    }

    /** Collects events; `waitFor(n)` resolves once n arrived (Redis delivers them asynchronously). */
    async function recordEvents(): Promise<{ events: DiscoveryEvent[]; waitFor(n: number): Promise<DiscoveryEvent[]>; stop(): void }> {
      const events: DiscoveryEvent[] = [];
      const stop = await store.subscribe((e) => events.push(e));
      return {
        events,
        stop,
        /** The events once `n` arrived, or what arrived in 3 s (the caller's expect shows the difference). */
        async waitFor(n: number) {
          await until(`${n} events`, () => events.length >= n, 3000, 5).catch(() => undefined);
          return events;
        },
      };
    }

    describe('origins', () => {
      it('upserts, reads and lists registrations with defaults', async () => {
        const t0 = clock.now();
        const o = await store.upsertOrigin(reg('o1', { region: 'eu', capacity: 24, load: { weight: 3, cpu: 12.5 } }), TTL);
        expect(o).toMatchObject({ id: 'o1', rtmp: 'rtmp://10.0.0.1:1902', state: 'active', region: 'eu', capacity: 24, load: { weight: 3, cpu: 12.5 } });
        expect(o.updatedAt).toEqual(near(t0));
        expect(o.expiresAt).toBe(o.updatedAt + TTL);
        expect(await store.getOrigin('o1')).toEqual(o);
        await store.upsertOrigin(reg('o2', { state: 'draining' }), TTL);
        expect(await store.getOrigin('o2')).toMatchObject({ id: 'o2', state: 'draining', load: {} });
        expect((await store.listOrigins()).map((x) => x.id).sort()).toEqual(['o1', 'o2']);
        expect(await store.getOrigin('nope')).toBeNull();
      });

      it('keeps every load field and odd values exactly', async () => {
        const load = { weight: 0.30000000000000004, cpu: 412.75, publishers: 3, viewers: 123456, ingressBps: 2.6e6, egressBps: 1234567890123.25 };
        const o = await store.upsertOrigin(reg('o1', { load, api: 'h:1', region: '' }), TTL);
        expect(o.load).toEqual(load);
        expect(await store.getOrigin('o1')).toMatchObject({ load, api: 'h:1', region: '' });
      });

      it('a heartbeat replaces the registration and refreshes its TTL', async () => {
        await store.upsertOrigin(reg('o1', { load: { viewers: 1 } }), TTL);
        await clock.advance(TTL - U);
        const again = await store.upsertOrigin(reg('o1', { load: { viewers: 7 }, state: 'draining' }), TTL);
        expect(again.updatedAt).toEqual(near(clock.now()));
        await clock.advance(TTL - U);
        expect(await store.getOrigin('o1')).toMatchObject({ state: 'draining', load: { viewers: 7 } });
      });

      it('expires a registration ttlMs after the last heartbeat', async () => {
        await store.upsertOrigin(reg('o1'), TTL);
        const waited = await justBefore(TTL);
        expect(await store.getOrigin('o1')).not.toBeNull();
        await past(TTL - waited);
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
        expect(lease).toMatchObject({ app: 'live', name: 's1', originId: 'a', since: near(t0), expiresAt: near(t0 + LEASE) });
        expect(lease.expiresAt).toBe(lease.since + LEASE);
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
        expect(await store.countStreams()).toBe(20);
      });

      it('keeps apps apart: live/s1 and other/s1 are different streams', async () => {
        await claimOk('live', 's1', 'a');
        await claimOk('other', 's1', 'b');
        expect((await store.getStream('other', 's1'))?.originId).toBe('b');
      });

      it('a re-claim by the holder gets a newer token, keeps since, and fences the old token', async () => {
        const first = await claimOk('live', 's1', 'a');
        await clock.advance(U);
        const second = await claimOk('live', 's1', 'a');
        expect(second.token).toBeGreaterThan(first.token);
        expect(second.since).toBe(first.since);
        expect(second.expiresAt).toEqual(near(clock.now() + LEASE));
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

      it('tokens keep increasing across expiry, owner loss and interleaved streams', async () => {
        const seen: number[] = [];
        for (let i = 0; i < 5; i++) {
          seen.push((await claimOk('live', 'm', 'a', U)).token);
          await claimOk('live', `other${i}`, 'b');
          await past(U);
          seen.push((await claimOk('live', 'm', 'b')).token);
          await store.removeOrigin('b');
          await store.upsertOrigin(reg('b'), TTL);
          await store.upsertOrigin(reg('a'), TTL);
        }
        for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
      });

      it('renew extends the lease past its first expiry', async () => {
        const lease = await claimOk('live', 's1', 'a');
        for (let i = 0; i < 5; i++) {
          await clock.advance(LEASE - U);
          await store.upsertOrigin(reg('a'), TTL);
          const renewed = await store.renewStream('live', 's1', 'a', lease.token, LEASE);
          expect(renewed).toMatchObject({ token: lease.token, since: lease.since, expiresAt: near(clock.now() + LEASE) });
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
        const old = await claimOk('live', 's1', 'a', 3 * U);
        await past(3 * U);
        expect(await store.getStream('live', 's1')).toBeNull();
        const r = await store.claimStream('live', 's1', 'b', LEASE);
        if (!isLease(r)) throw new Error('expected b to win');
        const fresh = r.lease;
        expect(r.moved).toEqual({ from: 'a', reason: 'expired' });
        expect(fresh.token).toBeGreaterThan(old.token);
        expect(fresh.since).toEqual(near(clock.now()));
        expect(await store.renewStream('live', 's1', 'a', old.token, LEASE)).toBeNull();
        expect(await store.releaseStream('live', 's1', 'a', old.token)).toBe(false);
        expect(await store.getStream('live', 's1')).toEqual(fresh);
      });

      it('renewing an expired lease fails even with the right token', async () => {
        const lease = await claimOk('live', 's1', 'a', 3 * U);
        await past(3 * U);
        expect(await store.renewStream('live', 's1', 'a', lease.token, LEASE)).toBeNull();
      });

      it('a claim with breakToken takes over only the lease it names (owner found dead)', async () => {
        const held = await claimOk('live', 's1', 'a');
        expect(await store.claimStream('live', 's1', 'b', LEASE, { breakToken: held.token + 1 })).toEqual({ conflict: held });
        const r = await store.claimStream('live', 's1', 'b', LEASE, { breakToken: held.token });
        if (!isLease(r)) throw new Error('expected the break to succeed');
        expect(r.moved).toEqual({ from: 'a', reason: 'owner-dead' });
        expect(r.lease).toMatchObject({ originId: 'b', since: near(clock.now()) });
        expect(r.lease.token).toBeGreaterThan(held.token);
        expect(await store.renewStream('live', 's1', 'a', held.token, LEASE)).toBeNull();
        // The old owner's renew is fenced; a break naming the old token no longer matches.
        expect(await store.claimStream('live', 's1', 'a', LEASE, { breakToken: held.token })).toEqual({ conflict: r.lease });
        // breakToken on a free stream or by the holder is a plain claim.
        const again = await store.claimStream('live', 's1', 'b', LEASE, { breakToken: 12345 });
        expect(isLease(again) && again.moved).toBeFalsy();
      });

      it('when an origin registration expires, its leases are dropped at once', async () => {
        const long = TTL * 10;
        await claimOk('live', 's1', 'a', long);
        await claimOk('live', 's2', 'a', long);
        const keep = await claimOk('live', 's3', 'b', long);
        await clock.advance(TTL - U);
        await store.upsertOrigin(reg('b'), TTL); // b heartbeats, a does not
        await past(U);
        expect(await store.getOrigin('a')).toBeNull();
        expect(await store.getStream('live', 's1')).toBeNull();
        expect(await store.listStreams()).toEqual([keep]);
        // The leases were long, but they went with their origin: another origin claims now.
        await claimOk('live', 's1', 'b');
        await claimOk('live', 's2', 'b');
      });

      it('an origin that expired and registers again does not get its leases back', async () => {
        await claimOk('live', 's1', 'a', TTL * 10);
        await past(TTL);
        await store.upsertOrigin(reg('a'), TTL);
        expect(await store.getStream('live', 's1')).toBeNull();
        expect(await store.listStreams()).toEqual([]);
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

    describe('paging', () => {
      beforeEach(async () => {
        await store.upsertOrigin(reg('a'), TTL);
        await store.upsertOrigin(reg('b'), TTL);
        // Byte order: `a-b/` < `a/` ('-' < '/'), `live/S` < `live/s`.
        const streams: Array<[string, string, string]> = [
          ['live', 's3', 'a'],
          ['live', 's1', 'b'],
          ['live', 'S2', 'a'],
          ['a', 'x', 'b'],
          ['a-b', 'x', 'a'],
          ['live0', 'z', 'a'],
          ['other', 'q', 'b'],
        ];
        for (const [app, name, origin] of streams) await claimOk(app, name, origin);
      });

      const keys = (leases: Lease[]): string[] => leases.map((l) => `${l.app}/${l.name}`);

      it('pages through every stream in byte order', async () => {
        const seen: string[] = [];
        let after: string | undefined;
        for (let i = 0; i < 10; i++) {
          const page = await store.pageStreams({ limit: 3, ...(after !== undefined ? { after } : {}) });
          seen.push(...keys(page.leases));
          if (page.next === undefined) break;
          expect(page.leases).toHaveLength(3);
          expect(page.next).toBe(seen[seen.length - 1]);
          after = page.next;
        }
        expect(seen).toEqual(['a-b/x', 'a/x', 'live/S2', 'live/s1', 'live/s3', 'live0/z', 'other/q']);
        expect((await store.pageStreams({ limit: 7 })).next).toBeUndefined();
        expect((await store.pageStreams({ limit: 6 })).next).toBe('live0/z');
      });

      it('filters by app (exactly that app, not a prefix) and by origin, with offset', async () => {
        expect(keys((await store.pageStreams({ limit: 100, app: 'live' })).leases)).toEqual(['live/S2', 'live/s1', 'live/s3']);
        expect(keys((await store.pageStreams({ limit: 100, app: 'a' })).leases)).toEqual(['a/x']);
        expect(keys((await store.pageStreams({ limit: 100, app: 'nope' })).leases)).toEqual([]);
        expect(keys((await store.pageStreams({ limit: 100, originId: 'b' })).leases)).toEqual(['a/x', 'live/s1', 'other/q']);
        expect(keys((await store.pageStreams({ limit: 100, app: 'live', originId: 'a' })).leases)).toEqual(['live/S2', 'live/s3']);
        expect(await store.pageStreams({ limit: 1, app: 'live', originId: 'a' })).toMatchObject({ next: 'live/S2' });
        expect(keys((await store.pageStreams({ limit: 2, offset: 2 })).leases)).toEqual(['live/S2', 'live/s1']);
        expect(keys((await store.pageStreams({ limit: 2, app: 'live', after: 'live/S2', offset: 1 })).leases)).toEqual(['live/s3']);
        expect(keys((await store.pageStreams({ limit: 100, app: 'live', after: 'a/x' })).leases)).toEqual(['live/S2', 'live/s1', 'live/s3']);
        expect(keys((await store.pageStreams({ limit: 100, app: 'a', after: 'live/s1' })).leases)).toEqual([]);
        expect(keys((await store.pageStreams({ limit: 100, after: 'zzz' })).leases)).toEqual([]);
      });

      it('leaves out released streams and streams of gone origins', async () => {
        await store.removeOrigin('b');
        const s3 = await store.getStream('live', 's3');
        await store.releaseStream('live', 's3', 'a', s3?.token ?? 0);
        expect(keys((await store.pageStreams({ limit: 100 })).leases)).toEqual(['a-b/x', 'live/S2', 'live0/z']);
      });
    });

    describe('avoid list', () => {
      it('records, extends (never shortens) and expires avoidances per stream', async () => {
        const t0 = clock.now();
        const until = await store.avoidOrigin('live', 's1', 'a', 2 * U);
        expect(until).toEqual(near(t0 + 2 * U));
        expect(await store.avoidOrigin('live', 's1', 'a', U)).toBe(until);
        await store.avoidOrigin('live', 's1', 'b', 4 * U);
        expect(await store.getAvoids('live', 's2')).toEqual([]);
        expect((await store.getAvoids('live', 's1')).map((e) => e.originId).sort()).toEqual(['a', 'b']);
        expect((await store.getAvoids('live', 's1')).find((e) => e.originId === 'a')).toEqual({ originId: 'a', until });
        await past(2 * U);
        expect((await store.getAvoids('live', 's1')).map((e) => e.originId)).toEqual(['b']);
        await past(2 * U);
        expect(await store.getAvoids('live', 's1')).toEqual([]);
      });
    });

    describe('heartbeat (leases v2)', () => {
      const T0 = 1_700_000_000_000;
      function beat(id: string, leases: HeartbeatLease[], incarnation = 'i1', startedAt = T0): Promise<HeartbeatOutcome> {
        return store.heartbeat({ origin: { ...reg(id), incarnation, startedAt }, leases }, TTL, LEASE);
      }

      it('registers with its incarnation and renews a held lease', async () => {
        const first = await beat('a', []);
        expect(first).toMatchObject({ origin: { id: 'a', incarnation: 'i1', startedAt: T0, state: 'active' }, leases: [], released: 0, restarted: false, unknown: true });
        const lease = await claimOk('live', 's1', 'a');
        await justBefore(LEASE);
        const t = clock.now();
        const r = await beat('a', [{ app: 'live', name: 's1', token: lease.token }]);
        expect(r.unknown).toBe(false);
        expect(r.leases).toEqual([{ app: 'live', name: 's1', status: 'renewed', token: lease.token }]);
        expect((await store.getStream('live', 's1'))?.expiresAt).toEqual(near(t + LEASE));
        expect((await store.getOrigin('a'))?.incarnation).toBe('i1');
      });

      it('re-claims a lease the store lost, under a token above the one the origin held', async () => {
        const rec = await recordEvents();
        const since = clock.now() - 60_000;
        const r = await beat('a', [{ app: 'live', name: 's1', token: 41, since }]);
        expect(r.leases[0]).toMatchObject({ status: 'reclaimed', note: 'TOKEN_AHEAD' });
        expect(r.leases[0].token).toBeGreaterThan(41);
        expect(await store.getStream('live', 's1')).toMatchObject({ originId: 'a', token: r.leases[0].token, since });
        const events = await rec.waitFor(2);
        expect(events.map((e) => e.type)).toEqual(['origin.up', 'stream.claimed']);
        // The next claim of any stream still gets a larger token: tokens never go back.
        expect((await claimOk('live', 's2', 'a')).token).toBeGreaterThan(r.leases[0].token!);
        rec.stop();
      });

      it('re-claims after an outage longer than both TTLs, keeping since', async () => {
        await beat('a', []);
        const lease = await claimOk('live', 's1', 'a');
        await past(TTL);
        const r = await beat('a', [{ app: 'live', name: 's1', token: lease.token, since: lease.since }]);
        expect(r.leases[0].status).toBe('reclaimed');
        expect(r.leases[0].note).toBeUndefined();
        expect(r.leases[0].token).toBeGreaterThan(lease.token);
        expect(await store.getStream('live', 's1')).toMatchObject({ originId: 'a', since: lease.since });
      });

      it('fences a stream a live other origin holds, and leaves that lease alone', async () => {
        await beat('a', []);
        await store.upsertOrigin(reg('b'), TTL);
        const theirs = await claimOk('live', 's1', 'b');
        const r = await beat('a', [{ app: 'live', name: 's1', token: 3 }]);
        expect(r.leases).toEqual([{ app: 'live', name: 's1', status: 'fenced', token: theirs.token, owner: 'b' }]);
        expect(await store.getStream('live', 's1')).toMatchObject({ originId: 'b', token: theirs.token });
      });

      it('takes over a lease whose owner expired', async () => {
        await store.upsertOrigin(reg('b'), TTL);
        const theirs = await claimOk('live', 's1', 'b');
        await past(TTL);
        const r = await beat('a', [{ app: 'live', name: 's1', token: 2 }]);
        expect(r.leases[0].status).toBe('reclaimed');
        expect(r.leases[0].token).toBeGreaterThan(theirs.token);
        expect((await store.getStream('live', 's1'))?.originId).toBe('a');
      });

      it('re-issues a token when the origin holds another token of its own lease', async () => {
        await beat('a', []);
        const lease = await claimOk('live', 's1', 'a');
        const rec = await recordEvents();
        const r = await beat('a', [{ app: 'live', name: 's1', token: lease.token - 1 }]);
        expect(r.leases[0].status).toBe('reclaimed');
        expect(r.leases[0].token).toBeGreaterThan(lease.token);
        expect((await store.getStream('live', 's1'))?.since).toBe(lease.since);
        await claimOk('live', 'marker', 'a');
        expect((await rec.waitFor(1)).map((e) => e.type)).toEqual(['stream.claimed']); // only the marker's
        rec.stop();
      });

      it('releases leases the origin no longer lists (ghosts), keeps token-less entries it holds', async () => {
        await beat('a', []);
        const kept = await claimOk('live', 'kept', 'a');
        const pending = await claimOk('live', 'pending', 'a');
        const ghost = await claimOk('live', 'ghost', 'a');
        const rec = await recordEvents();
        const r = await beat('a', [
          { app: 'live', name: 'kept', token: kept.token },
          { app: 'live', name: 'pending' },
          { app: 'live', name: 'unclaimed' },
        ]);
        expect(r.leases.map((l) => [l.name, l.status, l.token])).toEqual([
          ['kept', 'renewed', kept.token],
          ['pending', 'renewed', pending.token],
          ['unclaimed', 'absent', undefined],
        ]);
        expect(r.released).toBe(1);
        expect(await store.getStream('live', 'ghost')).toBeNull();
        expect(await store.getStream('live', 'unclaimed')).toBeNull();
        const events = await rec.waitFor(1);
        expect(events).toEqual([{ type: 'stream.released', data: { app: 'live', name: 'ghost', originId: 'a', token: ghost.token, reason: 'not-held' } }]);
        rec.stop();
      });

      it('a later-started incarnation drops the previous one\'s leases at once', async () => {
        await beat('a', [], 'old', T0);
        const lease = await claimOk('live', 's1', 'a');
        const rec = await recordEvents();
        const r = await beat('a', [], 'new', T0 + 5000);
        expect(r.restarted).toBe(true);
        expect(await store.getStream('live', 's1')).toBeNull();
        const events = await rec.waitFor(3);
        expect(events).toEqual([
          { type: 'stream.released', data: { app: 'live', name: 's1', originId: 'a', token: lease.token, reason: 'origin-restarted' } },
          { type: 'origin.down', data: { id: 'a', reason: 'restarted' } },
          expect.objectContaining({ type: 'origin.up', data: expect.objectContaining({ id: 'a', incarnation: 'new' }) }),
        ]);
        rec.stop();
      });

      it('refuses an earlier-started incarnation and changes nothing', async () => {
        await beat('a', [], 'new', T0 + 5000);
        const lease = await claimOk('live', 's1', 'a');
        const err = await beat('a', [], 'old', T0).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StaleIncarnationError);
        expect((err as CascadeError).code).toBe('STALE_INCARNATION');
        expect((err as CascadeError).details).toMatchObject({ originId: 'a', current: { incarnation: 'new', startedAt: T0 + 5000 } });
        expect(await store.getStream('live', 's1')).toMatchObject({ originId: 'a', token: lease.token });
        expect((await store.getOrigin('a'))?.incarnation).toBe('new');
      });

      it('renews 10,000 leases in one call', async () => {
        // Minute-long TTLs: on a real clock a loaded machine may take longer than the contract's short TTLs
        // for 10,000 leases, and this test is about the batch, not expiry.
        const long = (leases: HeartbeatLease[]): Promise<HeartbeatOutcome> =>
          store.heartbeat({ origin: { ...reg('a'), incarnation: 'i1', startedAt: T0 }, leases }, 60_000, 60_000);
        const leases: HeartbeatLease[] = Array.from({ length: 10_000 }, (_, i) => ({ app: 'live', name: `s${i}`, token: 1 }));
        const first = await long(leases);
        expect(first.leases.every((l) => l.status === 'reclaimed')).toBe(true);
        const second = await long(first.leases.map((l) => ({ app: l.app, name: l.name, token: l.token })));
        expect(second.leases.every((l) => l.status === 'renewed')).toBe(true);
        expect(await store.countStreams()).toBe(10_000);
      });
    });

    describe('events', () => {
      beforeEach(async () => {
        await store.upsertOrigin(reg('a'), TTL);
        await store.upsertOrigin(reg('b'), TTL);
      });

      it('origin.up, origin.draining, stream.claimed, stream.released, origin.down (deregistered) in order', async () => {
        const rec = await recordEvents();
        await store.upsertOrigin(reg('c', { region: 'eu' }), TTL);
        await store.upsertOrigin(reg('c', { region: 'eu' }), TTL); // heartbeat: no event
        const lease = await claimOk('live', 's1', 'c');
        await claimOk('live', 's1', 'c'); // re-claim by the holder: no event
        await store.upsertOrigin(reg('c', { state: 'draining' }), TTL);
        await store.upsertOrigin(reg('c', { state: 'draining' }), TTL);
        const again = await store.getStream('live', 's1');
        await store.releaseStream('live', 's1', 'c', again?.token ?? 0);
        const s2 = await claimOk('live', 's2', 'c');
        await store.removeOrigin('c');
        const events = await rec.waitFor(7);
        await clock.advance(clock.slack); // nothing else arrives
        expect(events.map((e) => e.type)).toEqual(['origin.up', 'stream.claimed', 'origin.draining', 'stream.released', 'stream.claimed', 'stream.released', 'origin.down']);
        expect(events[0].data).toMatchObject({ id: 'c', region: 'eu', state: 'active', rtmp: 'rtmp://10.0.0.1:1901', load: {} });
        expect(events[1].data).toEqual({ app: 'live', name: 's1', origin: { id: 'c', rtmp: 'rtmp://10.0.0.1:1901', http: 'http://10.0.0.1:8001' }, since: lease.since, token: lease.token });
        expect(events[2].data).toMatchObject({ id: 'c', state: 'draining' });
        expect(events[3].data).toEqual({ app: 'live', name: 's1', originId: 'c', token: again?.token, reason: 'released' });
        expect(events[5].data).toEqual({ app: 'live', name: 's2', originId: 'c', token: s2.token, reason: 'origin-removed' });
        expect(events[6].data).toEqual({ id: 'c', reason: 'deregistered' });
        rec.stop();
      });

      it('an expired origin: sweep() drops it with origin.down and stream.released, exactly once', async () => {
        const lease = await claimOk('live', 's1', 'a', TTL * 10);
        const rec = await recordEvents();
        await clock.advance(TTL - U);
        await store.upsertOrigin(reg('b'), TTL);
        await past(U);
        expect(await store.sweep()).toBeGreaterThanOrEqual(1);
        await store.sweep();
        const events = await rec.waitFor(2);
        await clock.advance(clock.slack);
        expect(events).toEqual([
          { type: 'stream.released', data: { app: 'live', name: 's1', originId: 'a', token: lease.token, reason: 'origin-down' } },
          { type: 'origin.down', data: { id: 'a', reason: 'expired' } },
        ]);
        rec.stop();
      });

      it('an expired lease: sweep() announces stream.released (expired); a takeover is stream.moved', async () => {
        const l1 = await claimOk('live', 's1', 'a', 2 * U);
        const l2 = await claimOk('live', 's2', 'a', 2 * U);
        const rec = await recordEvents();
        await past(2 * U);
        const moved = await claimOk('live', 's2', 'b');
        await store.sweep();
        const events = await rec.waitFor(2);
        await clock.advance(clock.slack);
        expect(events).toEqual([
          { type: 'stream.moved', data: { app: 'live', name: 's2', origin: { id: 'b', rtmp: 'rtmp://10.0.0.1:1901', http: 'http://10.0.0.1:8001' }, since: moved.since, token: moved.token, from: 'a', reason: 'expired' } },
          { type: 'stream.released', data: { app: 'live', name: 's1', originId: 'a', token: l1.token, reason: 'expired' } },
        ]);
        expect(l2.token).toBeLessThan(moved.token);
        rec.stop();
      });

      it('unsubscribing stops delivery', async () => {
        const first = await recordEvents();
        const second = await recordEvents();
        first.stop();
        await claimOk('live', 's1', 'a');
        await second.waitFor(1);
        await clock.advance(clock.slack);
        expect(first.events).toEqual([]);
        expect(second.events.map((e) => e.type)).toEqual(['stream.claimed']);
        second.stop();
      });
    });

    describe('edge registry', () => {
      const MAX = 3;
      it('upserts and lists edges with their streams; a refresh keeps one entry', async () => {
        const t0 = clock.now();
        const e = await store.upsertEdge(edge('e1'), TTL, MAX);
        expect(e).toMatchObject({ ...edge('e1') });
        expect(e.updatedAt).toEqual(near(t0));
        expect(e.expiresAt).toBe(e.updatedAt + TTL);
        await store.upsertEdge(edge('e1', { state: 'draining', streams: [] }), TTL, MAX);
        await store.upsertEdge(edge('e2', { region: 'eu' }), TTL, MAX);
        const list = (await store.listEdges()).sort((a, b) => a.id.localeCompare(b.id));
        expect(list.map((x) => [x.id, x.state, x.streams.length, x.region])).toEqual([
          ['e1', 'draining', 0, undefined],
          ['e2', 'active', 1, 'eu'],
        ]);
        expect(list[1].streams[0]).toEqual(edge('e2').streams[0]);
      });

      it.each([
        ['a known id refreshes at the cap', ['e1', 'e2', 'e3', 'e1'], ['e1', 'e2', 'e3']],
        ['a new id beyond the cap is refused', ['e1', 'e2', 'e3', 'e4'], ['e1', 'e2', 'e3']],
      ])('maxEdges: %s', async (_what, ids, expected) => {
        const refused: string[] = [];
        for (const id of ids) {
          try {
            await store.upsertEdge(edge(id), TTL, MAX);
          } catch (err) {
            expect(err).toBeInstanceOf(TooManyEdgesError);
            expect((err as CascadeError).code).toBe('TOO_MANY_EDGES');
            refused.push(id);
          }
        }
        expect((await store.listEdges()).map((x) => x.id).sort()).toEqual(expected);
        expect(refused).toEqual(ids.filter((id) => !expected.includes(id)));
      });

      it('an expired edge is no longer listed, frees its slot, and the sweep announces edge.down once', async () => {
        const rec = await recordEvents();
        await store.upsertEdge(edge('e1'), TTL, 1);
        await rec.waitFor(1);
        await justBefore(TTL);
        await store.upsertEdge(edge('e1'), TTL, 1);
        await justBefore(TTL);
        expect((await store.listEdges()).map((x) => x.id)).toEqual(['e1']);
        await past(TTL);
        expect(await store.listEdges()).toEqual([]);
        await store.sweep();
        await store.sweep();
        await rec.waitFor(2);
        await clock.advance(clock.slack);
        expect(rec.events).toEqual([
          { type: 'edge.up', data: { id: 'e1' } },
          { type: 'edge.down', data: { id: 'e1' } },
        ]);
        await store.upsertEdge(edge('e2'), TTL, 1);
        expect((await store.listEdges()).map((x) => x.id)).toEqual(['e2']);
        rec.stop();
      });

      it('removeEdge deregisters once (edge.down), and a later heartbeat is a new edge.up', async () => {
        const rec = await recordEvents();
        await store.upsertEdge(edge('e1'), TTL, MAX);
        expect(await store.removeEdge('e1')).toBe(true);
        expect(await store.removeEdge('e1')).toBe(false);
        expect(await store.listEdges()).toEqual([]);
        await store.upsertEdge(edge('e1'), TTL, MAX);
        await rec.waitFor(3);
        await clock.advance(clock.slack);
        expect(rec.events.map((e) => `${e.type}:${(e.data as { id: string }).id}`)).toEqual(['edge.up:e1', 'edge.down:e1', 'edge.up:e1']);
        rec.stop();
      });
    });

    it('ping resolves while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
