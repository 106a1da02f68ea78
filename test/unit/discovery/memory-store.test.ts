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

describe('MemoryStore avoid marks are bounded', () => {
  // Each row: caps, marks made in order as `origin:stream`, the marks still running afterwards.
  const rows: Array<{ name: string; perOrigin: number; total: number; marks: string[]; kept: string[] }> = [
    { name: 'under the caps nothing is evicted', perOrigin: 3, total: 10, marks: ['a:s1', 'a:s2', 'b:s1'], kept: ['a:s1', 'a:s2', 'b:s1'] },
    { name: 'per origin: the oldest mark of that origin goes', perOrigin: 2, total: 10, marks: ['a:s1', 'b:s1', 'a:s2', 'a:s3'], kept: ['a:s2', 'a:s3', 'b:s1'] },
    { name: 'a re-mark counts as new', perOrigin: 2, total: 10, marks: ['a:s1', 'a:s2', 'a:s1', 'a:s3'], kept: ['a:s1', 'a:s3'] },
    { name: 'in total: the oldest mark of any origin goes', perOrigin: 10, total: 3, marks: ['a:s1', 'b:s1', 'c:s1', 'd:s2'], kept: ['b:s1', 'c:s1', 'd:s2'] },
    { name: 'one stream name per mark (the growth the cap is for)', perOrigin: 4, total: 100, marks: Array.from({ length: 50 }, (_, i) => `a:n${i}`), kept: ['a:n46', 'a:n47', 'a:n48', 'a:n49'] },
  ];
  test.each(rows)('$name', async ({ perOrigin, total, marks, kept }) => {
    const store = new MemoryStore({ now: fakeClock().now, maxAvoidsPerOrigin: perOrigin, maxAvoids: total });
    const streams = new Set<string>();
    for (const m of marks) {
      const [origin, name] = m.split(':');
      streams.add(name);
      await store.avoidOrigin('live', name, origin, 60_000);
    }
    const got: string[] = [];
    for (const name of streams) for (const e of await store.getAvoids('live', name)) got.push(`${e.originId}:${name}`);
    expect(got.sort()).toEqual([...kept].sort());
    expect(store.avoidCounts().total).toBe(kept.length);
  });

  test('100,000 stream names from one origin hold at most the default 10,000 marks', async () => {
    const store = new MemoryStore({ now: fakeClock().now });
    for (let i = 0; i < 100_000; i++) await store.avoidOrigin('live', `n${i}`, 'a', 60_000);
    expect(store.avoidCounts('a')).toEqual({ total: 10_000, origin: 10_000 });
    expect(await store.getAvoids('live', 'n0')).toEqual([]);
    expect((await store.getAvoids('live', 'n99999')).length).toBe(1);
  });
});
