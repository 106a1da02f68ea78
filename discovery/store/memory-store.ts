import { CascadeError, OriginNotFoundError, StaleIncarnationError, TooManyEdgesError } from '../../common/errors';
import type { DiscoveryEvent, HeartbeatLease, HeartbeatLeaseResult, StreamMoveReason, StreamReleaseReason } from '../types';
import { originView, ownerView, originFields } from '../views';
import { EventFanout } from './fanout';
import type { Logger } from '../../common/logger';
import {
  DEFAULT_MAX_AVOIDS,
  DEFAULT_MAX_AVOIDS_PER_ORIGIN,
  streamKey,
  type AvoidEntry,
  type ClaimOptions,
  type ClaimResult,
  type Clock,
  type DiscoveryStore,
  type EdgeRecord,
  type EdgeRecordInput,
  type HeartbeatInput,
  type HeartbeatOutcome,
  type Lease,
  type OriginRecord,
  type OriginRecordInput,
  type StreamPageQuery,
  type StreamPageResult,
} from './types';

export interface MemoryStoreOptions {
  /** Injectable clock (ms epoch) so tests move time without sleeping. */
  now?: Clock;
  /** Avoid marks one origin id may have running (oldest evicted beyond). Default 10,000. */
  maxAvoidsPerOrigin?: number;
  /** Avoid marks running in total (oldest evicted beyond). Default 100,000. */
  maxAvoids?: number;
  /** Where a throwing event listener is reported (EventFanout). */
  logger?: Logger;
}

