import { Agent, request } from 'undici';
import { createLogger, redactUrl, type Logger } from '../common/logger';
import { LogThrottle } from '../common/limits';
import {
  CascadeError,
  DiscoveryUnavailableError,
  LeaseLostError,
  OriginNotFoundError,
  StaleIncarnationError,
  StreamOwnedElsewhereError,
  isErrorCode,
} from '../common/errors';
import { SseParser } from '../protocol/sse';
import {
  DISCOVERY_EVENT_TYPES,
  type EdgeHeartbeatRequest,
  type EdgeHeartbeatResult,
  type DiscoveryEvent,
  type DiscoveryEventType,
  type HealthView,
  type HeartbeatRequest,
  type HeartbeatResult,
  type LeaseView,
  type OriginRegistration,
  type OriginView,
  type PlacementInput,
  type PlacementRequest,
  type PlacementResult,
  type RegisterOriginResult,
  type StreamListQuery,
  type StreamOwnerView,
  type StreamPage,
} from './types';

export interface HttpDiscoveryClientOptions {
  /** Bearer token for write routes (register, claim, renew, release, deregister, avoid); also sent on reads unless `readToken` is set. */
  token?: string;
  /** Bearer token for reads (discovery with `protectReads`). Default: `token`. */
  readToken?: string;
  /** Whole-request timeout in ms (connect + response + body). Default 2000. */
  timeoutMs?: number;
  /**
   * Where the client reports what it drops without failing a call: an event listener that threw, an
   * event whose data is not JSON (throttled). Default: a logger of its own, made on first use.
   */
  logger?: Logger;
}

export interface EventSubscriptionOptions {
  /** Only these event types (default: all). */
  types?: readonly DiscoveryEventType[];
  /** Connection trouble (each failed attempt); the subscription reconnects by itself. */
  onError?: (err: Error) => void;
  /** Wait between reconnects. Default 1000. */
  reconnectMs?: number;
  /** Reconnect when nothing (not even a heartbeat) arrived for this long. Default 45000. */
  idleTimeoutMs?: number;
}

/** A running `GET /v1/events` subscription. */
export interface EventSubscription {
  /** Resolves once the first connection is open (events from then on are delivered). */
  readonly ready: Promise<void>;
  /** Stops for good; idempotent. */
  close(): Promise<void>;
}

/**
 * The discovery REST API for origins and edges.
 *
 * Errors: 409s become `StreamOwnedElsewhereError` (claim; `details.owner` is a `StreamOwnerView`) or
 * `LeaseLostError` (renew/release); 404 `ORIGIN_NOT_FOUND` on claim becomes `OriginNotFoundError`
 * (re-register, then claim again); network errors, timeouts and 5xx become
 * `DiscoveryUnavailableError` (keep serving, retry with backoff); other 4xx a `CascadeError` with the
 * server's code.
 */
export class HttpDiscoveryClient {
  readonly baseUrl: string;
  private readonly token?: string;
  private readonly readToken?: string;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly subscriptions = new Set<EventSubscription>();
  private closed = false;

