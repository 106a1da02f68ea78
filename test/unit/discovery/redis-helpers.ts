import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** The shared Redis every machine runs (DESIGN.md section 11). Never stopped by tests. */
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
