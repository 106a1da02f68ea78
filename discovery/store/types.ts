import type { OriginLoad, OriginState } from '../types';

/**
 * The storage behind discovery. `MemoryStore` (one process, local runs and tests) and a later
 * `RedisStore` (production: each operation one Lua script) implement it; both must pass
 * test/unit/discovery/store-contract.ts.
 *
 * Semantics every implementation keeps:
 * - An origin registration expires `ttlMs` after its last `upsertOrigin`. When an origin expires or
 *   is removed, all its stream leases are dropped at once (not when the lease TTL runs out).
 * - `claimStream` succeeds if the stream has no lease, its lease expired, or the same origin holds
 *   it (a re-claim keeps `since` and gets a new token); otherwise it returns the current owner.
 *   Claiming for an origin that is not registered throws `OriginNotFoundError`.
 * - Tokens are fencing tokens: strictly increasing per stream across claims and releases
 *   (like Redis `INCR` on a key that outlives the lease).
 * - `renewStream` / `releaseStream` succeed only if the lease is live and both origin and token match.
 * - Errors reaching the backend throw `CascadeError('STORE_UNAVAILABLE')`.
 */
export interface DiscoveryStore {
  /** Shown by `GET /healthz`. */
  readonly kind: 'memory' | 'redis';
  upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord>;
  /** true if it was registered. Drops its leases. */
  removeOrigin(id: string): Promise<boolean>;
  getOrigin(id: string): Promise<OriginRecord | null>;
  listOrigins(): Promise<OriginRecord[]>;
  claimStream(app: string, name: string, originId: string, leaseMs: number): Promise<ClaimResult>;
  /** The renewed lease, or null if the lease is lost (expired, released, or token/origin mismatch). */
  renewStream(app: string, name: string, originId: string, token: number, leaseMs: number): Promise<Lease | null>;
  /** true if released; false if the lease was not held with this origin and token. */
  releaseStream(app: string, name: string, originId: string, token: number): Promise<boolean>;
  getStream(app: string, name: string): Promise<Lease | null>;
  listStreams(): Promise<Lease[]>;
  /** Resolves if the backend answers (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OriginRecordInput {
  id: string;
  rtmp: string;
  http: string;
  api?: string;
  region?: string;
  capacity?: number;
  state?: OriginState;
  load?: OriginLoad;
}

export interface OriginRecord {
  id: string;
  rtmp: string;
  http: string;
  api?: string;
  region?: string;
  capacity?: number;
  state: OriginState;
  load: OriginLoad;
  /** ms epoch of the last upsert. */
  updatedAt: number;
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

export type ClaimResult = { lease: Lease } | { conflict: Lease };

export type Clock = () => number;
