import { streamWeight, type StreamLoad, type WeightConfig, DEFAULT_WEIGHTS } from './weight';

export interface ShedPolicy {
  /** Utilisation (0..1) at or above which new publishers are refused and shedding may start. */
  highWater: number;
  /** Shedding stops once utilisation is at or below this (hysteresis). */
  lowWater: number;
  /** Utilisation must stay above high-water this long before a shed. */
  sustainMs: number;
  /** At most one shed per cooldown. */
  cooldownMs: number;
}

export const DEFAULT_SHED_POLICY: ShedPolicy = { highWater: 0.85, lowWater: 0.7, sustainMs: 3000, cooldownMs: 10_000 };

export interface VictimChoice {
  stream: StreamLoad;
  weight: number;
  utilisationAfter: number;
  /** Why this one: for the log and the API. */
  explain: string;
  candidates: Array<{ stream: string; weight: number; viewers: number; utilisationAfter: number; restoresHeadroom: boolean }>;
}

/**
 * The victim whose move best restores headroom with the fewest viewers
 * disturbed: among streams whose removal brings utilisation below high-water,
 * the one with the fewest viewers (ties: the heavier one, it frees more); when
 * no single move is enough, the heaviest stream per viewer disturbed.
 */
export function chooseVictim(streams: readonly StreamLoad[], capacity: number, policy: ShedPolicy, w: WeightConfig = DEFAULT_WEIGHTS): VictimChoice | null {
  if (streams.length === 0) return null;
  const total = streams.reduce((s, x) => s + streamWeight(x, w), 0);
  const candidates = streams.map((stream) => {
    const weight = streamWeight(stream, w);
    const utilisationAfter = (total - weight) / capacity;
    return { stream, weight, utilisationAfter, restoresHeadroom: utilisationAfter < policy.highWater };
  });
  const restoring = candidates.filter((c) => c.restoresHeadroom);
  const pick = restoring.length > 0
    ? [...restoring].sort((a, b) => a.stream.viewers - b.stream.viewers || b.weight - a.weight || key(a.stream).localeCompare(key(b.stream)))[0]
    : [...candidates].sort((a, b) => b.weight / (1 + b.stream.viewers) - a.weight / (1 + a.stream.viewers) || key(a.stream).localeCompare(key(b.stream)))[0];
  const explain = restoring.length > 0
    ? `${key(pick.stream)}: moving it brings utilisation to ${pct(pick.utilisationAfter)} (< high-water ${pct(policy.highWater)}) and disturbs the fewest viewers (${pick.stream.viewers}) of the ${restoring.length} stream(s) that would`
    : `${key(pick.stream)}: no single move gets below high-water; it frees the most weight per viewer disturbed (${pick.weight} weight, ${pick.stream.viewers} viewers)`;
  return {
    stream: pick.stream,
    weight: pick.weight,
    utilisationAfter: pick.utilisationAfter,
    explain,
    candidates: candidates.map((c) => ({ stream: key(c.stream), weight: c.weight, viewers: c.stream.viewers, utilisationAfter: round(c.utilisationAfter), restoresHeadroom: c.restoresHeadroom })),
  };
}

export type ShedDecision = { action: 'none'; reason: string } | { action: 'shed'; victim: VictimChoice };

/**
 * When to shed (docs/design.md section 5): utilisation above high-water for the
 * sustain window starts shedding; it goes on (one stream per cooldown) until
 * utilisation is at or below low-water. Never sheds the last publisher: moving
 * it only moves the overload elsewhere.
 */
export class Shedder {
  private aboveSince: number | undefined;
  private lastShedAt = -Infinity;
  private shedding = false;

  constructor(readonly policy: ShedPolicy = DEFAULT_SHED_POLICY, private readonly w: WeightConfig = DEFAULT_WEIGHTS) {}

  /** Whether a new publisher may come in at this utilisation. */
  admits(utilisation: number): boolean {
    return utilisation < this.policy.highWater;
  }

  decide(now: number, utilisation: number, streams: readonly StreamLoad[], capacity: number): ShedDecision {
    if (utilisation <= this.policy.lowWater) {
      this.aboveSince = undefined;
      this.shedding = false;
      return { action: 'none', reason: 'at or below low-water' };
    }
    if (utilisation >= this.policy.highWater) {
      this.aboveSince ??= now;
      if (now - this.aboveSince >= this.policy.sustainMs) this.shedding = true;
    } else {
      this.aboveSince = undefined;
    }
    if (!this.shedding) return { action: 'none', reason: utilisation >= this.policy.highWater ? 'above high-water, not yet sustained' : 'between low- and high-water' };
    if (now - this.lastShedAt < this.policy.cooldownMs) return { action: 'none', reason: 'cooldown' };
    if (streams.length <= 1) return { action: 'none', reason: 'never shed the last publisher' };
    const victim = chooseVictim(streams, capacity, this.policy, this.w);
    if (!victim) return { action: 'none', reason: 'no publisher' };
    this.lastShedAt = now;
    return { action: 'shed', victim };
  }
}

function key(s: StreamLoad): string {
  return `${s.app}/${s.name}`;
}

function pct(x: number): string {
  return `${Math.round(x * 100)} %`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
