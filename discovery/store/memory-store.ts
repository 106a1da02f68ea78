import { CascadeError, OriginNotFoundError } from '../../common/errors';
import type { ClaimResult, Clock, DiscoveryStore, Lease, OriginRecord, OriginRecordInput } from './types';

export interface MemoryStoreOptions {
  /** Injectable clock (ms epoch) so tests move time without sleeping. */
  now?: Clock;
}

/**
 * Single-process `DiscoveryStore`. Every operation runs synchronously inside its promise, so
 * operations are atomic with respect to each other (the property the Redis Lua scripts give).
 * Expiry is applied lazily at the start of every operation, against the injected clock.
 */
export class MemoryStore implements DiscoveryStore {
  readonly kind = 'memory' as const;
  private readonly now: Clock;
  private readonly origins = new Map<string, OriginRecord>();
  private readonly leases = new Map<string, Lease>();
  /** originId → keys of the leases it holds, so dropping an origin's leases is O(its leases). */
  private readonly leasesByOrigin = new Map<string, Set<string>>();
  /**
   * One counter for all streams: strictly increasing per stream (what fencing needs) without
   * keeping a per-stream counter for every name ever claimed.
   */
  private lastToken = 0;
  private closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord> {
    const now = this.begin();
    const record: OriginRecord = {
      id: reg.id,
      rtmp: reg.rtmp,
      http: reg.http,
      ...(reg.api !== undefined ? { api: reg.api } : {}),
      ...(reg.region !== undefined ? { region: reg.region } : {}),
      ...(reg.capacity !== undefined ? { capacity: reg.capacity } : {}),
      state: reg.state ?? 'active',
      load: { ...(reg.load ?? {}) },
      updatedAt: now,
      expiresAt: now + ttlMs,
    };
    this.origins.set(reg.id, record);
    return cloneOrigin(record);
  }

  async removeOrigin(id: string): Promise<boolean> {
    this.begin();
    return this.dropOrigin(id);
  }

  async getOrigin(id: string): Promise<OriginRecord | null> {
    this.begin();
    const o = this.origins.get(id);
    return o ? cloneOrigin(o) : null;
  }

  async listOrigins(): Promise<OriginRecord[]> {
    this.begin();
    return [...this.origins.values()].map(cloneOrigin);
  }

  async claimStream(app: string, name: string, originId: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.begin();
    if (!this.origins.has(originId)) throw new OriginNotFoundError(originId);
    const key = streamKey(app, name);
    const current = this.liveLease(key, now);
    if (current && current.originId !== originId) return { conflict: { ...current } };
    const lease: Lease = {
      app,
      name,
      originId,
      since: current ? current.since : now,
      token: ++this.lastToken,
      expiresAt: now + leaseMs,
    };
    this.setLease(key, lease);
    return { lease: { ...lease } };
  }

  async renewStream(app: string, name: string, originId: string, token: number, leaseMs: number): Promise<Lease | null> {
    const now = this.begin();
    const current = this.liveLease(streamKey(app, name), now);
    if (!current || current.originId !== originId || current.token !== token) return null;
    current.expiresAt = now + leaseMs;
    return { ...current };
  }

  async releaseStream(app: string, name: string, originId: string, token: number): Promise<boolean> {
    const now = this.begin();
    const key = streamKey(app, name);
    const current = this.liveLease(key, now);
    if (!current || current.originId !== originId || current.token !== token) return false;
    this.deleteLease(key);
    return true;
  }

  async getStream(app: string, name: string): Promise<Lease | null> {
    const now = this.begin();
    const lease = this.liveLease(streamKey(app, name), now);
    return lease ? { ...lease } : null;
  }

  async listStreams(): Promise<Lease[]> {
    const now = this.begin();
    const out: Lease[] = [];
    for (const key of [...this.leases.keys()]) {
      const lease = this.liveLease(key, now);
      if (lease) out.push({ ...lease });
    }
    return out;
  }

  async ping(): Promise<void> {
    this.begin();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.origins.clear();
    this.leases.clear();
    this.leasesByOrigin.clear();
  }

  /** Reads the clock and expires origins (with their leases). */
  private begin(): number {
    if (this.closed) throw new CascadeError('STORE_UNAVAILABLE', 'the memory store is closed');
    const now = this.now();
    for (const [id, origin] of this.origins) {
      if (origin.expiresAt <= now) this.dropOrigin(id);
    }
    return now;
  }

  private dropOrigin(id: string): boolean {
    const existed = this.origins.delete(id);
    const keys = this.leasesByOrigin.get(id);
    if (keys) {
      for (const key of [...keys]) this.deleteLease(key);
      this.leasesByOrigin.delete(id);
    }
    return existed;
  }

  private liveLease(key: string, now: number): Lease | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    if (lease.expiresAt <= now || !this.origins.has(lease.originId)) {
      this.deleteLease(key);
      return undefined;
    }
    return lease;
  }

  private setLease(key: string, lease: Lease): void {
    this.deleteLease(key);
    this.leases.set(key, lease);
    let keys = this.leasesByOrigin.get(lease.originId);
    if (!keys) this.leasesByOrigin.set(lease.originId, (keys = new Set()));
    keys.add(key);
  }

  private deleteLease(key: string): void {
    const lease = this.leases.get(key);
    if (!lease) return;
    this.leases.delete(key);
    const keys = this.leasesByOrigin.get(lease.originId);
    if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.leasesByOrigin.delete(lease.originId);
    }
  }
}

/** `app` and `name` never contain `/` (isValidStreamPart), so this key is unambiguous. */
function streamKey(app: string, name: string): string {
  return `${app}/${name}`;
}

function cloneOrigin(o: OriginRecord): OriginRecord {
  return { ...o, load: { ...o.load } };
}
