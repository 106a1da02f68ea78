/**
 * SRS-style HTTP callbacks (`http_hooks`): `on_publish`, `on_unpublish`, `on_play`, `on_stop`.
 *
 * Each is a `POST` of a JSON body with SRS's fields (action, client_id, ip, vhost, app, stream,
 * param, server_id, stream_url, ...) and `X-Cascade-Timestamp: <unix s>` (the time of this attempt).
 * With a `webhookSecret` the timestamp and the body are signed together:
 * `X-Cascade-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, so a captured
 * call cannot be replayed later (receivers refuse timestamps more than 5 minutes off).
 *
 * `on_publish` / `on_play` decide (SRS semantics): HTTP 200 with body `0` or `{"code":0}` allows,
 * any other answer denies. No answer (connection error, timeout) or a 5xx means the hook is
 * unavailable: allowed with `webhookFailOpen`, denied otherwise (fail-closed, the default).
 * `on_unpublish` / `on_stop` only notify: retried with backoff (3 tries), never block anything.
 *
 * Bounded: at most `maxPending` notifications are queued or retrying (beyond, the oldest is dropped,
 * logged and counted), and at most `maxResponseBytes` of an answer are read (a larger answer to
 * on_publish / on_play is a deny; a notification's answer body is never needed).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Agent, request } from 'undici';
import { readBoundedText } from '../common/bounded-body';
import type { Logger } from '../common/logger';
import { redactText, redactUrl } from '../common/logger';
import { SRS_DEFAULT_VHOST } from '../protocol/srs';

export type HookAction = 'on_publish' | 'on_unpublish' | 'on_play' | 'on_stop';
export type DecidingHook = 'on_publish' | 'on_play';
export type NotifyingHook = 'on_unpublish' | 'on_stop';

/** What a hook says about a client; the server adds action, server and stream ids. */
export interface HookClient {
  clientId: string;
  /** Peer address without the port. */
  ip: string;
  app: string;
  stream: string;
  /** The query the client sent, as SRS passes it: `?a=1&b=2` or `''`. */
  param: string;
  tcUrl: string;
}

export interface WebhookOptions {
  urls: Partial<Record<HookAction, string>>;
  secret: string;
  timeoutMs: number;
  failOpen: boolean;
  serverId: string;
  serviceId: string;
  streamId: (app: string, name: string) => string;
  log: Logger;
  /** Tries of a notification (on_unpublish, on_stop), the first included. Default 3. */
  notifyTries?: number;
  /** Wait before the second try; doubles each time. Default 200 ms. */
  backoffMs?: number;
  /** Notifications queued or retrying at most; beyond, the oldest is dropped. Default 1000. */
  maxPending?: number;
  /** Most bytes of an answer read; a larger on_publish / on_play answer denies. Default 64 KiB. */
  maxResponseBytes?: number;
  /** A notification was dropped (maxPending reached): count it. */
  onDropped?: (action: NotifyingHook) => void;
  /** An answer was larger than maxResponseBytes. */
  onOversized?: (action: HookAction) => void;
}

export const DEFAULT_WEBHOOK_MAX_PENDING = 1000;
export const DEFAULT_WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;

export type HookVerdict =
  | { allowed: true; outcome: 'allowed' | 'no_hook' | 'fail_open'; detail?: string }
  | { allowed: false; outcome: 'denied' | 'unavailable'; detail: string };

export const SIGNATURE_HEADER = 'x-cascade-signature';
export const TIMESTAMP_HEADER = 'x-cascade-timestamp';
/** The vhost SRS callbacks name (Cascade has no vhosts). */
export const VHOST = SRS_DEFAULT_VHOST;
/** How far a receiver should let X-Cascade-Timestamp be from its clock (docs/origin-api.md). */
export const SIGNATURE_TOLERANCE_S = 300;

/**
 * `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; receivers recompute it over the
 * timestamp header, a dot and the raw body bytes, and compare in constant time.
 */
export function signBody(secret: string, body: string, timestampS: number): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'invalid' };

/**
 * A receiver's check (what docs/origin-api.md shows): the signature over `<timestamp>.<raw body>`
 * and the timestamp within `toleranceS` of `nowMs`.
 */
