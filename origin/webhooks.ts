/**
 * SRS-style HTTP callbacks (`http_hooks`): `on_publish`, `on_unpublish`, `on_play`, `on_stop`.
 *
 * Each is a `POST` of a JSON body with SRS's fields (action, client_id, ip, vhost, app, stream,
 * param, server_id, stream_url, ...). With a `webhookSecret` the body is signed:
 * `X-Cascade-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.
 *
 * `on_publish` / `on_play` decide (SRS semantics): HTTP 200 with body `0` or `{"code":0}` allows,
 * any other answer denies. No answer (connection error, timeout) or a 5xx means the hook is
 * unavailable: allowed with `webhookFailOpen`, denied otherwise (fail-closed, the default).
 * `on_unpublish` / `on_stop` only notify: retried with backoff (3 tries), never block anything.
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import type { Logger } from '../common/logger';
import { redactUrl } from '../common/logger';

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
}

export type HookVerdict =
  | { allowed: true; outcome: 'allowed' | 'no_hook' | 'fail_open'; detail?: string }
  | { allowed: false; outcome: 'denied' | 'unavailable'; detail: string };

export const SIGNATURE_HEADER = 'x-cascade-signature';
export const VHOST = '__defaultVhost__';

/** `sha256=<hex>` of a body; receivers recompute it over the raw bytes and compare in constant time. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
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

export class Webhooks {
  private readonly agent: Agent;
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: WebhookOptions) {
    this.agent = new Agent({ connect: { timeout: opts.timeoutMs }, keepAliveTimeout: 10_000 });
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
      const { status, text } = await this.post(url, this.body(action, client));
      if (isAllowAnswer(status, text)) return { allowed: true, outcome: 'allowed' };
      if (status >= 500) throw new HookUnavailable(`HTTP ${status}`);
      return { allowed: false, outcome: 'denied', detail: `HTTP ${status} ${JSON.stringify(text.slice(0, 200))}` };
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      this.opts.log.warn({ hook: action, url: redactUrl(url), err: detail, failOpen: this.opts.failOpen }, 'webhook unavailable');
      return this.opts.failOpen ? { allowed: true, outcome: 'fail_open', detail } : { allowed: false, outcome: 'unavailable', detail };
    }
  }

  /** Sends an `on_unpublish` / `on_stop` notification in the background, retrying with backoff. */
  notify(action: NotifyingHook, client: HookClient): void {
    const url = this.opts.urls[action];
    if (!url || this.closed) return;
    const body = this.body(action, client);
    const tries = this.opts.notifyTries ?? 3;
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          const { status } = await this.post(url, body);
          if (status >= 200 && status < 300) return;
          throw new Error(`HTTP ${status}`);
        } catch (err) {
          const detail = err instanceof Error ? err.message : String(err);
          if (attempt >= tries || this.closed) {
            this.opts.log.warn({ hook: action, url: redactUrl(url), tries: attempt, err: detail }, 'webhook notification failed; giving up');
            return;
          }
          await new Promise((r) => setTimeout(r, (this.opts.backoffMs ?? 200) * 2 ** (attempt - 1)));
        }
      }
    };
    const p = run();
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits (at most `ms`) for notifications still being sent, e.g. before the process exits. */
  async flush(ms: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.agent.close().catch(() => undefined);
  }

  private async post(url: string, payload: Record<string, unknown>): Promise<{ status: number; text: string }> {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.secret) headers[SIGNATURE_HEADER] = signBody(this.opts.secret, body);
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new HookUnavailable(`no answer within ${this.opts.timeoutMs} ms`);
      throw new HookUnavailable((err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err)));
    }
  }
}
