import { MemoryStore } from '../../../discovery/store/memory-store';
import { fakeClock, runStoreContract } from './store-contract';

runStoreContract('MemoryStore', (clock) => new MemoryStore({ now: clock.now }));

describe('MemoryStore specifics', () => {
  it('reports kind memory and answers STORE_UNAVAILABLE after close (close is idempotent)', async () => {
    const store = new MemoryStore({ now: fakeClock().now });
    expect(store.kind).toBe('memory');
    await store.close();
    await store.close();
    await expect(store.listOrigins()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('uses Date.now without an injected clock', async () => {
    const store = new MemoryStore();
    const before = Date.now();
    const o = await store.upsertOrigin({ id: 'o', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 1000);
    expect(o.updatedAt).toBeGreaterThanOrEqual(before);
    expect(o.updatedAt).toBeLessThanOrEqual(Date.now());
    await store.close();
  });
});
