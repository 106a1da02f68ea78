import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { RedisStore } from '../../discovery/store/redis-store';

/** The shared Redis every machine runs (docs/design.md section 11). Never stopped by tests. */
export const SHARED_REDIS_URL = process.env.CASCADE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other test uses: `cascade-test:<random>:`. */
export function randomPrefix(): string {
  return `cascade-test:${randomBytes(6).toString('hex')}:`;
}

/** SCAN + DEL of every key under `prefix` (keys only: pub/sub channels hold no data). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Keys under `prefix` (for asserting the layout). */
export async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
    return out.sort();
  } finally {
    redis.disconnect();
  }
}

/**
 * The degraded-mode contract of a RedisStore whose Redis (or sentinels, or cluster nodes) cannot be
 * reached: connect() and subscribe() give up after readyTimeoutMs, every call fails fast with
 * STORE_UNAVAILABLE, close() is idempotent and later calls fail the same way.
 */
export async function expectUnreachableStoreDegrades(store: RedisStore): Promise<void> {
  const started = Date.now();
  await store.connect();
  const stop = await store.subscribe(() => undefined);
  expect(Date.now() - started).toBeLessThan(2000);
  for (const call of [
    () => store.ping(),
    () => store.upsertOrigin({ id: 'o', rtmp: 'rtmp://h:1', http: 'http://h:2' }, 1000),
    () => store.claimStream('live', 's', 'o', 1000),
    () => store.getStream('live', 's'),
    () => store.listOrigins(),
    () => store.pageStreams({ limit: 10 }),
    () => store.countStreams(),
    () => store.sweep(),
  ]) {
    const t0 = Date.now();
    await expect(call()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(1000);
  }
  stop();
  await store.close();
  await store.close();
  await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
}
