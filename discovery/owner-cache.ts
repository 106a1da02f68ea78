import { streamKey, type OwnerHint } from './store/types';
import type { DiscoveryEvent, OriginRef, StreamOwnerView } from './types';

/** One cached answer of `GET /v1/streams/:app/:name`: the owner view (null: no owner, 404). */
export interface OwnerEntry {
  view: StreamOwnerView | null;
  /** The JSON bodies, serialized once: with the fencing token (members) and without (anonymous). */
  json?: { full: string; anonymous: string };
  /** ms epoch after which the entry is not served (max age, lease and registration expiry). */
  validUntil: number;
}

export interface OwnerCacheOptions {
  /** Longest an entry is served (ms); 0 turns the cache off. */
  maxAgeMs: number;
  maxEntries?: number;
  /**
   * The store's event epoch (`DiscoveryStore.eventEpoch`): null while events may be lost (nothing is
   * cached or served then); a new number after every (re)subscription (what was cached is dropped).
   */
  eventEpoch: () => number | null;
  now?: () => number;
  /** Counted on every `get` while the cache is in use (metrics). */
  counters?: { hit: { inc(): void }; miss: { inc(): void } };
}

/**
 * Local read cache of stream owners for the hot lookup (`GET /v1/streams/:app/:name`, the SRS
 * coworker lookup), in front of the store (docs/discovery.md "Owner cache"). Correctness rules:
 * - served only while the store's event subscription is up, and only entries filled under the
 *   current subscription (events lost while it was down cannot leave an old owner behind);
 * - every store event about a stream drops its entry; every origin event drops its streams' entries;
 *   this process's own writes drop theirs when they finish (`InvalidatingStore`), before the answer
 *   goes out, so a claim answered here is never followed by an older owner from here;
 * - a read that started before any invalidation does not fill the cache (generation check), so an
 *   answer read from the store before a change cannot be cached after the change's event;
 * - what changes an owner view without an event (a same-origin re-claim: only the token; an address
 *   change without a state change) comes as a store hint (`onHint`) and drops those entries;
 * - an entry is never served past its lease's or its owner's registration expiry as last known (an
 *   expired but not yet swept lease is not served): the expiry read with it, moved forward only by a
 *   heartbeat renewal hint of its owner; nor past `maxAgeMs` after it was read (bounds what nothing
 *   announces: a store that lost its state without dropping our connection, clock skew).
 */
export class OwnerCache {
  /** `capUntil`: fill time + maxAgeMs, the most a heartbeat renewal may extend `validUntil` to. */
  private readonly entries = new Map<string, OwnerEntry & { originId: string | null; capUntil: number }>();
  /** origin id → keys of its cached streams. */
  private readonly byOrigin = new Map<string, Set<string>>();
  private generation = 0;
  private epoch: number | null = null;
  private readonly maxEntries: number;
  private readonly now: () => number;
  hits = 0;
  misses = 0;

  constructor(private readonly opts: OwnerCacheOptions) {
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether the cache may be used now (drops everything when the subscription changed). */
  private live(): boolean {
    if (this.opts.maxAgeMs <= 0) return false;
    const epoch = this.opts.eventEpoch();
    if (epoch !== this.epoch) {
      this.clear();
      this.epoch = epoch;
    }
    return epoch !== null;
  }

  /** The entry for `key`, if one may be served now (counts a hit or a miss). */
  get(key: string): OwnerEntry | undefined {
    if (!this.live()) return undefined;
    const e = this.entries.get(key);
    if (e && e.validUntil > this.now()) {
      this.hits++;
      this.opts.counters?.hit.inc();
      return e;
    }
    if (e) this.drop(key);
    this.misses++;
    this.opts.counters?.miss.inc();
    return undefined;
  }

  /** Call before reading the store; pass the result to `fill`. */
  begin(): number {
    return this.generation;
  }

  /**
   * Remembers what a store read returned, unless anything was invalidated since `begin()` (the read
   * may predate that change) or the cache may not be used. `expiresAt`: the earliest of the lease's and
   * the owner registration's expiry (null for "no owner").
   */
  fill(key: string, started: number, view: StreamOwnerView | null, expiresAt: number | null): OwnerEntry | undefined {
    if (started !== this.generation || !this.live()) return undefined;
    const now = this.now();
    const capUntil = now + this.opts.maxAgeMs;
    const validUntil = Math.min(capUntil, expiresAt ?? Infinity);
    if (validUntil <= now) return undefined;
    this.drop(key);
    const entry = { view, validUntil, capUntil, originId: view?.origin.id ?? null };
    this.entries.set(key, entry);
    if (entry.originId !== null) {
      let keys = this.byOrigin.get(entry.originId);
      if (!keys) this.byOrigin.set(entry.originId, (keys = new Set()));
      keys.add(key);
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    return entry;
  }

  /**
   * A claim's new owner view, from its hint (in order after its event): the stream's state as of now,
   * so it replaces the entry, and reads that started before it do not fill (generation).
   */
  private put(key: string, view: StreamOwnerView, until: number): void {
    this.generation++;
    this.drop(key);
    if (!this.live()) return;
    this.fill(key, this.generation, view, until);
  }

  /** A stream changed (or may have). */
  invalidate(key: string): void {
    this.generation++;
    this.drop(key);
  }

  /** An origin changed (or may have): its streams' entries go. */
  invalidateOrigin(id: string): void {
    this.generation++;
    for (const key of this.byOrigin.get(id) ?? []) this.entries.delete(key);
    this.byOrigin.delete(id);
  }

  /** Drops the origin's entries if its addresses differ from the cached ones (it re-registered elsewhere). */
  checkOrigin(origin: OriginRef): void {
    const keys = this.byOrigin.get(origin.id);
    const first = keys?.values().next().value;
    const cached = first === undefined ? undefined : this.entries.get(first)?.view?.origin;
    if (cached && (cached.rtmp !== origin.rtmp || cached.http !== origin.http)) this.invalidateOrigin(origin.id);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.byOrigin.clear();
  }

  /**
   * An owner-cache hint (the store's, all replicas', in order with the events): a same-origin
   * re-claim drops that stream, an address change that origin's streams; a heartbeat renewal keeps
   * the origin's entries until `until` (never past their max age; a lease it released or moved was
   * announced before, so its entry is gone already).
   */
  onHint(hint: OwnerHint): void {
    if ('owner' in hint) this.put(streamKey(hint.owner.app, hint.owner.name), hint.owner, hint.until);
    else if ('stream' in hint) this.invalidate(hint.stream);
    else if ('origin' in hint) this.invalidateOrigin(hint.origin);
    else {
      for (const key of this.byOrigin.get(hint.renewed) ?? []) {
        const e = this.entries.get(key);
        if (e) e.validUntil = Math.max(e.validUntil, Math.min(e.capUntil, hint.until));
      }
    }
  }

  /** Every store event (all replicas'): drops what it may have changed. */
  onEvent(event: DiscoveryEvent): void {
    switch (event.type) {
      case 'stream.claimed':
      case 'stream.released':
      case 'stream.moved':
        this.invalidate(streamKey(event.data.app, event.data.name));
        return;
      case 'origin.up':
      case 'origin.draining':
      case 'origin.down':
        this.invalidateOrigin(event.data.id);
        return;
      default:
        // An event type this version does not know: be safe.
        this.clear();
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    if (e.originId !== null) {
      const keys = this.byOrigin.get(e.originId);
      keys?.delete(key);
      if (keys?.size === 0) this.byOrigin.delete(e.originId);
    }
  }
}

