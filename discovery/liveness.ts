import { request } from 'undici';

/** Is the owner of a stream still there? Asked on a conflicting claim (DESIGN.md section 3). */
export interface LivenessChecker {
  /** true when the origin does not answer (refused, reset, timeout) or another origin answers at its address. */
  isDead(origin: { id: string; http: string }): Promise<boolean>;
}

export interface HttpLivenessOptions {
  /** An owner silent for this long is dead. Default 300. */
  timeoutMs?: number;
  /**
   * A live answer is trusted this long, so a flood of conflicting claims makes few probes. Keep it
   * short: it delays noticing a death by up to this much. Default 100.
   */
  aliveCacheMs?: number;
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

  constructor(opts: HttpLivenessOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 300;
    this.aliveCacheMs = opts.aliveCacheMs ?? 100;
  }

  isDead(origin: { id: string; http: string }): Promise<boolean> {
    const url = `${origin.http.replace(/\/+$/, '')}/healthz`;
    const key = `${origin.id} ${url}`;
    const until = this.aliveUntil.get(key);
    if (until !== undefined && until > Date.now()) return Promise.resolve(false);
    let probe = this.inflight.get(key);
    if (!probe) {
      probe = this.probe(origin.id, url).finally(() => this.inflight.delete(key));
      this.inflight.set(key, probe);
    }
    return probe;
  }

  private async probe(id: string, url: string): Promise<boolean> {
    try {
      const res = await request(url, {
        method: 'GET',
        reset: true,
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const body = await readSome(res.body);
      if (answersAsAnother(body, id)) return true;
      this.remember(`${id} ${url}`);
      return false;
    } catch {
      return true;
    }
  }

  private remember(key: string): void {
    if (this.aliveUntil.size > 10_000) this.aliveUntil.clear();
    this.aliveUntil.set(key, Date.now() + this.aliveCacheMs);
  }
}

async function readSome(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_BODY) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON health answer with a string `id` other than ours: the port now belongs to another origin. */
function answersAsAnother(text: string, id: string): boolean {
  try {
    const body = JSON.parse(text) as { id?: unknown };
    return typeof body?.id === 'string' && body.id !== id;
  } catch {
    return false;
  }
}
