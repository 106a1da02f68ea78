import { CascadeError } from '../common/errors';

export interface CachedRead<T> {
  value: T;
  /** Set when the store was unreachable and `value` is this old (ms). */
  staleMs?: number;
}

/**
 * Degraded mode: the last good answer of each read, served (marked stale) while the store is
 * unreachable and the answer is at most `maxAgeMs` old. Bounded (oldest entries go first).
 */
export class ReadCache {
  private readonly entries = new Map<string, { value: unknown; at: number }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** `fn()`, remembered; when it fails with STORE_UNAVAILABLE, a recent enough remembered value. */
  async read<T>(key: string, fn: () => Promise<T>): Promise<CachedRead<T>> {
    try {
      const value = await fn();
      this.put(key, value);
      return { value };
    } catch (err) {
      if (!(err instanceof CascadeError) || err.code !== 'STORE_UNAVAILABLE') throw err;
      const hit = this.get<T>(key);
      if (!hit) throw err;
      return hit;
    }
  }

  put(key: string, value: unknown): void {
    if (this.maxAgeMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.now() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get<T>(key: string): { value: T; staleMs: number } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const age = this.now() - e.at;
    if (age > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: e.value as T, staleMs: Math.max(0, age) };
  }

  clear(): void {
    this.entries.clear();
  }
}
