/**
 * Wire types of the discovery REST API, shared by discovery, origins and edges.
 * Import these (not the TypeBox schemas) from origin/edge code.
 */

/** Origin ids: same rule as origin/config.ts `id`. */
export const ORIGIN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type OriginState = 'active' | 'draining';

/** Load reported with each heartbeat (docs/design.md section 4). All fields optional, all >= 0. */
export interface OriginLoad {
  /** Weight in use (ingest Mbit/s + ceil(viewers / 6) per stream). */
  weight?: number;
  /** CPU percent of the process (may exceed 100 on several cores). */
  cpu?: number;
  publishers?: number;
  viewers?: number;
  ingressBps?: number;
  egressBps?: number;
}

/** Body of `PUT /v1/origins/:id` (register or heartbeat). */
export interface OriginRegistration {
  /** `rtmp://host:port` that edges pull from and redirects point to. */
  rtmp: string;
  /** `http://host:port` of the origin's HTTP-FLV/HLS listener. */
  http: string;
  /** Origin API `host:port` (or URL); defaults to the host:port of `http`. */
  api?: string;
  region?: string;
  /** Weight capacity (cores x 12 by default). */
  capacity?: number;
  /** Default `active`. */
  state?: OriginState;
  load?: OriginLoad;
}

/** An origin as listed by `GET /v1/origins`. */
export interface OriginView {
  id: string;
  rtmp: string;
  http: string;
  api?: string;
  region?: string;
  capacity?: number;
  state: OriginState;
  load: OriginLoad;
  /** ms epoch of the last register/heartbeat. */
  updatedAt: number;
  /** Boot id of the origin process that sent the last heartbeat (absent after a legacy `PUT` registration). */
  incarnation?: string;
  /** ms epoch at which that process started: a heartbeat of an earlier-started process is refused (STALE_INCARNATION). */
  startedAt?: number;
}

/** `200` of `PUT /v1/origins/:id`. */
export interface RegisterOriginResult {
  origin: OriginView;
  /** The registration expires this long after the heartbeat unless refreshed. */
  ttlMs: number;
}

/** The owner's addresses inside a stream view. */
export interface OriginRef {
  id: string;
  rtmp: string;
  http: string;
}

/** **contract**: `GET /v1/streams/:app/:name` and the `owner` of a 409 `STREAM_OWNED_ELSEWHERE`. */
export interface StreamOwnerView {
  app: string;
  name: string;
  origin: OriginRef;
  /** ms epoch since the stream is held by this origin. */
  since: number;
  /** Fencing token: strictly increasing per stream across claims. Left out for anonymous callers (docs/security.md). */
  token?: number;
}

/** `200` of claim and renew: the owner view plus the lease time to live. */
export interface LeaseView extends StreamOwnerView {
  /** Always present: claim and renew answer the origin that holds the lease. */
  token: number;
  ttlMs: number;
}

/** Body of a REST error (`docs/errors.md`). */
export interface ErrorBody {
  code: string;
  message: string;
  [extra: string]: unknown;
}

// ---- listing ---------------------------------------------------------------------------------

/** Query of `GET /v1/streams` (all optional). */
export interface StreamListQuery {
  /** Only streams of this app. */
  app?: string;
  /** Only streams owned by this origin id. */
  origin?: string;
  /** Page size: default 100, at most 1000. */
  limit?: number;
  /** Opaque cursor from a previous page's `next`. */
  cursor?: string;
  /** Skip this many matching streams (after `cursor`, if given). */
  offset?: number;
}

/**
 * `200` of `GET /v1/streams`: streams in `app/name` byte order. `next` is present when more may
 * follow (pass it as `cursor`); a page may hold fewer than `limit` streams even then.
 */
export interface StreamPage {
  streams: StreamOwnerView[];
  next?: string;
  /** Present (true) when the store is unreachable and this page comes from the local cache. */
  stale?: boolean;
}

// ---- placement -------------------------------------------------------------------------------

/** What placement weighs besides the stream name. */
export interface PlacementInput {
  /** Expected ingest bit rate (weight: 1 per started Mbit/s). */
  bitrateKbps?: number;
  /** Expected viewers (weight: ceil(viewers / 6)). */
  viewers?: number;
  /** Preferred region of the origin. */
  region?: string;
}

/** Body of `POST /v1/placement`. */
export interface PlacementRequest extends PlacementInput {
  app: string;
  stream: string;
}

export type PlacementExclusion = 'draining' | 'over-high-water' | 'shed-recently' | 'region-mismatch';

