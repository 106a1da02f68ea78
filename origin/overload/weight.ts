/**
 * The weight model of DESIGN.md section 4 (after mediasoup's worker weights):
 * a node's capacity is `cores × weightPerCore`; a published stream costs its
 * ingest (1 weight per started Mbit/s) plus its fan-out `ceil(viewers / 6)`,
 * where an edge pull counts as one viewer.
 */
export interface WeightConfig {
  weightPerCore: number;
  weightPerMbit: number;
  viewersPerWeight: number;
}

export const DEFAULT_WEIGHTS: WeightConfig = { weightPerCore: 12, weightPerMbit: 1, viewersPerWeight: 6 };

export interface StreamLoad {
  app: string;
  name: string;
  ingestKbps: number;
  /** Players plus edge pulls. */
  viewers: number;
}

export function capacityOf(cores: number, configured: number, w: WeightConfig = DEFAULT_WEIGHTS): number {
  return configured > 0 ? configured : Math.max(1, cores) * w.weightPerCore;
}

export function streamWeight(s: Pick<StreamLoad, 'ingestKbps' | 'viewers'>, w: WeightConfig = DEFAULT_WEIGHTS): number {
  const ingest = Math.ceil(Math.max(0, s.ingestKbps) / 1000) * w.weightPerMbit;
  // Even a stream that has sent nothing yet costs one unit: it holds a publisher slot.
  return Math.max(1, ingest) + Math.ceil(Math.max(0, s.viewers) / w.viewersPerWeight);
}

export function totalWeight(streams: readonly StreamLoad[], w: WeightConfig = DEFAULT_WEIGHTS): number {
  return streams.reduce((sum, s) => sum + streamWeight(s, w), 0);
}

/** Exponentially weighted moving average: smooths one-second samples so a spike does not shed. */
export class Ewma {
  private value: number | undefined;
  constructor(private readonly alpha: number) {}
  update(sample: number): number {
    this.value = this.value === undefined ? sample : this.alpha * sample + (1 - this.alpha) * this.value;
    return this.value;
  }
  get current(): number {
    return this.value ?? 0;
  }
  /** Start over from a known value (after a shed: the old samples describe load that is gone). */
  reset(value: number): void {
    this.value = value;
  }
}
