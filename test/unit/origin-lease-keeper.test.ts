import pino from 'pino';
import { DiscoveryUnavailableError, LeaseLostError, StreamOwnedElsewhereError } from '../../common/errors';
import { MemoryStore } from '../../discovery/store/memory-store';
import type { HeartbeatRequest, HeartbeatResult } from '../../discovery/types';
import { originView } from '../../discovery/views';
import { LeaseKeeper, type LeaseDirectory, type LeaseHolder } from '../../origin/lease-keeper';
import { fakeClock, type TestClock } from './discovery/store-contract';

/**
 * LeaseKeeper in-process against a real MemoryStore on an injected clock, behind a directory that can
 * fail (discovery down), lose all state (a restart with the memory store), or hold a claim in flight.
 */

const TTL = 6000;

class StoreDirectory implements LeaseDirectory {
  store: MemoryStore;
  down = false;
  heartbeats = 0;
  /** When set, claims wait for it (a claim in flight). */
  claimGate?: Promise<void>;

  constructor(private readonly clock: TestClock) {
    this.store = new MemoryStore({ now: clock.now });
  }

  /** Discovery restarted with the memory store: everything it knew is gone. */
  loseState(): void {
    this.store = new MemoryStore({ now: this.clock.now });
  }

  private check(): void {
    if (this.down) throw new DiscoveryUnavailableError('discovery is down (test)');
  }

  async heartbeat(originId: string, req: HeartbeatRequest): Promise<HeartbeatResult> {
    this.check();
    this.heartbeats++;
    const out = await this.store.heartbeat({ origin: { id: originId, ...req.registration, incarnation: req.incarnation, startedAt: req.startedAt }, leases: req.leases }, TTL, TTL);
    return { origin: originView(out.origin), ttlMs: TTL, leaseTtlMs: TTL, leases: out.leases, released: out.released, restarted: out.restarted };
  }

  async claimStream(app: string, name: string, originId: string): Promise<{ token: number }> {
    this.check();
    await this.claimGate;
    const r = await this.store.claimStream(app, name, originId, TTL);
    if ('conflict' in r) throw new StreamOwnedElsewhereError(app, name, { origin: { id: r.conflict.originId } });
    return r.lease;
  }

  async releaseStream(app: string, name: string, originId: string, token: number): Promise<void> {
    this.check();
    if (!(await this.store.releaseStream(app, name, originId, token))) throw new LeaseLostError(app, name);
  }
}

interface Harness {
  clock: TestClock;
  dir: StoreDirectory;
  keeper: LeaseKeeper;
  fenced: Array<{ app: string; name: string; holder: LeaseHolder; owner: string }>;
  replaced: unknown[];
  failures: number;
}

function keeperFor(dir: StoreDirectory, clock: TestClock, originId = 'o1', startedAt = clock.now()): Harness {
  const h: Harness = { clock, dir, fenced: [], replaced: [], failures: 0, keeper: undefined as unknown as LeaseKeeper };
  h.keeper = new LeaseKeeper(dir, {
    originId,
    startedAt,
    now: clock.now,
    log: pino({ level: 'silent' }),
    registration: () => ({ rtmp: `rtmp://127.0.0.1:${originId === 'o1' ? 1936 : 1937}`, http: 'http://127.0.0.1:8081', state: 'active' }),
    onFenced: (app, name, holder, owner) => h.fenced.push({ app, name, holder, owner }),
    onReplaced: (current) => h.replaced.push(current),
    onHeartbeatFailure: () => h.failures++,
  });
  return h;
}

function setup(): Harness {
  const clock = fakeClock();
  return keeperFor(new StoreDirectory(clock), clock);
}

const publisher = (): LeaseHolder => ({});

test('claims, lists every lease in one heartbeat and renews it', async () => {
  const h = setup();
  await h.keeper.beat();
  const pub = publisher();
  const claimed = await h.keeper.claim('live', 'a', pub);
  expect(claimed).toEqual({ kind: 'held', token: expect.any(Number) });
  await h.clock.advance(5000);
  await h.keeper.beat();
  await h.clock.advance(5000);
  expect(await h.dir.store.getStream('live', 'a')).toMatchObject({ originId: 'o1', token: h.keeper.tokenOf('live', 'a') });
  expect(h.keeper.registered).toBe(true);
});

test('discovery restarted empty: the next heartbeat re-claims every stream, no publisher is touched', async () => {
  const h = setup();
  await h.keeper.beat();
  const pubs = ['a', 'b', 'c'].map((n) => ({ n, pub: publisher() }));
  for (const { n, pub } of pubs) await h.keeper.claim('live', n, pub);
  const before = pubs.map(({ n }) => h.keeper.tokenOf('live', n)!);
  h.dir.loseState();
  const heartbeats = h.dir.heartbeats;
  await h.keeper.beat();
  expect(h.dir.heartbeats - heartbeats).toBe(1);
  expect(h.fenced).toEqual([]);
  for (const [i, { n, pub }] of pubs.entries()) {
    const token = h.keeper.tokenOf('live', n, pub)!;
    expect(token).toBeGreaterThan(before[i]); // never an older token than the origin has seen
    expect(await h.dir.store.getStream('live', n)).toMatchObject({ originId: 'o1', token });
  }
});