export function verifyWebhook(secret: string, rawBody: string, signatureHeader: string | undefined, timestampHeader: string | undefined, nowMs = Date.now(), toleranceS = SIGNATURE_TOLERANCE_S): SignatureCheck {
  if (!signatureHeader || !timestampHeader) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'invalid' };
  const expected = Buffer.from(signBody(secret, rawBody, Number(timestampHeader)));
  const given = Buffer.from(signatureHeader);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  if (Math.abs(nowMs / 1000 - Number(timestampHeader)) > toleranceS) return { ok: false, reason: 'stale' };
  return { ok: true };
}

/** SRS: HTTP 200 whose body is `0` or a JSON object with `code: 0`. */
export function isAllowAnswer(status: number, body: string): boolean {
  if (status !== 200) return false;
  const text = body.trim();
  if (text === '0') return true;
  try {
    const json = JSON.parse(text) as unknown;
    return typeof json === 'object' && json !== null && (json as { code?: unknown }).code === 0;
  } catch {
    return false;
  }
}

class HookUnavailable extends Error {}

/** The hook answered more than maxResponseBytes. */
class AnswerTooLarge extends Error {
  constructor(readonly status: number, limit: number) {
    super(`answer larger than ${limit} bytes (HTTP ${status})`);
  }
}

/** One notification, queued or being sent / retried. */
interface Notification {
  action: NotifyingHook;
  /** Aborts its request in flight and its backoff wait (dropped, or the process is closing). */
  abort: AbortController;
  done: Promise<void>;
}

/** Drop warnings are throttled to one per this period (each counts what was dropped meanwhile). */
const DROP_LOG_EVERY_MS = 10_000;

export class Webhooks {
  private readonly agent: Agent;
  /** Notifications in the order they were made (a Set iterates in insertion order): the first is the oldest. */
  private readonly pending = new Set<Notification>();
  private closed = false;
  private readonly maxPending: number;
  private readonly maxResponseBytes: number;
  private dropped = { total: 0, unlogged: 0, loggedAt: 0 };

  constructor(private readonly opts: WebhookOptions) {
    this.agent = new Agent({ connect: { timeout: opts.timeoutMs }, keepAliveTimeout: 10_000 });
    this.maxPending = Math.max(1, opts.maxPending ?? DEFAULT_WEBHOOK_MAX_PENDING);
    this.maxResponseBytes = Math.max(1, opts.maxResponseBytes ?? DEFAULT_WEBHOOK_MAX_RESPONSE_BYTES);
  }

  /** Notifications queued or retrying now. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Notifications dropped since start because maxPending was reached. */
  get droppedCount(): number {
    return this.dropped.total;
  }

  enabled(action: HookAction): boolean {
    return Boolean(this.opts.urls[action]);
  }

  /** The JSON body SRS sends for `action`. */
  body(action: HookAction, c: HookClient): Record<string, unknown> {
    const body: Record<string, unknown> = {
      server_id: this.opts.serverId,
      service_id: this.opts.serviceId,
      action,
      client_id: c.clientId,
      ip: c.ip,
      vhost: VHOST,
      app: c.app,
      tcUrl: c.tcUrl,
      stream: c.stream,
      param: c.param,
      stream_url: `/${c.app}/${c.stream}`,
      stream_id: this.opts.streamId(c.app, c.stream),
    };
    if (action === 'on_play' || action === 'on_stop') body.pageUrl = '';
    return body;
  }

  /** Asks an `on_publish` / `on_play` hook; resolves (never rejects) with the decision. */
  async authorize(action: DecidingHook, client: HookClient): Promise<HookVerdict> {
    const url = this.opts.urls[action];
    if (!url) return { allowed: true, outcome: 'no_hook' };
    try {
      const { status, text } = await this.post(action, url, this.body(action, client), 'text');
      if (isAllowAnswer(status, text)) return { allowed: true, outcome: 'allowed' };
      if (status >= 500) throw new HookUnavailable(`HTTP ${status}`);
      return { allowed: false, outcome: 'denied', detail: `HTTP ${status} ${JSON.stringify(text.slice(0, 200))}` };
    } catch (err) {
      if (err instanceof AnswerTooLarge) {
        // Whatever its status: a hook that floods us does not get fail-open.
        this.opts.log.warn({ hook: action, url: redactUrl(url), status: err.status, limit: this.maxResponseBytes }, 'webhook answer too large: denied');
        return { allowed: false, outcome: 'denied', detail: err.message };
      }
      const detail = redactText(err instanceof Error ? err.message : String(err));
      this.opts.log.warn({ hook: action, url: redactUrl(url), err: detail, failOpen: this.opts.failOpen }, 'webhook unavailable');
      return this.opts.failOpen ? { allowed: true, outcome: 'fail_open', detail } : { allowed: false, outcome: 'unavailable', detail };
    }
  }

