import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../common/logger';
import { ConnectionLimiter, LogThrottle, clientIp, type ConnectionRefusal } from '../common/limits';
import type { ConnectionLimitConfig } from './limits-config';

/** Seconds a refused HTTP client is told to wait (Retry-After). */
export const RETRY_AFTER_S = 5;
/** A refused connection gets this long to send its request and read the 503. */
const REFUSED_SOCKET_TIMEOUT_MS = 5000;

/**
 * Connection caps (global, per client IP) and request timeouts on a Node HTTP server that serves
 * media (HTTP-FLV, HLS) and our JSON routes. A connection over a cap is not served: its requests
 * answer `503 TOO_MANY_CONNECTIONS` with `Retry-After` and `Connection: close`, and it is destroyed
 * if it lingers. `handle(req, res)` must run first in the server's request listener.
 */
export class HttpConnectionGuard {
  readonly limiter: ConnectionLimiter;
  private readonly refused = new WeakSet<Socket>();
  private readonly throttle = new LogThrottle();

  constructor(server: Server, limits: ConnectionLimitConfig, private readonly log: Logger) {
    this.limiter = new ConnectionLimiter(limits);
    server.headersTimeout = limits.httpHeadersTimeoutMs;
    server.requestTimeout = limits.httpRequestTimeoutMs;
    // Node checks both timeouts on this period (default 30 s): keep it below the shorter one.
    (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(limits.httpHeadersTimeoutMs, 5000);
    server.on('connection', (socket: Socket) => {
      const refusal = this.limiter.admit(socket);
      if (!refusal) return;
      this.refused.add(socket);
      socket.setTimeout(REFUSED_SOCKET_TIMEOUT_MS, () => socket.destroy());
      this.throttle.warn(this.log, { ip: clientIp(socket), reason: refusal, open: this.limiter.open }, 'http connection refused: over the connection cap');
    });
  }

  /** Answers the request with 503 when its connection is over a cap; true when it did. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.refused.has(req.socket)) return false;
    const body = JSON.stringify({ code: 'TOO_MANY_CONNECTIONS', message: 'too many connections: retry later' });
    res.shouldKeepAlive = false;
    res.writeHead(503, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Retry-After': String(RETRY_AFTER_S),
      'Access-Control-Allow-Origin': '*',
      Connection: 'close',
    });
    res.end(body);
    return true;
  }

  get refusals(): Record<ConnectionRefusal, number> {
    return this.limiter.refused;
  }
}
