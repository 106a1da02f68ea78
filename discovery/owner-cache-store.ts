import type { OwnerCache } from './owner-cache';
import {
  streamKey,
  type ClaimOptions,
  type ClaimResult,
  type DiscoveryStore,
  type HeartbeatInput,
  type HeartbeatOutcome,
  type Lease,
  type OriginRecord,
  type OriginRecordInput,
  type OwnerHint,
} from './store/types';

/**
 * The store as the routes see it when there is an owner cache: every write this process makes drops
 * the cache entries it may have changed as soon as it finishes (also when it fails: it may have
 * happened anyway), before the route answers. Reads pass straight through.
 */
export class InvalidatingStore implements DiscoveryStore {
  constructor(
    private readonly store: DiscoveryStore,
    private readonly cache: OwnerCache,
  ) {}

  get kind(): DiscoveryStore['kind'] {
    return this.store.kind;
  }

  connect(): Promise<void> {
    return this.store.connect();
  }

  async upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord> {
    try {
      const record = await this.store.upsertOrigin(reg, ttlMs);
      this.cache.checkOrigin(record);
      return record;
    } catch (err) {
      this.cache.invalidateOrigin(reg.id);
      throw err;
    }
  }

  async heartbeat(input: HeartbeatInput, originTtlMs: number, leaseTtlMs: number): Promise<HeartbeatOutcome> {
    let outcome: HeartbeatOutcome;
    try {
      outcome = await this.store.heartbeat(input, originTtlMs, leaseTtlMs);
    } catch (err) {
      this.cache.invalidateOrigin(input.origin.id);
      throw err;
    }
    if (outcome.restarted || outcome.unknown || outcome.released > 0) this.cache.invalidateOrigin(input.origin.id);
    else this.cache.checkOrigin(outcome.origin);
    // Renewed, fenced and absent leases keep their owner and token; a re-claim changes the token.
    for (const r of outcome.leases) if (r.status === 'reclaimed') this.cache.invalidate(streamKey(r.app, r.name));
    return outcome;
  }

  async removeOrigin(id: string): Promise<boolean> {
    try {
      return await this.store.removeOrigin(id);
    } finally {
      this.cache.invalidateOrigin(id);
    }
  }

  getOrigin(id: string): Promise<OriginRecord | null> {
    return this.store.getOrigin(id);
  }

  listOrigins(): Promise<OriginRecord[]> {
    return this.store.listOrigins();
  }

  async claimStream(app: string, name: string, originId: string, leaseMs: number, opts?: ClaimOptions): Promise<ClaimResult> {
    try {
      return await this.store.claimStream(app, name, originId, leaseMs, opts);
    } finally {
      this.cache.invalidate(streamKey(app, name));
    }
  }

  renewStream(app: string, name: string, originId: string, token: number, leaseMs: number): Promise<Lease | null> {
    // Same owner, same token: the owner view does not change.
    return this.store.renewStream(app, name, originId, token, leaseMs);
  }

  async releaseStream(app: string, name: string, originId: string, token: number): Promise<boolean> {
    try {
      return await this.store.releaseStream(app, name, originId, token);
    } finally {
      this.cache.invalidate(streamKey(app, name));
    }
  }

  getStream(app: string, name: string): Promise<Lease | null> {
    return this.store.getStream(app, name);
  }

  getStreamOwner(app: string, name: string): Promise<{ lease: Lease; origin: OriginRecord } | null> {
    if (this.store.getStreamOwner) return this.store.getStreamOwner(app, name);
    return this.store.getStream(app, name).then(async (lease) => {
      const origin = lease ? await this.store.getOrigin(lease.originId) : null;
      return lease && origin ? { lease, origin } : null;
    });
  }

  listStreams(): Promise<Lease[]> {
    return this.store.listStreams();
  }

  pageStreams(...args: Parameters<DiscoveryStore['pageStreams']>): ReturnType<DiscoveryStore['pageStreams']> {
    return this.store.pageStreams(...args);
  }

  countStreams(): Promise<number> {
    return this.store.countStreams();
  }

  avoidOrigin(app: string, name: string, originId: string, ms: number): Promise<number> {
    return this.store.avoidOrigin(app, name, originId, ms);
  }

  getAvoids(...args: Parameters<DiscoveryStore['getAvoids']>): ReturnType<DiscoveryStore['getAvoids']> {
    return this.store.getAvoids(...args);
  }

  // The edge registry holds no stream owners: straight through.
  upsertEdge(...args: Parameters<DiscoveryStore['upsertEdge']>): ReturnType<DiscoveryStore['upsertEdge']> {
    return this.store.upsertEdge(...args);
  }

  removeEdge(id: string): Promise<boolean> {
    return this.store.removeEdge(id);
  }

  listEdges(): ReturnType<DiscoveryStore['listEdges']> {
    return this.store.listEdges();
  }

  sweep(): Promise<number> {
    // Removes only what expired (never served: entries end at the expiry) and announces it.
    return this.store.sweep();
  }

  subscribe(...args: Parameters<DiscoveryStore['subscribe']>): ReturnType<DiscoveryStore['subscribe']> {
    return this.store.subscribe(...args);
  }

  eventEpoch(): number | null {
    return this.store.eventEpoch?.() ?? null;
  }

  onOwnerHints(listener: (hint: OwnerHint) => void): () => void {
    return this.store.onOwnerHints?.(listener) ?? (() => undefined);
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
