import type { Logger } from '../../common/logger';
import { Shedder, type ShedPolicy, type VictimChoice } from './shedder';
import { totalWeight, type WeightModel } from '../../common/weight-model';
import { Ewma, type StreamLoad } from './load';

export interface OverloadHost {
  /** Current load of every admitted stream. */
  streams(): StreamLoad[];
  /** Move this stream's publisher elsewhere (reconnect request or disconnect). */
  shed(app: string, name: string, reason: string): Promise<void>;
}

export interface OverloadSnapshot {
  weight: number;
  capacity: number;
  utilisation: number;
  highWater: number;
  lowWater: number;
  draining: boolean;
  sheds: number;
  lastShed: { at: number; stream: string; explain: string; candidates: VictimChoice['candidates'] } | null;
  lastDecision: string;
}

/** Below this smoothed utilisation with no stream left, sampling pauses (the average is as good as 0). */
const IDLE_UTILISATION = 0.001;

/**
 * Samples load every second (smoothed), answers admission, and sheds a
 * publisher when the shedder says so (docs/design.md section 5). The decision and its
 * explanation are kept for the API and logged.
 */
export class OverloadController {
  private readonly smooth = new Ewma(0.5);
  private readonly shedder: Shedder;
  private timer?: NodeJS.Timeout;
  private everyMs = 1000;
  private running = false;
  private weight = 0;
  private lastDecision = 'no sample yet';
  private lastShed: OverloadSnapshot['lastShed'] = null;
  sheds = 0;
  draining = false;
  /** Streams being moved off: their weight no longer counts (a reconnect takes a few seconds). */
  private readonly leaving = new Map<string, number>();

  constructor(
    private readonly host: OverloadHost,
    readonly capacity: number,
    private readonly policy: ShedPolicy,
    private readonly weights: WeightModel,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.shedder = new Shedder(policy, weights);
  }

  start(everyMs = 1000): void {
    this.everyMs = everyMs;
    this.running = true;
    this.wake();
  }

  stop(): void {
    this.running = false;
    this.pause();
  }

  /** Sampling runs while there is load; an idle origin does not wake up for it (issue 15: an idle cluster costs nothing). */
  get sampling(): boolean {
    return this.timer !== undefined;
  }

  private wake(): void {
    if (!this.running || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.everyMs);
    this.timer.unref();
  }

  private pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Smoothed utilisation: what admission and shedding go by. */
  get utilisation(): number {
    return this.smooth.current;
  }

  /** Weight of the admitted streams right now over capacity (metrics, dashboards). */
  instantUtilisation(): number {
    return totalWeight(this.counted(), this.weights) / this.capacity;
  }

  /** Streams that count towards load: all but those being shed (for up to a minute). */
  private counted(): StreamLoad[] {
    const now = this.now();
    for (const [k, until] of this.leaving) if (until < now) this.leaving.delete(k);
    return this.host.streams().filter((s) => !this.leaving.has(`${s.app}/${s.name}`));
  }

  /** New publishers are refused above high-water and while draining. */
  admits(): boolean {
    // Every publish is asked about here first: the stream it may add gets sampled from now on.
    this.wake();
    if (this.draining) return false;
    // The instantaneous weight counts too: a burst of new publishers must not all slip in before the average moves.
    return this.shedder.admits(Math.max(this.utilisation, this.instantUtilisation()));
  }

  snapshot(): OverloadSnapshot {
    return {
      weight: this.weight,
      capacity: this.capacity,
      utilisation: round(this.utilisation),
      highWater: this.policy.highWater,
      lowWater: this.policy.lowWater,
      draining: this.draining,
      sheds: this.sheds,
      lastShed: this.lastShed,
      lastDecision: this.lastDecision,
    };
  }

  /** One sample: weight → smoothed utilisation → maybe one shed. */
  async tick(): Promise<void> {
    const streams = this.counted();
    this.weight = totalWeight(streams, this.weights);
    const utilisation = this.smooth.update(this.weight / this.capacity);
    if (streams.length === 0 && utilisation < IDLE_UTILISATION) {
      // Nothing admitted and the average has decayed: nothing to shed until admits() sees a publisher.
      this.smooth.reset(0);
      this.lastDecision = 'idle: no streams (sampling resumes with the next publisher)';
      this.pause();
      return;
    }
    const decision = this.shedder.decide(this.now(), utilisation, streams, this.capacity);
    if (decision.action === 'none') {
      this.lastDecision = decision.reason;
      return;
    }
    const v = decision.victim;
    const stream = `${v.stream.app}/${v.stream.name}`;
    this.sheds++;
    this.lastShed = { at: this.now(), stream, explain: v.explain, candidates: v.candidates };
    this.lastDecision = `shed ${stream}`;
    this.log.warn({ stream, utilisation: round(utilisation), capacity: this.capacity, explain: v.explain, candidates: v.candidates }, 'overloaded: shedding a publisher');
    this.leaving.set(stream, this.now() + 60_000);
    this.smooth.reset(v.utilisationAfter);
    await this.host.shed(v.stream.app, v.stream.name, `overload: ${v.explain}`).catch((err: unknown) => this.log.error({ err: String(err), stream }, 'shed failed'));
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
