import type { OriginLoad, OriginState, PlacementExclusion, PlacementExplainEntry, PlacementInput } from '../types';
import { capacityOf, streamCost, utilisationOf, type WeightModel } from './weights';

/**
 * Placement selectors: pure functions (no I/O, no clock, randomness injected) so table tests pin
 * every decision. docs/design.md section 4: among `active` origins below high-water, power-of-two-choices
 * on weight utilisation (or least-loaded); ties → region match → fewest publishers → id.
 */

export interface PlacementCandidate {
  id: string;
  rtmp: string;
  http: string;
  region?: string;
  state: OriginState;
  capacity?: number;
  load: OriginLoad;
}

export type { PlacementInput } from '../types';

export type PlacementStrategy = 'p2c' | 'least-loaded';
/** `prefer`: keep to the region when an origin there can take the stream, else go anywhere. `require`: only the region. */
export type RegionPolicy = 'prefer' | 'require';

export interface SelectOptions extends WeightModel {
  /** Utilisation (0..1) at and above which an origin takes no new publisher. */
  highWater: number;
  strategy: PlacementStrategy;
  regionPolicy: RegionPolicy;
  /** Origin ids this stream must not go to now (shed recently). */
  avoid: ReadonlySet<string>;
  /** Uniform in [0, 1); `Math.random` in production, scripted in tests. */
  random: () => number;
}

export interface PlacementDecision<C extends PlacementCandidate = PlacementCandidate> {
  chosen?: C;
  /** Every candidate: the chosen one first, then the eligible by score, then the excluded. */
  explain: PlacementExplainEntry[];
}

interface Scored<C> {
  c: C;
  utilisation: number;
  score: number;
  excluded?: PlacementExclusion;
  reason: string;
}

const EPSILON = 1e-9;

export function selectOrigin<C extends PlacementCandidate>(candidates: readonly C[], input: PlacementInput, opts: SelectOptions): PlacementDecision<C> {
  const cost = streamCost(input, opts);
  const scored: Array<Scored<C>> = candidates.map((c) => {
    const capacity = capacityOf(c, opts);
    const utilisation = utilisationOf(c, opts);
    const score = capacity > 0 ? ((c.load.weight ?? 0) + cost) / capacity : Number.MAX_SAFE_INTEGER;
    const s: Scored<C> = { c, utilisation, score, reason: '' };
    if (c.state === 'draining') exclude(s, 'draining', 'draining: takes no new publishers');
    else if (opts.avoid.has(c.id)) exclude(s, 'shed-recently', 'this stream was shed from here recently');
    else if (capacity <= 0) exclude(s, 'over-high-water', 'capacity 0');
    else if (utilisation >= opts.highWater) exclude(s, 'over-high-water', `utilisation ${pct(utilisation)} ≥ high-water ${pct(opts.highWater)}`);
    return s;
  });

  const region = input.region;
  if (region !== undefined && region !== '') {
    const inRegion = scored.filter((s) => !s.excluded && s.c.region === region);
    if (opts.regionPolicy === 'require' || inRegion.length > 0) {
      for (const s of scored) if (!s.excluded && s.c.region !== region) exclude(s, 'region-mismatch', `region ${s.c.region ?? '(none)'} ≠ ${region}`);
    }
  }

  const eligible = scored.filter((s) => !s.excluded);
  const better = (a: Scored<C>, b: Scored<C>): Scored<C> => (compare(a, b, region) <= 0 ? a : b);
  let chosen: Scored<C> | undefined;
  if (eligible.length === 1) {
    chosen = eligible[0];
    chosen.reason = 'the only eligible origin';
  } else if (eligible.length > 1 && opts.strategy === 'p2c') {
    const i = pick(opts.random, eligible.length);
    let j = pick(opts.random, eligible.length - 1);
    if (j >= i) j++;
    const [a, b] = [eligible[i], eligible[j]];
    chosen = better(a, b);
    const loser = chosen === a ? b : a;
    chosen.reason = `power-of-two-choices: sampled with ${loser.c.id}; ${why(chosen, loser, region)}`;
    loser.reason = `power-of-two-choices: sampled with ${chosen.c.id}; lost (${why(chosen, loser, region)})`;
    for (const s of eligible) if (s !== a && s !== b) s.reason = 'eligible; not sampled by power-of-two-choices';
  } else if (eligible.length > 1) {
    chosen = eligible.reduce(better);
    for (const s of eligible) s.reason = s === chosen ? 'least loaded' : `eligible; ${chosen.c.id} is less loaded`;
  }

  const order = (s: Scored<C>): number => (s === chosen ? 0 : s.excluded ? 2 : 1);
  const explain = [...scored]
    .sort((a, b) => order(a) - order(b) || a.score - b.score || byId(a.c.id, b.c.id))
    .map((s): PlacementExplainEntry => ({
      id: s.c.id,
      utilisation: round(s.utilisation),
      score: round(Math.min(s.score, Number.MAX_SAFE_INTEGER)),
      chosen: s === chosen,
      ...(s.excluded ? { excluded: s.excluded } : {}),
      reason: s.reason,
    }));
  return chosen ? { chosen: chosen.c, explain } : { explain };
}

function exclude<C>(s: Scored<C>, why: PlacementExclusion, reason: string): void {
  s.excluded = why;
  s.reason = reason;
}

/** Lower score; then region match; then fewer publishers; then id (so results never depend on input order). */
function compare<C extends PlacementCandidate>(a: Scored<C>, b: Scored<C>, region: string | undefined): number {
  if (Math.abs(a.score - b.score) > EPSILON) return a.score - b.score;
  if (region) {
    const ra = a.c.region === region ? 0 : 1;
    const rb = b.c.region === region ? 0 : 1;
    if (ra !== rb) return ra - rb;
  }
  const pa = a.c.load.publishers ?? 0;
  const pb = b.c.load.publishers ?? 0;
  if (pa !== pb) return pa - pb;
  return byId(a.c.id, b.c.id);
}

function why<C extends PlacementCandidate>(w: Scored<C>, l: Scored<C>, region: string | undefined): string {
  if (Math.abs(w.score - l.score) > EPSILON) return `score ${round(w.score)} < ${round(l.score)}`;
  if (region && (w.c.region === region) !== (l.c.region === region)) return `same score, region ${region} matches`;
  if ((w.c.load.publishers ?? 0) !== (l.c.load.publishers ?? 0)) return `same score, fewer publishers (${w.c.load.publishers ?? 0} < ${l.c.load.publishers ?? 0})`;
  return 'same score and publishers, lower id';
}

function pick(random: () => number, n: number): number {
  const r = random();
  return Math.min(n - 1, Math.max(0, Math.floor((Number.isFinite(r) ? r : 0) * n)));
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}
