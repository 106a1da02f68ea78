import { DiscoveryService } from '../../../discovery/service';
import { MemoryStore } from '../../../discovery/store/memory-store';
import { silentLogger, testConfig } from './helpers';
import { fakeClock } from './store-contract';

/**
 * Issue 15 (idle cost): with the memory store discovery sweeps only when something can have expired,
 * never later than `sweepIntervalMs` after an expiry and never longer than the shortest TTL.
 */
describe('sweep schedule', () => {
  const config = testConfig({ sweepIntervalMs: 500, originTtlMs: 6000, leaseTtlMs: 8000, edgeTtlMs: 7000 });
  const origin = { id: 'o', rtmp: 'rtmp://127.0.0.1:1935', http: 'http://127.0.0.1:8081' };

  async function setup(): Promise<{ service: DiscoveryService; store: MemoryStore; clock: ReturnType<typeof fakeClock> }> {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    await store.connect();
    return { service: new DiscoveryService({ config, store, logger: silentLogger() }), store, clock };
  }

  test.each<[string, (s: MemoryStore) => Promise<unknown>, number, number]>([
    ['nothing stored: the shortest TTL (anything stored meanwhile expires no sooner)', async () => {}, 0, 6000],
    ['an origin 6 s from expiry: until then', (s) => s.upsertOrigin(origin, 6000), 0, 6000],
    ['an origin 2.5 s from expiry: until then', (s) => s.upsertOrigin(origin, 6000), 3500, 2500],
    ['an origin 0.2 s from expiry: sweepIntervalMs at least', (s) => s.upsertOrigin(origin, 6000), 5800, 500],
    ['an origin expired, not swept yet: sweepIntervalMs', (s) => s.upsertOrigin(origin, 6000), 9000, 500],
    ['a lease expiring before its origin: the lease', async (s) => { await s.upsertOrigin(origin, 60_000); await s.claimStream('live', 'x', 'o', 3000); }, 1000, 2000],
  ])('%s', async (_t, fill, advanceMs, expected) => {
    const { service, store, clock } = await setup();
    try {
      await fill(store);
      await clock.advance(advanceMs);
      expect(service.nextSweepDelay()).toBe(expected);
    } finally {
      await store.close();
    }
  });

  test('a store that cannot tell its next expiry is swept every sweepIntervalMs', () => {
    const store = new MemoryStore();
    Object.defineProperty(store, 'msUntilNextExpiry', { value: undefined });
    expect(new DiscoveryService({ config, store, logger: silentLogger() }).nextSweepDelay()).toBe(500);
  });
});
