import type { ServerResponse } from 'node:http';
import { sseMessage } from '../protocol/sse';
import type { DiscoveryEvent, DiscoveryEventType } from './types';

export interface SseHubOptions {
  /** A `: heartbeat` comment this often. */
  heartbeatMs: number;
  /** A client whose unsent output grows past this is dropped (it reconnects). Default 1 MiB. */
  maxBufferBytes?: number;
  /** Called with the client count after every change. */
  onCount?: (clients: number) => void;
  /** Open streams at most (config maxEventStreams); beyond, 503 TOO_MANY_CONNECTIONS. Default 256. */
  maxClients?: number;
  /** Called for every stream refused at the cap (with the running count). */
  onRefused?: (refused: number) => void;
}

/** Seconds a refused event stream is told to wait before reconnecting (Retry-After). */
export const SSE_RETRY_AFTER_S = 5;

interface Client {
  res: ServerResponse;
  types?: ReadonlySet<DiscoveryEventType>;
  /** Whether this client may see fencing tokens (an authenticated caller; docs/security.md). */
  tokens: boolean;
}

/** The event as an anonymous client sees it: no fencing token. */
export function withoutToken(event: DiscoveryEvent): DiscoveryEvent {
  if (!('token' in event.data)) return event;
  const data: { token?: number } = { ...event.data };
  delete data.token;
  return { type: event.type, data } as DiscoveryEvent;
}

/** Formats one Server-Sent Events frame: `event: <type>` and one `data:` line of JSON. */
export function sseFrame(event: DiscoveryEvent): string {
  return sseMessage(event.type, event.data);
}

/**
 * The open `GET /v1/events` streams. Events are written to every client that wants their type;
 * a heartbeat comment keeps idle streams alive through proxies; `closeAll()` ends every stream
 * (fastify's close would otherwise wait for them forever).
 */
export class SseHub {
  private readonly clients = new Set<Client>();
  private readonly maxBuffer: number;
  private readonly maxClients: number;
  /** Streams refused at maxClients since start. */
  refused = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: SseHubOptions) {
    this.maxBuffer = opts.maxBufferBytes ?? 1024 * 1024;
    this.maxClients = opts.maxClients ?? 256;
  }

  get size(): number {
    return this.clients.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Takes over a response (headers already decided by the caller's hijack). */
  add(res: ServerResponse, types?: ReadonlySet<DiscoveryEventType>, opts: { tokens: boolean } = { tokens: true }): void {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"STORE_UNAVAILABLE","message":"discovery is stopping"}');
      return;
    }
    if (this.clients.size >= this.maxClients) {
      // Each stream holds a socket and up to maxBufferBytes of output: the count is the memory bound.
      this.refused++;
      this.opts.onRefused?.(this.refused);
      const body = JSON.stringify({ code: 'TOO_MANY_CONNECTIONS', message: `discovery serves at most ${this.maxClients} event streams: retry later` });
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(SSE_RETRY_AFTER_S), connection: 'close' }).end(body);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': cascade discovery events\nretry: 2000\n\n');
    const client: Client = types ? { res, types, tokens: opts.tokens } : { res, tokens: opts.tokens };
    this.clients.add(client);
    const drop = (): void => this.remove(client);
    res.on('close', drop);
    res.on('error', drop);
    this.opts.onCount?.(this.clients.size);
    if (!this.timer) {
      this.timer = setInterval(() => this.heartbeat(), this.opts.heartbeatMs);
      this.timer.unref();
    }
  }

  broadcast(event: DiscoveryEvent): void {
    if (this.clients.size === 0) return;
    let frame: string | undefined;
    let anonymousFrame: string | undefined;
    for (const c of [...this.clients]) {
      if (c.types && !c.types.has(event.type)) continue;
      if (c.tokens) this.write(c, (frame ??= sseFrame(event)));
      else this.write(c, (anonymousFrame ??= sseFrame(withoutToken(event))));
    }
  }

  /** Ends every stream; later `add` calls answer 503. Idempotent. */
  closeAll(): void {
    this.closed = true;
    for (const c of [...this.clients]) {
      this.remove(c);
      c.res.end();
    }
    this.stopTimer();
  }

  private heartbeat(): void {
    const line = `: heartbeat ${Date.now()}\n\n`;
    for (const c of [...this.clients]) this.write(c, line);
  }

  private write(c: Client, text: string): void {
    if (c.res.writableEnded || c.res.destroyed) return this.remove(c);
    if (c.res.writableLength > this.maxBuffer) {
      // A client that does not read would make us buffer without bound: drop it; EventSource reconnects.
      this.remove(c);
      c.res.destroy();
      return;
    }
    c.res.write(text);
  }

  private remove(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.opts.onCount?.(this.clients.size);
    if (this.clients.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