/** One candidate origin in the `explain` list of a placement. */
export interface PlacementExplainEntry {
  id: string;
  /** load.weight / capacity now. */
  utilisation: number;
  /** (load.weight + cost of the new stream) / capacity: lower is better. */
  score: number;
  chosen: boolean;
  excluded?: PlacementExclusion;
  reason: string;
}

/** `200` of `POST /v1/placement`. */
export interface PlacementResult {
  origin: OriginRef;
  /** `rtmp://host:port/app/stream`: where the encoder publishes. */
  publishUrl: string;
  /** true when the stream is already live: `origin` is its current owner. */
  live: boolean;
  explain: PlacementExplainEntry[];
}

/** Body of `POST /v1/streams/:app/:name/avoid`. */
export interface AvoidRequest {
  originId: string;
  /** For how long placement must not pick `originId` for this stream (1 ms .. 24 h). */
  ms: number;
}

// ---- heartbeat v2 (POST /v1/origins/:id/heartbeat; docs/discovery.md "Leases v2") -------------

/** One stream an origin serves. No `token`: its claim is still in flight (kept if held, never created). */
export interface HeartbeatLease {
  app: string;
  name: string;
  /** The fencing token the origin holds. */
  token?: number;
  /** ms epoch the origin started serving it (kept when the lease is re-claimed). */
  since?: number;
}

/** Body of `POST /v1/origins/:id/heartbeat`: registration, load, incarnation and every lease, in one request. */
export interface HeartbeatRequest {
  /** Boot id of the origin process (random per start). */
  incarnation: string;
  /** ms epoch the process started; orders incarnations of the same id. */
  startedAt: number;
  registration: OriginRegistration;
  leases: HeartbeatLease[];
}

/**
 * `renewed`: held with this token, extended. `reclaimed`: the store had lost it (restart, flush, failover,
 * expiry during an outage) or held another token of ours; now held again under `token`. `fenced`: a live
 * other origin (`owner`) holds it; stop serving it. `absent`: listed without a token and not held (a claim
 * in flight will create it).
 */
export type HeartbeatLeaseStatus = 'renewed' | 'reclaimed' | 'fenced' | 'absent';

export interface HeartbeatLeaseResult {
  app: string;
  name: string;
  status: HeartbeatLeaseStatus;
  /** The current token (ours when renewed/reclaimed, the owner's when fenced). */
  token?: number;
  /** The live other owner, when fenced. */
  owner?: string;
  /** `TOKEN_AHEAD`: the origin held a token above anything this store issued (it lost state); re-claimed above it. */
  note?: 'TOKEN_AHEAD';
}

/** `200` of the heartbeat: one result per listed lease, in request order. */
export interface HeartbeatResult {
  origin: OriginView;
  ttlMs: number;
  leaseTtlMs: number;
  leases: HeartbeatLeaseResult[];
  /** Leases the store held for this origin that the heartbeat did not list: released (`not-held`). */
  released: number;
  /** The previous registration was another (older) incarnation: its leases were dropped. */
  restarted: boolean;
}

// ---- edges and the cluster view (docs/discovery.md "Edge registry", "Cluster view") ----------

/** Edge ids: same rule as edge/config.ts `id`. */
export const EDGE_ID_PATTERN = ORIGIN_ID_PATTERN;

export type EdgeState = 'active' | 'draining';
export type EdgeStreamState = 'pulling' | 'live' | 'reconnecting' | 'idle';

/** Viewers of one stream at one edge, by protocol. */
export interface ProtocolViewers {
  rtmp: number;
  flv: number;
  /** Distinct HLS clients seen polling in the last ~10 s. */
  hls: number;
}

/** One stream an edge serves, in its heartbeat. */
export interface EdgeStreamReport {
  app: string;
  name: string;
  viewers: ProtocolViewers;
  egressBps: number;
  /** Origin id the edge pulls from (when known). */
  upstream?: string;
  state: EdgeStreamState;
}

/** Body of `POST /v1/edges/:id/heartbeat`. */
export interface EdgeHeartbeatRequest {
  rtmp?: string;
  http?: string;
  region?: string;
  state?: EdgeState;
  /** Boot id of the edge process. */
  incarnation?: string;
  load: { viewers: number; egressBps: number; cpu?: number };
  streams: EdgeStreamReport[];
}

export interface EdgeLoad {
  viewers: number;
  egressBps: number;
  cpu?: number;
  /** Streams reported. */
  streams: number;
}

/** An edge as listed by `GET /v1/edges` and `GET /v1/cluster`. */
export interface EdgeView {
  id: string;
  rtmp?: string;
  http?: string;
  region?: string;
  state: EdgeState;
  /** ms epoch of the last heartbeat. */
  updatedAt: number;
  load: EdgeLoad;
  streams: EdgeStreamReport[];
}

