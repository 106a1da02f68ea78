/**
 * Wire types of the discovery REST API, shared by discovery, origins and edges.
 * Import these (not the TypeBox schemas) from origin/edge code.
 */

/** Origin ids: same rule as origin/config.ts `id`. */
export const ORIGIN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type OriginState = 'active' | 'draining';

/** Load reported with each heartbeat (DESIGN.md section 4). All fields optional, all >= 0. */
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
  /** Fencing token: strictly increasing per stream across claims. */
  token: number;
}

/** `200` of claim and renew: the owner view plus the lease time to live. */
export interface LeaseView extends StreamOwnerView {
  ttlMs: number;
}

/** Body of a REST error (`docs/errors.md`). */
export interface ErrorBody {
  code: string;
  message: string;
  [extra: string]: unknown;
}