  constructor(baseUrl: string, opts: HttpDiscoveryClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`discovery URL must be http(s): ${redactUrl(baseUrl)}`);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = opts.token || undefined;
    this.readToken = opts.readToken || this.token;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.agent = new Agent({ connect: { timeout: this.timeoutMs }, keepAliveTimeout: 4000 });
    this.givenLog = opts.logger;
  }

  private readonly givenLog?: Logger;
  private ownLog?: Logger;
  private readonly listenerErrors = new LogThrottle();
  private readonly malformedEvents = new LogThrottle();

  private get log(): Logger {
    this.ownLog ??= (this.givenLog ?? createLogger('cascade')).child({ component: 'discovery-client' });
    return this.ownLog;
  }

  async registerOrigin(id: string, reg: OriginRegistration): Promise<RegisterOriginResult> {
    return (await this.call('PUT', `/v1/origins/${seg(id)}`, reg, true)).body as RegisterOriginResult;
  }

  /**
   * Leases v2: registration, load, incarnation and every lease in one request (`timeoutMs`: an origin
   * with thousands of streams may need longer than a lookup).
   * @throws StaleIncarnationError when a later-started process holds this origin id (stop serving)
   */
  async heartbeat(id: string, req: HeartbeatRequest, timeoutMs = Math.max(this.timeoutMs, 5000)): Promise<HeartbeatResult> {
    const res = await this.call(
      'POST',
      `/v1/origins/${seg(id)}/heartbeat`,
      req,
      true,
      (status, body) => {
        if (status !== 409 || body.code !== 'STALE_INCARNATION') return undefined;
        const current = (body as { current?: { incarnation?: unknown; startedAt?: unknown } }).current;
        return new StaleIncarnationError(id, { incarnation: String(current?.incarnation ?? ''), startedAt: Number(current?.startedAt ?? 0) });
      },
      'json',
      timeoutMs,
    );
    return res.body as HeartbeatResult;
  }

  /** Edge registry: this edge's URLs, load and streams (its own credential, or admin). */
  async edgeHeartbeat(id: string, req: EdgeHeartbeatRequest): Promise<EdgeHeartbeatResult> {
    return (await this.call('POST', `/v1/edges/${seg(id)}/heartbeat`, req, true)).body as EdgeHeartbeatResult;
  }

  async deregisterEdge(id: string): Promise<void> {
    await this.call('DELETE', `/v1/edges/${seg(id)}`, undefined, true);
  }

  async deregisterOrigin(id: string): Promise<void> {
    await this.call('DELETE', `/v1/origins/${seg(id)}`, undefined, true);
  }

  /** @throws StreamOwnedElsewhereError (with `details.owner`), OriginNotFoundError, DiscoveryUnavailableError */
  async claimStream(app: string, name: string, originId: string): Promise<LeaseView> {
    const res = await this.call('POST', `${streamPath(app, name)}/claim`, { originId }, true, (status, body) => {
      if (status === 409 && body.code === 'STREAM_OWNED_ELSEWHERE') return new StreamOwnedElsewhereError(app, name, body.owner);
      if (status === 404 && body.code === 'ORIGIN_NOT_FOUND') return new OriginNotFoundError(originId);
      return undefined;
    });
    return res.body as LeaseView;
  }

  /** @throws LeaseLostError when the token is no longer current (stop serving the stream) */
  async renewStream(app: string, name: string, originId: string, token: number): Promise<LeaseView> {
    const res = await this.call('POST', `${streamPath(app, name)}/renew`, { originId, token }, true, leaseLost(app, name));
    return res.body as LeaseView;
  }

  /** @throws LeaseLostError when the token is no longer current */
  async releaseStream(app: string, name: string, originId: string, token: number): Promise<void> {
    await this.call('POST', `${streamPath(app, name)}/release`, { originId, token }, true, leaseLost(app, name));
  }

  /** The owner of a stream, or null when no live origin owns it. */
  async lookup(app: string, name: string): Promise<StreamOwnerView | null> {
    const res = await this.call('GET', streamPath(app, name), undefined, false, (status, body) =>
      status === 404 && body.code === 'STREAM_NOT_FOUND' ? null : undefined,
    );
    return res.status === 404 ? null : (res.body as StreamOwnerView);
  }

  async listOrigins(): Promise<OriginView[]> {
    return ((await this.call('GET', '/v1/origins')).body as { origins: OriginView[] }).origins;
  }

  /** Every live stream (all pages), optionally of one app and/or one origin. */
  async listStreams(filter: { app?: string; origin?: string } = {}): Promise<StreamOwnerView[]> {
    const out: StreamOwnerView[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100_000; pages++) {
      const page = await this.listStreamsPage({ ...filter, limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
      out.push(...page.streams);
      if (page.next === undefined) break;
      cursor = page.next;
    }
    return out;
  }

  /** One page of `GET /v1/streams` (`next` → pass as `cursor`). */
  async listStreamsPage(query: StreamListQuery = {}): Promise<StreamPage> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const text = qs.toString();
    return (await this.call('GET', `/v1/streams${text ? `?${text}` : ''}`)).body as StreamPage;
  }

  /**
   * Where a new publisher of `app/stream` should go (its owner when live).
   * @throws CascadeError NO_ORIGIN_AVAILABLE (with `details.explain`) when no origin may take it
   */
  async place(req: PlacementRequest): Promise<PlacementResult> {
    const res = await this.call('POST', '/v1/placement', req, false, (status, body) =>
      status === 503 && body.code === 'NO_ORIGIN_AVAILABLE'
        ? new CascadeError('NO_ORIGIN_AVAILABLE', typeof body.message === 'string' ? body.message : 'no origin available', { explain: body.explain })
        : undefined,
    );
    return res.body as PlacementResult;
  }

  /** `rtmp://host:port/app/name` to publish to (`GET /v1/publish-url/:app/:name`). */
  async publishUrl(app: string, name: string, opts: Pick<PlacementInput, 'region' | 'bitrateKbps'> = {}): Promise<string> {
    const qs = new URLSearchParams();
    if (opts.region !== undefined) qs.set('region', opts.region);
    if (opts.bitrateKbps !== undefined) qs.set('bitrateKbps', String(Math.round(opts.bitrateKbps)));
    const text = qs.toString();
    const res = await this.call('GET', `/v1/publish-url/${seg(app)}/${seg(name)}${text ? `?${text}` : ''}`, undefined, false, (status, body) =>
      status === 503 && body.code === 'NO_ORIGIN_AVAILABLE' ? new CascadeError('NO_ORIGIN_AVAILABLE', String(body.message), { explain: body.explain }) : undefined,
      'text',
    );
    return res.body as string;
  }

  /** Placement must not send `app/name` back to `originId` for `ms` (after shedding it there). */
  async avoid(app: string, name: string, originId: string, ms: number): Promise<{ until: number }> {
    const res = await this.call('POST', `${streamPath(app, name)}/avoid`, { originId, ms: Math.round(ms) }, true);
    return { until: (res.body as { until: number }).until };
  }

  /** `GET /healthz`. @throws DiscoveryUnavailableError when discovery or its store is down (503) */
  async health(): Promise<HealthView> {
    return (await this.call('GET', '/healthz')).body as HealthView;
  }

  /**
   * Follows `GET /v1/events` (Server-Sent Events), reconnecting by itself. Events published while
   * disconnected are not replayed: after a reconnect, look up what you care about again.
   */
  subscribeEvents(onEvent: (event: DiscoveryEvent) => void, opts: EventSubscriptionOptions = {}): EventSubscription {
    if (this.closed) throw new DiscoveryUnavailableError('discovery client is closed', { path: '/v1/events' });
    const known = new Set<string>(DISCOVERY_EVENT_TYPES);
    const query = opts.types && opts.types.length > 0 ? `?types=${opts.types.map(encodeURIComponent).join(',')}` : '';
    const reconnectMs = opts.reconnectMs ?? 1000;
    const idleTimeoutMs = opts.idleTimeoutMs ?? 45_000;
    let stopped = false;
    let current: AbortController | undefined;
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.readToken) headers.authorization = `Bearer ${this.readToken}`;

    const once = async (): Promise<void> => {
      const ac = new AbortController();
      current = ac;
      let idle: NodeJS.Timeout | undefined;
      const touch = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => ac.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
      };
      try {
        touch();
        const res = await request(`${this.baseUrl}/v1/events${query}`, { method: 'GET', headers, dispatcher: this.agent, signal: ac.signal, headersTimeout: this.timeoutMs, bodyTimeout: 0 });
        if (res.statusCode !== 200) {
          // The status is the error; the body only adds detail, so failing to read it loses nothing.
          const text = await res.body.text().catch(() => '');
          throw new DiscoveryUnavailableError(`discovery GET /v1/events: ${res.statusCode} ${text.slice(0, 200)}`, { status: res.statusCode });
        }
        markReady();
        const parser = new SseParser();
        res.body.setEncoding('utf8');
        for await (const chunk of res.body as AsyncIterable<string>) {
          touch();
          for (const msg of parser.push(chunk)) {
            if (!known.has(msg.event)) continue;
            let data: unknown;
            try {
              data = JSON.parse(msg.data);
            } catch {
              const { log, suppressed } = this.malformedEvents.check();
              if (log) this.log.warn({ event: msg.event, data: msg.data.slice(0, 200), suppressed }, 'discovery sent an event whose data is not JSON; skipped');
              continue;
            }
            try {
              onEvent({ type: msg.event, data } as DiscoveryEvent);
            } catch (err) {
              // The consumer's bug must not end the subscription; it is logged, not dropped.
              const { log, suppressed } = this.listenerErrors.check();
              if (log) this.log.error({ err, event: msg.event, suppressed }, 'discovery event listener threw; the subscription goes on');
            }
          }
        }
      } finally {
        clearTimeout(idle);
      }
    };

    let loop: Promise<void> = Promise.resolve();
    const sub: EventSubscription = {
      ready,
      close: async () => {
        stopped = true;
        this.subscriptions.delete(sub);
        current?.abort();
        markReady();
        await loop;
      },
    };
    loop = (async () => {
      while (!stopped && !this.closed) {
        try {
          await once();
          if (!stopped) opts.onError?.(new DiscoveryUnavailableError('discovery closed the event stream', { path: '/v1/events' }));
        } catch (err) {
          if (stopped) break;
          opts.onError?.(err instanceof Error ? err : new Error(String(err)));
        }
        if (!stopped) await new Promise((r) => setTimeout(r, reconnectMs));
      }
    })();
    this.subscriptions.add(sub);
    return sub;
  }

  /** Closes event subscriptions and pooled connections; idempotent. Calls after close fail with DiscoveryUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.agent.close();
  }

  /**
   * One request. `onError` may map an error answer to a thrown error (return it), to a normal
   * result (return null), or leave it to the generic mapping (return undefined).
   */
  private async call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    write = false,
    onError?: (status: number, body: ErrorBodyLike) => Error | null | undefined,
    expect: 'json' | 'text' = 'json',
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; body: unknown }> {
    if (this.closed) throw new DiscoveryUnavailableError('discovery client is closed', { method, path });
    const headers: Record<string, string> = { accept: expect === 'text' ? 'text/plain, application/json' : 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = write ? this.token : this.readToken;
    if (token) headers.authorization = `Bearer ${token}`;
    let status: number;
    let text: string;
    try {
      const res = await request(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const reason = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);
      throw new DiscoveryUnavailableError(`discovery ${method} ${path} failed: ${reason}`, { method, path });
    }
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined; // not JSON (a proxy's error page): judged by its status below, like an empty body
      }
    }
    if (status >= 200 && status < 300 && expect === 'text') return { status, body: text };
    if (status >= 200 && status < 300) {
      if (status !== 204 && parsed === undefined) {
        throw new DiscoveryUnavailableError(`discovery ${method} ${path}: ${status} without a JSON body`, { method, path, status });
      }
      return { status, body: parsed };
    }
    const errBody: ErrorBodyLike = parsed !== null && typeof parsed === 'object' ? (parsed as ErrorBodyLike) : {};
    const message = typeof errBody.message === 'string' ? errBody.message : `HTTP ${status}`;
    // A route-specific mapping wins (e.g. 503 NO_ORIGIN_AVAILABLE is an answer, not an outage).
    const early = status >= 500 ? onError?.(status, errBody) : undefined;
    if (early) throw early;
    if (status >= 500 || (status === 404 && errBody.code === undefined)) {
      // 404 without our error body: not a discovery service (or a proxy in front of it).
      throw new DiscoveryUnavailableError(`discovery ${method} ${path}: ${status} ${errBody.code ?? ''} ${message}`.replace(/\s+/g, ' ').trim(), {
        method,
        path,
        status,
        ...(typeof errBody.code === 'string' ? { serverCode: errBody.code } : {}),
      });
    }
    const mapped = onError?.(status, errBody);
    if (mapped === null) return { status, body: parsed };
    if (mapped) throw mapped;
    const code = isErrorCode(errBody.code) ? errBody.code : 'BAD_REQUEST';
    throw new CascadeError(code, `discovery ${method} ${path}: ${message}`, { status });
  }
}

interface ErrorBodyLike {
  code?: unknown;
  message?: unknown;
  owner?: unknown;
  explain?: unknown;
}

function leaseLost(app: string, name: string): (status: number, body: ErrorBodyLike) => Error | undefined {
  return (status, body) => (status === 409 && body.code === 'LEASE_LOST' ? new LeaseLostError(app, name) : undefined);
}

function seg(part: string): string {
  return encodeURIComponent(part);
}

function streamPath(app: string, name: string): string {
  return `/v1/streams/${seg(app)}/${seg(name)}`;
}
