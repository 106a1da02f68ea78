import type { Logger } from '../common/logger';
import { KeyedTokenBuckets, LogThrottle } from '../common/limits';

export interface PullAdmissionOptions {
  /** Pull attempts a client IP may start in a burst (token bucket capacity). */
  perIpBurst: number;
  /** Tokens a client IP gets back per second. */
  perIpPerSec: number;
  /** Pulls in progress (started, no media yet) at once, all clients together. */
  maxConcurrent: number;
}

export type PullRefusal = 'rate' | 'concurrency';

/**
 * Admission of plays that would start a new upstream pull (a name this edge is not pulling): any
 * name asked here makes the edge try every origin and ask discovery, so unknown names are an
 * amplification vector. A per-client-IP token bucket and a global cap on pulls in progress bound
 * it; plays of streams already pulled never come here.
 */
export class PullAdmission {
  private readonly buckets: KeyedTokenBuckets;
  private inProgress = 0;
  private readonly throttle = new LogThrottle();
  readonly refused: Record<PullRefusal, number> = { rate: 0, concurrency: 0 };

  constructor(private readonly opts: PullAdmissionOptions, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.buckets = new KeyedTokenBuckets(opts.perIpBurst, opts.perIpPerSec);
  }

  get pending(): number {
    return this.inProgress;
  }

  /** May `ip` start a pull of `stream` now? Null when it may (call `started` then), the reason otherwise. */
  check(ip: string, stream: string): PullRefusal | null {
    let refusal: PullRefusal | null = null;
    if (this.inProgress >= this.opts.maxConcurrent) refusal = 'concurrency';
    else if (!this.buckets.take(ip, this.now())) refusal = 'rate';
    if (!refusal) return null;
    this.refused[refusal]++;
    this.throttle.warn(this.log, { ip, stream, reason: refusal, pending: this.inProgress }, 'pull refused: too many pulls of streams not live here');
    return refusal;
  }

  /** A pull started; `done` settles when it delivered media or failed. */
  started(done: Promise<unknown>): void {
    this.inProgress++;
    const end = (): void => {
      this.inProgress--;
    };
    done.then(end, end);
  }
}