  /**
   * Sends an `on_unpublish` / `on_stop` notification in the background, retrying with backoff. At most
   * `maxPending` are queued or retrying: a new one beyond that drops the oldest (warned, counted).
   */
  notify(action: NotifyingHook, client: HookClient): void {
    const url = this.opts.urls[action];
    if (!url || this.closed) return;
    while (this.pending.size >= this.maxPending) this.dropOldest();
    const body = this.body(action, client);
    const tries = this.opts.notifyTries ?? 3;
    const abort = new AbortController();
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        if (abort.signal.aborted) return;
        try {
          const { status } = await this.post(action, url, body, 'discard', abort.signal);
          if (status >= 200 && status < 300) return;
          throw new Error(`HTTP ${status}`);
        } catch (err) {
          if (abort.signal.aborted) return;
          const detail = redactText(err instanceof Error ? err.message : String(err));
          if (attempt >= tries || this.closed) {
            this.opts.log.warn({ hook: action, url: redactUrl(url), tries: attempt, err: detail }, 'webhook notification failed; giving up');
            return;
          }
          await sleep((this.opts.backoffMs ?? 200) * 2 ** (attempt - 1), abort.signal);
        }
      }
    };
    const n: Notification = { action, abort, done: Promise.resolve() };
    this.pending.add(n);
    n.done = run().finally(() => this.pending.delete(n));
  }

  private dropOldest(): void {
    const oldest = this.pending.values().next().value;
    if (!oldest) return;
    this.pending.delete(oldest);
    oldest.abort.abort();
    this.dropped.total++;
    this.dropped.unlogged++;
    this.opts.onDropped?.(oldest.action);
    const now = Date.now();
    if (now - this.dropped.loggedAt >= DROP_LOG_EVERY_MS) {
      this.opts.log.warn(
        { hook: oldest.action, dropped: this.dropped.unlogged, droppedTotal: this.dropped.total, maxPending: this.maxPending },
        'webhook notifications backlog full: oldest dropped',
      );
      this.dropped.unlogged = 0;
      this.dropped.loggedAt = now;
    }
  }

  /** Waits (at most `ms`) for notifications still being sent, e.g. before the process exits. */
  async flush(ms: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending].map((n) => n.done)), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Stops: notifications still pending are abandoned (call flush first to give them time). */
  async close(): Promise<void> {
    this.closed = true;
    for (const n of this.pending) n.abort.abort();
    await this.agent.close().catch(() => undefined);
  }

  /**
   * One POST. `read: 'text'` reads the answer up to maxResponseBytes (AnswerTooLarge beyond);
   * `'discard'` reads none of it (the connection is not reused when the body is large).
   */
  private async post(action: HookAction, url: string, payload: Record<string, unknown>, read: 'text' | 'discard', signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json', [TIMESTAMP_HEADER]: String(timestamp) };
    if (this.opts.secret) headers[SIGNATURE_HEADER] = signBody(this.opts.secret, body, timestamp);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
      if (read === 'discard') {
        await res.body.dump({ limit: this.maxResponseBytes }).catch(() => undefined);
        return { status: res.statusCode, text: '' };
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > this.maxResponseBytes) {
        abandon(res.body);
        this.opts.onOversized?.(action);
        throw new AnswerTooLarge(res.statusCode, this.maxResponseBytes);
      }
      const text = await readBoundedText(res.body, this.maxResponseBytes);
      if (text === null) {
        this.opts.onOversized?.(action);
        throw new AnswerTooLarge(res.statusCode, this.maxResponseBytes);
      }
      return { status: res.statusCode, text };
    } catch (err) {
      if (err instanceof AnswerTooLarge) throw err;
      const name = (err as { name?: string }).name;
      if (timeout.aborted || name === 'TimeoutError') throw new HookUnavailable(`no answer within ${this.opts.timeoutMs} ms`);
      if (name === 'AbortError') throw new HookUnavailable('aborted');
      throw new HookUnavailable((err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err)));
    }
  }
}

/** Stops reading an answer: the connection is closed (destroying emits an error nobody needs). */
function abandon(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** setTimeout as a promise that an abort ends early. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
