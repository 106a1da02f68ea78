import type { DiscoveryEvent, EdgeView, HeartbeatLease, HeartbeatLeaseResult, OriginRegistration, OriginView, StreamMoveReason, StreamOwnerView } from '../types';

/**
 * The storage behind discovery. `MemoryStore` (one process, local runs and tests) and `RedisStore`
 * (production: each write one Lua script) implement it; both pass
 * test/unit/discovery/store-contract.ts.
 *
 * Semantics every implementation keeps:
 * - An origin registration expires `ttlMs` after its last `upsertOrigin`. When an origin expires or
 *   is removed, all its stream leases are dropped at once (not when the lease TTL runs out): reads
 *   never show them again, and `sweep()` (or any write touching them) deletes them and emits the events.
 * - `claimStream` succeeds if the stream has no lease, its lease expired, its owner's registration
 *   expired, or the same origin holds it (a re-claim keeps `since` and gets a new token); otherwise
 *   it returns the current owner. With `opts.breakToken` equal to the current lease's token it takes
 *   the stream over anyway (the caller found that owner dead). Claiming for an origin that is not
 *   registered throws `OriginNotFoundError`.
 * - Tokens are fencing tokens: strictly increasing per stream across claims and releases
 *   (like Redis `INCR` on a key that outlives the lease).
 * - `renewStream` / `releaseStream` succeed only if the lease is live and both origin and token match.
 * - Every change is announced to `subscribe` listeners exactly once (across all replicas sharing the
 *   backend); see `DiscoveryEvent`.
 * - Errors reaching the backend throw `CascadeError('STORE_UNAVAILABLE')`.
 */