/**
 * Single-process `DiscoveryStore`. Every operation runs synchronously inside its promise, so
 * operations are atomic with respect to each other (the property the Redis Lua scripts give).
 * Expiry is applied at the start of every operation and by `sweep()`, against the injected clock;
 * events go to in-process listeners.
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
   * keeping a counter for every name ever claimed.
   */
  private lastToken = 0;
  private readonly avoids = new Map<string, Map<string, number>>();
  /** Every running avoid mark, oldest (first marked or last re-marked) first: `originId \n M`. */
  private readonly avoidOrder = new Map<string, true>();
  /** originId → its marks' stream keys, oldest first. */
  private readonly avoidsByOrigin = new Map<string, Map<string, true>>();
  private readonly maxAvoidsPerOrigin: number;
  private readonly maxAvoids: number;
  private readonly edges = new Map<string, EdgeRecord>();
  private readonly fanout: EventFanout;
  private closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxAvoidsPerOrigin = opts.maxAvoidsPerOrigin ?? DEFAULT_MAX_AVOIDS_PER_ORIGIN;
    this.maxAvoids = opts.maxAvoids ?? DEFAULT_MAX_AVOIDS;
    this.fanout = new EventFanout(opts.logger);
  }

  async connect(): Promise<void> {
    this.begin();
  }

  async upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord> {
    const now = this.begin();
    const previous = this.origins.get(reg.id);
    const record: OriginRecord = {
      ...originFields(reg),
      updatedAt: now,
      expiresAt: now + ttlMs,
    };
    this.origins.set(reg.id, record);
    if (record.state === 'draining' && previous?.state !== 'draining') this.emit({ type: 'origin.draining', data: originView(record) });
    else if (record.state === 'active' && previous?.state !== 'active') this.emit({ type: 'origin.up', data: originView(record) });
    return cloneOrigin(record);
  }

  async heartbeat(input: HeartbeatInput, originTtlMs: number, leaseTtlMs: number): Promise<HeartbeatOutcome> {
    const now = this.begin();
    const reg = input.origin;
    const previous = this.origins.get(reg.id);
    let restarted = false;
    if (previous?.incarnation !== undefined && previous.incarnation !== reg.incarnation) {
      const current = { incarnation: previous.incarnation, startedAt: previous.startedAt ?? 0 };
      if (startedBefore(reg, current)) throw new StaleIncarnationError(reg.id, current);
      restarted = true;
      this.dropOrigin(reg.id, 'restarted');
    }
    const record: OriginRecord = { ...originFields(reg), updatedAt: now, expiresAt: now + originTtlMs };
    this.origins.set(reg.id, record);
    const before = restarted ? undefined : previous?.state;
    if (record.state === 'draining' && before !== 'draining') this.emit({ type: 'origin.draining', data: originView(record) });
    else if (record.state === 'active' && before !== 'active') this.emit({ type: 'origin.up', data: originView(record) });
    const listed = new Set<string>();
    const leases = input.leases.map((l) => this.heartbeatLease(record, l, now, leaseTtlMs, listed));
    let released = 0;
    for (const key of [...(this.leasesByOrigin.get(reg.id) ?? [])]) {
      if (listed.has(key)) continue;
      this.deleteLease(key, 'not-held');
      released++;
    }
    return { origin: cloneOrigin(record), leases, released, restarted, unknown: previous === undefined };
  }

  /** One lease of a heartbeat (the rules are on `DiscoveryStore.heartbeat`). */
  private heartbeatLease(origin: OriginRecord, l: HeartbeatLease, now: number, leaseMs: number, listed: Set<string>): HeartbeatLeaseResult {
    const key = streamKey(l.app, l.name);
    listed.add(key);
    const base = { app: l.app, name: l.name };
    const stored = this.leases.get(key);
    const current = this.liveLease(key, now);
    if (current && current.originId !== origin.id) return { ...base, status: 'fenced', token: current.token, owner: current.originId };
    if (current && (l.token === undefined || l.token === current.token)) {
      current.expiresAt = now + leaseMs;
      return { ...base, status: 'renewed', token: current.token };
    }
    if (l.token === undefined) return { ...base, status: 'absent' };
    const ahead = l.token > this.lastToken;
    this.lastToken = Math.max(this.lastToken, l.token);
    const lease: Lease = {
      ...base,
      originId: origin.id,
      since: current ? current.since : Math.min(l.since ?? now, now),
      token: ++this.lastToken,
      expiresAt: now + leaseMs,
    };
    this.setLease(key, lease);
    if (!current) {
      const view = ownerView(lease, origin);
      if (stored && stored.originId !== origin.id) this.emit({ type: 'stream.moved', data: { ...view, from: stored.originId, reason: 'expired' } });
      else this.emit({ type: 'stream.claimed', data: view });
    }
    return { ...base, status: 'reclaimed', token: lease.token, ...(ahead ? { note: 'TOKEN_AHEAD' as const } : {}) };
  }

  async removeOrigin(id: string): Promise<boolean> {
    this.begin();
    return this.dropOrigin(id, 'deregistered');
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

  async claimStream(app: string, name: string, originId: string, leaseMs: number, opts: ClaimOptions = {}): Promise<ClaimResult> {
    const now = this.begin();
    const origin = this.origins.get(originId);
    if (!origin) throw new OriginNotFoundError(originId);
    const key = streamKey(app, name);
    const stored = this.leases.get(key);
    const current = this.liveLease(key, now);
    let moved: { from: string; reason: StreamMoveReason } | undefined;
    if (current && current.originId !== originId) {
      if (opts.breakToken === undefined || opts.breakToken !== current.token) return { conflict: { ...current } };
      moved = { from: current.originId, reason: 'owner-dead' };
    } else if (!current && stored && stored.originId !== originId) {
      moved = { from: stored.originId, reason: 'expired' };
    }
    const token = ++this.lastToken;
    const lease: Lease = {
      app,
      name,
      originId,
      since: current && current.originId === originId ? current.since : now,
      token,
      expiresAt: now + leaseMs,
    };
    this.setLease(key, lease);
    const view = ownerView(lease, origin);
    if (moved) this.emit({ type: 'stream.moved', data: { ...view, from: moved.from, reason: moved.reason } });
    else if (!current) this.emit({ type: 'stream.claimed', data: view });
    return moved ? { lease: { ...lease }, moved } : { lease: { ...lease } };
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
    this.deleteLease(key, 'released');
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

  async pageStreams(query: StreamPageQuery): Promise<StreamPageResult> {
    const now = this.begin();
    const prefix = query.app !== undefined ? `${query.app}/` : '';
    const keys = [...this.leases.keys()].filter((k) => k.startsWith(prefix) && (query.after === undefined || k > query.after)).sort(byteOrder);
    let skip = query.offset ?? 0;
    const out: Lease[] = [];
    for (const key of keys) {
      const lease = this.liveLease(key, now);
      if (!lease || (query.originId !== undefined && lease.originId !== query.originId)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (out.length === query.limit) return { leases: out, next: streamKey(out[out.length - 1].app, out[out.length - 1].name) };
      out.push({ ...lease });
    }
    return { leases: out };
  }

  async countStreams(): Promise<number> {
    this.begin();
    return this.leases.size;
  }

  async avoidOrigin(app: string, name: string, originId: string, ms: number): Promise<number> {
    const now = this.begin();
    const key = streamKey(app, name);
    let entries = this.avoids.get(key);
    if (!entries) this.avoids.set(key, (entries = new Map()));
    const until = Math.max(entries.get(originId) ?? 0, now + ms);
    entries.set(originId, until);
    // Bounded: a re-mark moves to the end; beyond the caps the oldest marks go (of this origin, then of all).
    const id = `${originId}\n${key}`;
    this.avoidOrder.delete(id);
    this.avoidOrder.set(id, true);
    let mine = this.avoidsByOrigin.get(originId);
    if (!mine) this.avoidsByOrigin.set(originId, (mine = new Map()));
    mine.delete(key);
    mine.set(key, true);
    while (mine.size > this.maxAvoidsPerOrigin) this.dropAvoid(originId, mine.keys().next().value as string);
    while (this.avoidOrder.size > this.maxAvoids) {
      const oldest = this.avoidOrder.keys().next().value as string;
      const nl = oldest.indexOf('\n');
      this.dropAvoid(oldest.slice(0, nl), oldest.slice(nl + 1));
    }
    return until;
  }

  /** Running avoid marks: in total and of one origin id. */
  avoidCounts(originId?: string): { total: number; origin: number } {
    return { total: this.avoidOrder.size, origin: originId ? (this.avoidsByOrigin.get(originId)?.size ?? 0) : 0 };
  }

  private dropAvoid(originId: string, key: string): void {
    const entries = this.avoids.get(key);
    entries?.delete(originId);
    if (entries?.size === 0) this.avoids.delete(key);
    this.avoidOrder.delete(`${originId}\n${key}`);
    const mine = this.avoidsByOrigin.get(originId);
    mine?.delete(key);
    if (mine?.size === 0) this.avoidsByOrigin.delete(originId);
  }

  async getAvoids(app: string, name: string): Promise<AvoidEntry[]> {
    const now = this.begin();
    const key = streamKey(app, name);
    const entries = this.avoids.get(key);
    if (!entries) return [];
    const out: AvoidEntry[] = [];
    for (const [originId, until] of [...entries]) {
      if (until <= now) this.dropAvoid(originId, key);
      else out.push({ originId, until });
    }
    return out;
  }

  async sweep(): Promise<number> {
    const now = this.now();
    if (this.closed) throw new CascadeError('STORE_UNAVAILABLE', 'the memory store is closed');
    let removed = this.expireOrigins(now) + this.expireEdges(now);
    for (const key of [...this.leases.keys()]) {
      const lease = this.leases.get(key);
      if (lease && lease.expiresAt <= now) {
        this.deleteLease(key, 'expired');
        removed++;
      }
    }
    for (const [key, entries] of [...this.avoids]) {
      for (const [id, until] of [...entries]) if (until <= now) this.dropAvoid(id, key);
    }
    return removed;
  }

  msUntilNextExpiry(): number | undefined {
    if (this.closed) return undefined;
    let earliest = Infinity;
    for (const o of this.origins.values()) earliest = Math.min(earliest, o.expiresAt);
    for (const l of this.leases.values()) earliest = Math.min(earliest, l.expiresAt);
    for (const e of this.edges.values()) earliest = Math.min(earliest, e.expiresAt);
    return earliest === Infinity ? undefined : Math.max(0, earliest - this.now());
  }

  async upsertEdge(input: EdgeRecordInput, ttlMs: number, maxEdges: number): Promise<EdgeRecord> {
    const now = this.begin();
    const known = this.edges.has(input.id);
    if (!known && this.edges.size >= maxEdges) throw new TooManyEdgesError(input.id, maxEdges);
    const record = cloneEdge({ ...input, updatedAt: now, expiresAt: now + ttlMs });
    this.edges.set(input.id, record);
    if (!known) this.emit({ type: 'edge.up', data: { id: input.id } });
    return cloneEdge(record);
  }

  async removeEdge(id: string): Promise<boolean> {
    this.begin();
    const existed = this.edges.delete(id);
    if (existed) this.emit({ type: 'edge.down', data: { id } });
    return existed;
  }

  async listEdges(): Promise<EdgeRecord[]> {
    this.begin();
    return [...this.edges.values()].map(cloneEdge);
  }

  async subscribe(listener: (event: DiscoveryEvent) => void): Promise<() => void> {
    return this.fanout.add(listener);
  }

  async ping(): Promise<void> {
    this.begin();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.origins.clear();
    this.leases.clear();
    this.leasesByOrigin.clear();
    this.avoids.clear();
    this.avoidOrder.clear();
    this.avoidsByOrigin.clear();
    this.edges.clear();
    this.fanout.clear();
  }

  /** Reads the clock and expires origins (with their leases). */
  private begin(): number {
    if (this.closed) throw new CascadeError('STORE_UNAVAILABLE', 'the memory store is closed');
    const now = this.now();
    this.expireOrigins(now);
    this.expireEdges(now);
    return now;
  }

  private expireEdges(now: number): number {
    let removed = 0;
    for (const [id, edge] of this.edges) {
      if (edge.expiresAt > now) continue;
      this.edges.delete(id);
      this.emit({ type: 'edge.down', data: { id } });
      removed++;
    }
    return removed;
  }

  private expireOrigins(now: number): number {
    let removed = 0;
    for (const [id, origin] of this.origins) {
      if (origin.expiresAt <= now) {
        this.dropOrigin(id, 'expired');
        removed++;
      }
    }
    return removed;
  }

  private dropOrigin(id: string, reason: 'expired' | 'deregistered' | 'restarted'): boolean {
    const existed = this.origins.delete(id);
    const keys = this.leasesByOrigin.get(id);
    if (keys) {
      for (const key of [...keys]) this.deleteLease(key, LEASE_DROP_REASON[reason]);
      this.leasesByOrigin.delete(id);
    }
    if (existed) this.emit({ type: 'origin.down', data: { id, reason } });
    return existed;
  }

  /** The lease if live; an expired one stays stored (for `moved` and the sweep's event) but is not returned. */
  private liveLease(key: string, now: number): Lease | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    if (!this.origins.has(lease.originId)) {
      this.deleteLease(key, 'origin-down');
      return undefined;
    }
    return lease.expiresAt > now ? lease : undefined;
  }

  private setLease(key: string, lease: Lease): void {
    this.unlinkLease(key);
    this.leases.set(key, lease);
    let keys = this.leasesByOrigin.get(lease.originId);
    if (!keys) this.leasesByOrigin.set(lease.originId, (keys = new Set()));
    keys.add(key);
  }

  private deleteLease(key: string, reason: StreamReleaseReason): void {
    const lease = this.unlinkLease(key);
    if (lease) this.emit({ type: 'stream.released', data: { app: lease.app, name: lease.name, originId: lease.originId, token: lease.token, reason } });
  }

  private unlinkLease(key: string): Lease | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    this.leases.delete(key);
    const keys = this.leasesByOrigin.get(lease.originId);
    if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.leasesByOrigin.delete(lease.originId);
    }
    return lease;
  }

  private emit(event: DiscoveryEvent): void {
    this.fanout.emit(event);
  }
}

const LEASE_DROP_REASON = { expired: 'origin-down', deregistered: 'origin-removed', restarted: 'origin-restarted' } as const;

/** Incarnations of one origin id are ordered by start time (then by id, so the order is total). */
export function startedBefore(a: { incarnation: string; startedAt: number }, b: { incarnation: string; startedAt: number }): boolean {
  return a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.incarnation < b.incarnation);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cloneEdge(e: EdgeRecord): EdgeRecord {
  return { ...e, load: { ...e.load }, streams: e.streams.map((s) => ({ ...s, viewers: { ...s.viewers } })) };
}

function cloneOrigin(o: OriginRecord): OriginRecord {
  return { ...o, load: { ...o.load } };
}