test('discovery unreachable longer than every TTL: streams are kept, and re-claimed when it returns', async () => {
  const h = setup();
  await h.keeper.beat();
  const pub = publisher();
  await h.keeper.claim('live', 'a', pub);
  h.dir.down = true;
  for (let i = 0; i < 10; i++) {
    await h.clock.advance(2000);
    await h.keeper.beat();
  }
  expect(h.failures).toBe(10);
  expect(h.keeper.registered).toBe(false);
  expect(h.keeper.tokenOf('live', 'a', pub)).not.toBeNull();
  h.dir.down = false;
  await h.keeper.beat();
  expect(h.keeper.registered).toBe(true);
  expect(h.fenced).toEqual([]);
  expect(await h.dir.store.getStream('live', 'a')).toMatchObject({ originId: 'o1', token: h.keeper.tokenOf('live', 'a', pub) });
});

test('a live other owner found on reconciliation fences the stream: onFenced moves the publisher', async () => {
  const h = setup();
  const other = keeperFor(h.dir, h.clock, 'o2');
  await h.keeper.beat();
  const pub = publisher();
  await h.keeper.claim('live', 'a', pub);
  h.dir.loseState();
  // While discovery had nothing, o2 got a publisher for the same name and claimed it first.
  await other.keeper.beat();
  expect((await other.keeper.claim('live', 'a', publisher())).kind).toBe('held');
  await h.keeper.beat();
  expect(h.fenced).toEqual([{ app: 'live', name: 'a', holder: pub, owner: 'o2' }]);
  expect(h.keeper.tokenOf('live', 'a')).toBeNull();
  expect(await h.dir.store.getStream('live', 'a')).toMatchObject({ originId: 'o2' });
});

test('a claim answered after its publisher left is released at once (no ghost lease)', async () => {
  const h = setup();
  await h.keeper.beat();
  let open!: () => void;
  h.dir.claimGate = new Promise((r) => (open = r));
  const pub = publisher();
  const pending = h.keeper.claim('live', 'a', pub);
  await new Promise((r) => setImmediate(r));
  h.keeper.release('live', 'a', pub);
  open();
  expect(await pending).toEqual({ kind: 'gone' });
  await new Promise((r) => setImmediate(r));
  expect(await h.dir.store.getStream('live', 'a')).toBeNull();
});

test('a lease renewed by a heartbeat in flight while its publisher left is released at once', async () => {
  const h = setup();
  await h.keeper.beat();
  const pub = publisher();
  await h.keeper.claim('live', 'a', pub);
  h.dir.loseState(); // so the release below finds nothing and the heartbeat re-claims
  const beat = h.keeper.beat();
  h.keeper.release('live', 'a', pub);
  await beat;
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  expect(await h.dir.store.getStream('live', 'a')).toBeNull();
});

test('leases discovery holds for us that we do not serve are released by our next heartbeat', async () => {
  const h = setup();
  await h.keeper.beat();
  await h.dir.store.claimStream('live', 'ghost', 'o1', TTL); // e.g. a claim whose answer was lost
  await h.keeper.beat();
  expect(await h.dir.store.getStream('live', 'ghost')).toBeNull();
});

test('a claim of a stream another live origin holds is owned-elsewhere; discovery down is unavailable', async () => {
  const h = setup();
  const other = keeperFor(h.dir, h.clock, 'o2');
  await other.keeper.beat();
  await other.keeper.claim('live', 'a', publisher());
  await h.keeper.beat();
  expect(await h.keeper.claim('live', 'a', publisher())).toEqual({ kind: 'owned-elsewhere', owner: 'o2' });
  expect(h.keeper.size).toBe(0);
  h.dir.down = true;
  expect((await h.keeper.claim('live', 'b', publisher())).kind).toBe('unavailable');
  expect(h.keeper.size).toBe(0);
});

test('a restarted process (same id, later start) drops its predecessor\'s leases at once; the old one learns it was replaced', async () => {
  const h = setup();
  await h.keeper.beat();
  await h.keeper.claim('live', 'a', publisher());
  await h.clock.advance(1000);
  const next = keeperFor(h.dir, h.clock, 'o1', h.clock.now());
  await next.keeper.beat();
  expect(await h.dir.store.getStream('live', 'a')).toBeNull();
  await h.keeper.beat();
  expect(h.replaced).toEqual([{ incarnation: next.keeper.incarnation, startedAt: next.keeper.startedAt }]);
  expect(h.keeper.isReplaced).toBe(true);
  const heartbeats = h.dir.heartbeats;
  await h.keeper.beat();
  expect(h.dir.heartbeats).toBe(heartbeats); // a replaced keeper sends nothing
});

test('10,000 streams renew in one heartbeat request', async () => {
  const h = setup();
  await h.keeper.beat();
  for (let i = 0; i < 10_000; i++) await h.keeper.claim('live', `s${i}`, publisher());
  const heartbeats = h.dir.heartbeats;
  await h.keeper.beat();
  expect(h.dir.heartbeats - heartbeats).toBe(1);
  expect(await h.dir.store.countStreams()).toBe(10_000);
});