/** `200` of `POST /v1/edges/:id/heartbeat`. */
export interface EdgeHeartbeatResult {
  edge: EdgeView;
  /** The edge is gone (`edge.down`) this long after its last heartbeat. */
  ttlMs: number;
}

export interface EdgeList {
  edges: EdgeView[];
}

/** An origin in the cluster view: its registration plus a status and its weight utilisation. */
export interface ClusterOrigin extends OriginView {
  status: 'active' | 'draining' | 'down';
  /** load.weight / capacity (0..n; above 1 is overloaded). */
  utilisation: number;
}

export interface ClusterVideo {
  codec: string;
  profile?: string | null;
  width: number;
  height: number;
  fps?: number;
}

export interface ClusterAudio {
  codec: string;
  sampleRate: number;
  channels: number;
}

/** Codec and ingest rate from the owner origin's node API (absent when it did not answer). */
export interface ClusterMedia {
  video?: ClusterVideo;
  audio?: ClusterAudio;
  ingressBps?: number;
}

export interface ClusterEdgeViewers extends ProtocolViewers {
  edge: string;
  egressBps: number;
}

export interface ClusterStream {
  app: string;
  name: string;
  owner: OriginRef | null;
  since?: number;
  media?: ClusterMedia;
  viewers: { total: number; atOrigins: number; byEdge: ClusterEdgeViewers[] };
}

export interface ClusterTotals {
  origins: number;
  edges: number;
  streams: number;
  publishers: number;
  viewers: number;
  ingressBps: number;
  egressBps: number;
}

/** `200` of `GET /v1/cluster`: everything the console shows, no fencing tokens. */
export interface ClusterView {
  generatedAt: number;
  origins: ClusterOrigin[];
  edges: EdgeView[];
  streams: ClusterStream[];
  totals: ClusterTotals;
}

/** `200` of the admin actions (`POST /v1/admin/...`). */
export interface AdminActionResult {
  ok: true;
  /** The origin that carried it out. */
  origin: string;
  /** The origin's JSON answer. */
  result: unknown;
}

export interface EdgeEventData {
  id: string;
}

// ---- events (GET /v1/events, Server-Sent Events) ---------------------------------------------

/**
 * `origin-restarted`: a new incarnation of the owner's id heartbeated, so the old process is gone;
 * `not-held`: the owner's heartbeat no longer lists the stream (its publisher left, or a claim finished
 * after the publisher had gone).
 */
export type StreamReleaseReason = 'released' | 'expired' | 'origin-down' | 'origin-removed' | 'origin-restarted' | 'not-held';
/** `expired`: the previous lease ran out; `owner-dead`: discovery found its owner dead and broke the lease. */
export type StreamMoveReason = 'expired' | 'owner-dead';

export interface StreamReleasedData {
  app: string;
  name: string;
  originId: string;
  /** Left out for anonymous callers (docs/security.md). */
  token?: number;
  reason: StreamReleaseReason;
}

export interface StreamMovedData extends StreamOwnerView {
  /** The previous owner's origin id. */
  from: string;
  reason: StreamMoveReason;
}

export interface OriginDownData {
  id: string;
  /** `restarted`: the same id heartbeated with a new incarnation (an `origin.up` follows). */
  reason: 'expired' | 'deregistered' | 'restarted';
}

/** `event:` name and `data:` JSON of each change. */
export type DiscoveryEvent =
  | { type: 'stream.claimed'; data: StreamOwnerView }
  | { type: 'stream.released'; data: StreamReleasedData }
  | { type: 'stream.moved'; data: StreamMovedData }
  | { type: 'origin.up'; data: OriginView }
  | { type: 'origin.draining'; data: OriginView }
  | { type: 'origin.down'; data: OriginDownData }
  | { type: 'edge.up'; data: EdgeEventData }
  | { type: 'edge.down'; data: EdgeEventData };

export type DiscoveryEventType = DiscoveryEvent['type'];

export const DISCOVERY_EVENT_TYPES: readonly DiscoveryEventType[] = [
  'stream.claimed',
  'stream.released',
  'stream.moved',
  'origin.up',
  'origin.draining',
  'origin.down',
  'edge.up',
  'edge.down',
];

// ---- health ----------------------------------------------------------------------------------

/** `200` of `GET /healthz`. */
export interface HealthView {
  status: 'ok';
  store: 'memory' | 'redis';
  /** Redis store only. */
  redis?: { reachable: boolean; latencyMs?: number };
}