export interface DiscoveryStore {
  /** Shown by `GET /healthz`. */
  readonly kind: 'memory' | 'redis';
  /**
   * Gets ready to serve. Redis: waits (bounded) for the first connection; an unreachable Redis is
   * not an error here (the store keeps reconnecting and answers STORE_UNAVAILABLE meanwhile).
   */
  connect(): Promise<void>;
  upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord>;
  /**
   * Leases v2, one atomic operation (docs/discovery.md "Leases v2"): registers the origin (a later-started
   * incarnation drops the previous one's leases, `origin-restarted`; an earlier-started one throws
   * `StaleIncarnationError` and changes nothing), then per listed lease: renews it if held with that token;
   * re-claims it under a new token (above the given one) if the store does not hold it live for anyone or
   * holds another token of this origin; reports `fenced` if a live other origin holds it; `absent` for a
   * token-less entry not held. Leases held for the origin but not listed are released (`not-held`).
   */
  heartbeat(input: HeartbeatInput, originTtlMs: number, leaseTtlMs: number): Promise<HeartbeatOutcome>;
  /** true if it was registered. Drops its leases. */
  removeOrigin(id: string): Promise<boolean>;
  getOrigin(id: string): Promise<OriginRecord | null>;
  listOrigins(): Promise<OriginRecord[]>;
  claimStream(app: string, name: string, originId: string, leaseMs: number, opts?: ClaimOptions): Promise<ClaimResult>;
  /** The renewed lease, or null if the lease is lost (expired, released, or token/origin mismatch). */
  renewStream(app: string, name: string, originId: string, token: number, leaseMs: number): Promise<Lease | null>;
  /** true if released; false if the lease was not held with this origin and token. */
  releaseStream(app: string, name: string, originId: string, token: number): Promise<boolean>;
  getStream(app: string, name: string): Promise<Lease | null>;
  /** `getStream` and its owner's registration in one read (optional: else getStream + getOrigin). */
  getStreamOwner?(app: string, name: string): Promise<{ lease: Lease; origin: OriginRecord } | null>;
  /** Every live lease (unordered). */
  listStreams(): Promise<Lease[]>;
  /** One page of live leases in `app/name` byte order (see `StreamPageQuery`). */
  pageStreams(query: StreamPageQuery): Promise<StreamPageResult>;
  /** Number of leases held (may briefly count ones that expired but were not swept yet). */
  countStreams(): Promise<number>;
  /** Placement must not pick `originId` for this stream for `ms`; returns the ms epoch it ends. */
  avoidOrigin(app: string, name: string, originId: string, ms: number): Promise<number>;
  /** The origins placement must not pick for this stream now. */
  getAvoids(app: string, name: string): Promise<AvoidEntry[]>;
  /**
   * Deletes expired origins (with their leases) and expired leases, emitting `origin.down` and
   * `stream.released`. Safe to run often and from every replica at once. Returns the number removed.
   */
  sweep(): Promise<number>;
  /**
   * Milliseconds until the earliest stored expiry (0 when something expired and was not swept yet;
   * undefined when nothing stored expires). Optional: a store that knows it without a round trip (the
   * memory store) lets discovery sleep until then instead of sweeping every `sweepIntervalMs`.
   */
  msUntilNextExpiry?(): number | undefined;
  /**
   * Listens to every change (all replicas' with a shared backend). Resolves, with the unsubscribe
   * function, once events flow (Redis: once subscribed, or after the connect timeout while Redis is
   * unreachable; the subscription is made whenever Redis comes back).
   */
  subscribe(listener: (event: DiscoveryEvent) => void): Promise<() => void>;
  /**
   * Edge registry (docs/discovery.md "Edge registry"): stores the edge's report for `ttlMs`. A new id
   * (or one whose registration expired) announces `edge.up`; when `maxEdges` live edges are registered
   * already, a new id throws `TooManyEdgesError` (known ids always refresh). An expired edge is left out
   * of `listEdges` at once and deleted, with `edge.down`, by `sweep()` (or `removeEdge`).
   */
  upsertEdge(input: EdgeRecordInput, ttlMs: number, maxEdges: number): Promise<EdgeRecord>;
  /** true if it was registered (announces `edge.down`). */
  removeEdge(id: string): Promise<boolean>;
  /** Every live edge (unordered). */
  listEdges(): Promise<EdgeRecord[]>;
  /**
   * Whether events reach `subscribe` listeners now: null while they may be lost (Redis: the subscriber
   * connection is not subscribed), else a number that changes after every (re)subscription (events
   * published in between were lost). Discovery's owner cache is used only while this is not null and
   * drops everything when it changes. A store without it has no owner cache.
   */
  eventEpoch?(): number | null;
  /**
   * Owner-cache hints (Redis: the `P owner-hints` channel, on the event connection, so in order with
   * the events): what changes a cached owner view without an event, and heartbeat renewals
   * (docs/discovery.md "Owner cache"). Not events: SSE clients never see them. Returns the unsubscribe.
   */
  onOwnerHints?(listener: (hint: OwnerHint) => void): () => void;
  /** Resolves if the backend answers (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An owner-cache hint: a claim's new `owner` view (with its token), live until `until` (the lease's or
 * the registration's expiry, store clock); `stream` (key `app/name`) changed only its token (a heartbeat's same-origin re-claim);
 * origin `origin`'s addresses changed without a state change; every lease origin `renewed` holds,
 * and its registration, stay live until `until` (ms epoch, store clock) unless an event says otherwise.
 */
export type OwnerHint = { owner: StreamOwnerView; until: number } | { stream: string } | { origin: string } | { renewed: string; until: number };

/** What `upsertEdge` stores: an edge heartbeat body (URLs checked) plus the id from the path. */
export type EdgeRecordInput = Omit<EdgeView, 'updatedAt'>;

/** An edge as stored: its wire view plus when it expires. */
export interface EdgeRecord extends EdgeView {
  /** ms epoch when the registration expires. */
  expiresAt: number;
}

export interface ClaimOptions {
  /** Take the stream over if its current lease still has exactly this token (its owner is dead). */
  breakToken?: number;
}

/** What a store upserts: the `PUT /v1/origins/:id` body plus the id from the path. */
export interface OriginRecordInput extends OriginRegistration {
  id: string;
  incarnation?: string;
  startedAt?: number;
}

/** What `heartbeat` takes: the registration (with incarnation) and every lease the origin serves. */
export interface HeartbeatInput {
  origin: OriginRecordInput & { incarnation: string; startedAt: number };
  leases: readonly HeartbeatLease[];
}

export interface HeartbeatOutcome {
  origin: OriginRecord;
  /** One per input lease, in input order. */
  leases: HeartbeatLeaseResult[];
  released: number;
  restarted: boolean;
  /** No live registration existed (a new origin, or discovery lost or expired it): registered by this heartbeat. */
  unknown: boolean;
}

/** An origin as stored: its wire view plus when the registration expires. */
export interface OriginRecord extends OriginView {
  /** ms epoch when the registration expires. */
  expiresAt: number;
}

export interface Lease {
  app: string;
  name: string;
  originId: string;
  /** ms epoch of the first claim by this origin (kept across its re-claims and renews). */
  since: number;
  token: number;
  expiresAt: number;
}

/** `moved` on a lease result: the stream was taken from another origin (whose lease was dead or broken). */
export type ClaimResult = { lease: Lease; moved?: { from: string; reason: StreamMoveReason } } | { conflict: Lease };

export interface StreamPageQuery {
  app?: string;
  originId?: string;
  /** Exclusive start: the `app/name` key of the last stream of the previous page. */
  after?: string;
  limit: number;
  offset?: number;
}

export interface StreamPageResult {
  leases: Lease[];
  /** The `app/name` key to continue after, when more may follow. */
  next?: string;
}

export interface AvoidEntry {
  originId: string;
  /** ms epoch when the avoidance ends. */
  until: number;
}

export type Clock = () => number;

/** Avoid marks one origin id may have running at once; the oldest are evicted beyond (docs/hardening.md). */
export const DEFAULT_MAX_AVOIDS_PER_ORIGIN = 10_000;
/** Avoid marks running in total, all origins; the oldest are evicted beyond. */
export const DEFAULT_MAX_AVOIDS = 100_000;

/** `app` and `name` never contain `/` (isValidStreamPart), so this key is unambiguous and sorts by app. */
export function streamKey(app: string, name: string): string {
  return `${app}/${name}`;
}
