/**
 * Named errors with stable codes. The `code` is part of the public contract
 * (REST bodies `{"code","message"}`, RTMP descriptions, logs); the table in
 * docs/errors.md is checked against `ERROR_CODES` by a test.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, summary: 'The request does not match the schema (missing field, wrong type, bad name).' },
  HLS_BAD_DIRECTIVE: { status: 400, summary: 'An HLS playlist request has a malformed delivery directive: `_HLS_msn` or `_HLS_part` not a decimal integer of at most 15 digits, `_HLS_part` without `_HLS_msn`, `_HLS_skip` not `YES` or `v2`, or one given twice.' },
  HLS_TOO_FAR_AHEAD: { status: 400, summary: 'A blocking HLS playlist request asks for a segment more than two past the last one, or a part more than the Advance Part Limit past the last part (RFC 8216bis 6.2.5.2).' },
  UNAUTHORIZED: { status: 401, summary: 'A write route was called without a valid bearer token.' },
  FORBIDDEN: { status: 403, summary: 'The bearer token is valid but does not allow this route (a read token on a write route).' },
  STREAM_NOT_FOUND: { status: 404, summary: 'No live origin owns this stream.' },
  ORIGIN_NOT_FOUND: { status: 404, summary: 'The origin id is not registered (or its registration expired).' },
  NOT_FOUND: { status: 404, summary: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, summary: 'HTTP-FLV URLs are play-only: a method other than GET / HEAD (e.g. an HTTP-FLV POST publish) at an origin or edge.' },
  STREAM_OWNED_ELSEWHERE: { status: 409, summary: 'Another live origin holds the lease of this stream.' },
  LEASE_LOST: { status: 409, summary: 'Renew or release with a fencing token that is no longer current.' },
  STALE_INCARNATION: { status: 409, summary: 'A heartbeat from an older process of this origin id: a later-started incarnation holds the registration, so this process must stop serving.' },
  PULL_RATE_LIMITED: { status: 429, summary: 'An edge refused to start a pull for a stream it is not serving: this client IP asked for too many such streams, or too many pulls are in progress (`pullBurstPerIp`, `maxConcurrentPulls`); retry after `Retry-After`.' },
  TOO_MANY_EDGES: { status: 429, summary: 'Discovery already tracks `maxEdges` live edges: a new edge id is refused until one deregisters or expires (`edgeTtlMs`); edges already registered keep heartbeating.' },
  PAYLOAD_TOO_LARGE: { status: 413, summary: 'The request body is larger than the configured limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The request body is not JSON.' },
  CODEC_NOT_SERVED_AS_HLS: { status: 415, summary: 'The stream plays over RTMP and HTTP-FLV, but its codec (AV1, VP9, Opus, ... from Enhanced RTMP) is not served as HLS (MPEG-TS carries H.264, HEVC and AAC here); logged once per stream.' },
  INTERNAL: { status: 500, summary: 'A bug: the server logged the details.' },
  BAD_GATEWAY: { status: 502, summary: 'Discovery forwarded an admin action (shed, drain) to an origin that did not answer, refused it or failed; `origin` names it and `status` is its HTTP status when it answered.' },
  TOO_MANY_CONNECTIONS: { status: 503, summary: 'The listener is at `maxConnections`, or this client IP at `maxConnectionsPerIp` (HTTP-FLV, HLS and API at origins and edges; discovery event streams at `maxEventStreams`); retry after `Retry-After`.' },
  HLS_BLOCKING_TIMEOUT: { status: 503, summary: 'A blocking HLS playlist or part request waited three target durations and what it asked for did not appear (the stream stalled); retry.' },
  HLS_TOO_MANY_BLOCKED: { status: 503, summary: 'Too many HLS requests are waiting on this stream or on this process (`hlsMaxBlockedPerStream`, `hlsMaxBlocked`); retry after `Retry-After`.' },
  STORE_UNAVAILABLE: { status: 503, summary: 'The stream store (Redis) cannot be reached; retry with backoff.' },
  NO_ORIGIN_AVAILABLE: { status: 503, summary: 'Placement found no origin that may take the stream (all draining, over high-water, avoided or out of region); `explain` says why.' },
  HOOK_UNAVAILABLE: { status: 503, summary: 'An origin could not get an answer from its `on_play` webhook for an HTTP-FLV player (fail-closed); retry.' },
  DISCOVERY_UNAVAILABLE: { status: 503, summary: 'Raised by discovery clients (never sent by discovery): no answer (network error, timeout) or a 5xx; keep serving owned streams and retry with backoff.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CascadeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CascadeError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }
  toJSON(): { code: ErrorCode; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ?? {}) };
  }
}

export class StreamNotFoundError extends CascadeError {
  constructor(app: string, name: string) {
    super('STREAM_NOT_FOUND', `stream ${app}/${name} is not live on any origin`);
    this.name = 'StreamNotFoundError';
  }
}

export class StreamOwnedElsewhereError extends CascadeError {
  constructor(app: string, name: string, owner: unknown) {
    super('STREAM_OWNED_ELSEWHERE', `stream ${app}/${name} is owned by another origin`, { owner });
    this.name = 'StreamOwnedElsewhereError';
  }
}

export class LeaseLostError extends CascadeError {
  constructor(app: string, name: string) {
    super('LEASE_LOST', `lease of ${app}/${name} is no longer held with this token`);
    this.name = 'LeaseLostError';
  }
}

export class StaleIncarnationError extends CascadeError {
  constructor(originId: string, current: { incarnation: string; startedAt: number }) {
    super('STALE_INCARNATION', `origin ${originId} is held by a later-started process (incarnation ${current.incarnation})`, { originId, current });
    this.name = 'StaleIncarnationError';
  }
}

export class OriginNotFoundError extends CascadeError {
  constructor(originId: string) {
    super('ORIGIN_NOT_FOUND', `origin ${originId} is not registered (or its registration expired)`, { originId });
    this.name = 'OriginNotFoundError';
  }
}

export class BadRequestError extends CascadeError {
  constructor(message: string) {
    super('BAD_REQUEST', message);
    this.name = 'BadRequestError';
  }
}

/** `maxEdges` live edges are registered: a new edge id is refused (429). */
export class TooManyEdgesError extends CascadeError {
  constructor(edgeId: string, max: number) {
    super('TOO_MANY_EDGES', `discovery already tracks ${max} live edges (maxEdges): edge ${edgeId} is not registered`, { max });
    this.name = 'TooManyEdgesError';
  }
}

/** An origin did not carry out an admin action discovery forwarded (unreachable, timeout, or an error answer). */
export class BadGatewayError extends CascadeError {
  constructor(originId: string, message: string, status?: number) {
    super('BAD_GATEWAY', message, { origin: originId, ...(status !== undefined ? { status } : {}) });
    this.name = 'BadGatewayError';
  }
}

/** A discovery client could not get an answer: network error, timeout, or a 5xx (e.g. STORE_UNAVAILABLE). */
export class DiscoveryUnavailableError extends CascadeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('DISCOVERY_UNAVAILABLE', message, details);
    this.name = 'DiscoveryUnavailableError';
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The markdown table of docs/errors.md (checked by test/unit/errors-doc.test.ts). */
export function errorCodeTable(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => `| \`${code}\` | ${ERROR_CODES[code].status} | ${ERROR_CODES[code].summary} |`);
  return ['| code | HTTP status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
