/**
 * Small, pure building blocks for bounding what hostile clients can make a process hold
 * (docs/hardening.md "Memory bounds"): connection caps (global and per client IP), a token
 * bucket per key, and a log throttle so a flood of refusals does not flood the log.
 */
import type { Socket } from 'node:net';

/** The one logger method LogThrottle needs (pino and fastify loggers both have it). */
export interface WarnLogger {
  warn(fields: object, msg: string): void;
}

export type ConnectionRefusal = 'max_connections' | 'max_connections_per_ip';

export interface ConnectionCaps {
  /** Open connections of one listener, all clients together. */
  maxConnections: number;
  /** Open connections of one listener from one client IP. */
  maxConnectionsPerIp: number;
}

/** Counts open connections per listener and per client IP; refuses beyond the caps. */
export class ConnectionLimiter {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  /** Connections refused since start, by reason. */
  readonly refused: Record<ConnectionRefusal, number> = { max_connections: 0, max_connections_per_ip: 0 };

  constructor(private readonly caps: ConnectionCaps) {}

  get open(): number {
    return this.total;
  }

  openFrom(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  /** Takes a slot for `ip`, or says why not (and counts the refusal). */
  acquire(ip: string): ConnectionRefusal | null {
    if (this.total >= this.caps.maxConnections) return this.refuse('max_connections');
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.caps.maxConnectionsPerIp) return this.refuse('max_connections_per_ip');
    this.total++;
    this.perIp.set(ip, n + 1);
    return null;
  }

  release(ip: string): void {
    const n = this.perIp.get(ip);
    if (n === undefined) return;
    this.total = Math.max(0, this.total - 1);
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
  }

  /** Takes a slot for a socket and gives it back when the socket closes; the refusal otherwise. */
  admit(socket: Socket): ConnectionRefusal | null {
    const ip = clientIp(socket);
    const refusal = this.acquire(ip);
    if (refusal) return refusal;
    socket.once('close', () => this.release(ip));
    return null;
  }

  private refuse(reason: ConnectionRefusal): ConnectionRefusal {
    this.refused[reason]++;
    return reason;
  }
}

/**
 * Token bucket: `capacity` tokens, refilled at `refillPerSec`; `take()` spends one. Time is passed
 * in (ms), so the logic is pure and testable.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly capacity: number, private readonly refillPerSec: number, now: number) {
    this.tokens = capacity;
    this.at = now;
  }

  /** Spends a token when one is left at `now`. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Whether the bucket is full at `now` (a full bucket carries no state and may be forgotten). */
  isFull(now: number): boolean {
    return this.available(now) >= this.capacity;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.refillPerSec);
    this.at = Math.max(this.at, now);
  }
}

/** One token bucket per key (client IP), with a bounded number of keys: full buckets are forgotten. */
export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly capacity: number,
    private readonly refillPerSec: number,
    /** Most keys tracked; beyond, full buckets are swept and then the oldest keys dropped. */
    private readonly maxKeys = 100_000,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = new TokenBucket(this.capacity, this.refillPerSec, now);
      this.buckets.set(key, b);
    }
    return b.take(now);
  }

  /** Forgets full buckets; when still at the cap, the oldest-inserted keys too. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(k);
    while (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}

/**
 * At most one log line per `intervalMs` for one kind of event; the line carries how many events
 * were not logged since the last one (`suppressed`).
 */
export class LogThrottle {
  private last = -Infinity;
  private suppressed = 0;

  constructor(private readonly intervalMs = 10_000) {}

  /** Whether to log now; `suppressed` is the count of events skipped since the previous line. */
  check(now = Date.now()): { log: boolean; suppressed: number } {
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return { log: false, suppressed: this.suppressed };
    }
    const suppressed = this.suppressed;
    this.last = now;
    this.suppressed = 0;
    return { log: true, suppressed };
  }

  /** Logs `msg` at warn with `fields` (plus `suppressed`) unless a line went out within the interval. */
  warn(log: WarnLogger, fields: Record<string, unknown>, msg: string): void {
    const { log: ok, suppressed } = this.check();
    if (ok) log.warn({ ...fields, suppressed }, msg);
  }
}

/** Client IP of a socket for logs and caps (IPv4-mapped IPv6 shown as IPv4). */
export function clientIp(socket: Pick<Socket, 'remoteAddress'>): string {
  const ip = socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
