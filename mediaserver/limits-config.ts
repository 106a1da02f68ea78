import { Type } from '@sinclair/typebox';

/**
 * Connection caps and HTTP timeouts shared by the origin and edge config schemas
 * (docs/hardening.md "Memory bounds"). Each listener (RTMP, HTTP) counts its own connections.
 */
export const ConnectionLimitFields = {
  maxConnections: Type.Integer({
    default: 5000,
    minimum: 1,
    description: 'Open connections per listener (RTMP and HTTP each), all clients together. Beyond: RTMP is closed right after accept, HTTP answers 503 TOO_MANY_CONNECTIONS with Retry-After.',
  }),
  maxConnectionsPerIp: Type.Integer({
    default: 200,
    minimum: 1,
    description: 'Open connections per listener from one client IP (raise it behind a proxy or NAT that funnels many clients through one address). Beyond: as maxConnections.',
  }),
  httpHeadersTimeoutMs: Type.Integer({
    default: 10000,
    minimum: 1000,
    maximum: 600000,
    description: 'An HTTP client must send its request headers within this long (Node server.headersTimeout); slower clients are closed (408).',
  }),
  httpRequestTimeoutMs: Type.Integer({
    default: 30000,
    minimum: 1000,
    maximum: 3600000,
    description: 'An HTTP client must send its whole request (headers and any body) within this long (Node server.requestTimeout); a response being streamed is not limited by it.',
  }),
};

export interface ConnectionLimitConfig {
  maxConnections: number;
  maxConnectionsPerIp: number;
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
}

export const CONNECTION_LIMIT_DEFAULTS: ConnectionLimitConfig = {
  maxConnections: 5000,
  maxConnectionsPerIp: 200,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
};

/** The connection-limit keys of an origin or edge config. */
export function connectionLimitsOf(config: ConnectionLimitConfig): ConnectionLimitConfig {
  return {
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    httpHeadersTimeoutMs: config.httpHeadersTimeoutMs,
    httpRequestTimeoutMs: config.httpRequestTimeoutMs,
  };
}
