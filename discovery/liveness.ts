import { readBoundedText } from '../common/bounded-body';
import type { HostAllowlist } from '../common/host-allowlist';
import { request } from 'undici';

/** Is the owner of a stream still there? Asked on a conflicting claim (docs/design.md section 3). */
export interface LivenessChecker {
  /**
   * true when the origin is provably gone: its address refuses or resets the connection, another origin
   * id answers there (the port was reused), or another incarnation of it answers (it restarted, so the
   * lease belonged to a process that no longer exists). A timeout is *not* proof: a stalled origin (GC
   * pause, SIGSTOP, an overloaded box) keeps its lease until its registration expires, so it never
   * resumes to find its stream taken and fight for it.
   */
  isDead(origin: { id: string; http: string; incarnation?: string }): Promise<boolean>;
}

export interface HttpLivenessOptions {
  /** Give up on an answer after this long (the owner then counts as alive: stalled, not dead). Default 300. */
  timeoutMs?: number;
  /**
   * A live answer is trusted this long, so a flood of conflicting claims makes few probes. Keep it
   * short: it delays noticing a death by up to this much. Default 100.
   */
  aliveCacheMs?: number;
  /**
   * Hosts the probe may contact (discovery's originHosts). Registration already refuses others; this
   * guards records written before the list changed. An owner elsewhere is never probed: it counts as alive.
   */
  allowlist?: HostAllowlist;
}

const MAX_BODY = 16 * 1024;

/**
 * `GET <origin.http>/healthz` on a fresh connection (a pooled socket to a killed process would fail
 * for the wrong reason, and one to a live process could be closed under us): any HTTP answer means
 * alive unless it names another origin id. Concurrent probes of one origin share one request.
 */
export class HttpLiveness implements LivenessChecker {
  private readonly timeoutMs: number;
  private readonly aliveCacheMs: number;
  private readonly aliveUntil = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly allowlist?: HostAllowlist;

  constructor(opts: HttpLivenessOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 300;
    this.aliveCacheMs = opts.aliveCacheMs ?? 100;
    this.allowlist = opts.allowlist;
  }

  isDead(origin: { id: string; http: string; incarnation?: string }): Promise<boolean> {
    if (this.allowlist && !this.allowlist.allowsUrl(origin.http)) return Promise.resolve(false);
    const url = `${origin.http.replace(/\/+$/, '')}/healthz`;
    const key = `${origin.id} ${origin.incarnation ?? ''} ${url}`;
    const until = this.aliveUntil.get(key);
    if (until !== undefined && until > Date.now()) return Promise.resolve(false);
    let probe = this.inflight.get(key);
    if (!probe) {
      probe = this.probe(origin, url, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, probe);
    }
    return probe;
  }

  private async probe(origin: { id: string; incarnation?: string }, url: string, key: string): Promise<boolean> {
    try {
      const res = await request(url, {
        method: 'GET',
        reset: true,
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      // Too long to be a /healthz answer: it names no other origin (any answer means alive).
      const body = (await readBoundedText(res.body, MAX_BODY)) ?? '';
      if (answersAsAnother(body, origin)) return true;
      this.remember(key);
      return false;
    } catch (err) {
      return isGone(err);
    }
  }

  private remember(key: string): void {
    if (this.aliveUntil.size > 10_000) this.aliveUntil.clear();
    if (this.aliveUntil.size >= 1024) for (const [k, t] of this.aliveUntil) if (t <= Date.now()) this.aliveUntil.delete(k);
    this.aliveUntil.set(key, Date.now() + this.aliveCacheMs);
  }
}

/**
 * A JSON health answer with a string `id` other than ours (the port now belongs to another origin), or
 * with our id and another `incarnation` than the lease holder's (the origin restarted).
 */
function answersAsAnother(text: string, origin: { id: string; incarnation?: string }): boolean {
  try {
    const body = JSON.parse(text) as { id?: unknown; incarnation?: unknown };
    if (typeof body?.id === 'string' && body.id !== origin.id) return true;
    return origin.incarnation !== undefined && typeof body?.incarnation === 'string' && body.incarnation !== origin.incarnation;
  } catch {
    return false; // not JSON: it names no other origin, and any answer means alive (docs/discovery.md)
  }
}

/** Connection-level errors that mean nothing listens there any more; timeouts and the rest do not. */
const GONE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'ENOTFOUND']);

function isGone(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && GONE_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
