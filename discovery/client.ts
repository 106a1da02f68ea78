import { Agent, request } from 'undici';
import {
  CascadeError,
  DiscoveryUnavailableError,
  LeaseLostError,
  OriginNotFoundError,
  StreamOwnedElsewhereError,
  isErrorCode,
} from '../common/errors';
import type { LeaseView, OriginRegistration, OriginView, RegisterOriginResult, StreamOwnerView } from './types';

export interface HttpDiscoveryClientOptions {
  /** Bearer token for write routes (register, claim, renew, release, deregister). */
  token?: string;
  /** Whole-request timeout in ms (connect + response + body). Default 2000. */
  timeoutMs?: number;
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
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private closed = false;

  constructor(baseUrl: string, opts: HttpDiscoveryClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`discovery URL must be http(s): ${baseUrl}`);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = opts.token || undefined;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.agent = new Agent({ connect: { timeout: this.timeoutMs }, keepAliveTimeout: 4000 });
  }

  async registerOrigin(id: string, reg: OriginRegistration): Promise<RegisterOriginResult> {
    return (await this.call('PUT', `/v1/origins/${seg(id)}`, reg, true)).body as RegisterOriginResult;
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

  async listStreams(): Promise<StreamOwnerView[]> {
    return ((await this.call('GET', '/v1/streams')).body as { streams: StreamOwnerView[] }).streams;
  }

  /** Closes pooled connections; idempotent. Calls after close fail with DiscoveryUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
  ): Promise<{ status: number; body: unknown }> {
    if (this.closed) throw new DiscoveryUnavailableError('discovery client is closed', { method, path });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (write && this.token) headers.authorization = `Bearer ${this.token}`;
    let status: number;
    let text: string;
    try {
      const res = await request(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
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
        parsed = undefined;
      }
    }
    if (status >= 200 && status < 300) {
      if (status !== 204 && parsed === undefined) {
        throw new DiscoveryUnavailableError(`discovery ${method} ${path}: ${status} without a JSON body`, { method, path, status });
      }
      return { status, body: parsed };
    }
    const errBody: ErrorBodyLike = parsed !== null && typeof parsed === 'object' ? (parsed as ErrorBodyLike) : {};
    const message = typeof errBody.message === 'string' ? errBody.message : `HTTP ${status}`;
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
