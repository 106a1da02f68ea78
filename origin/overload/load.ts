/**
 * What the overload controller samples: each admitted stream's load (weighed by the shared model,
 * common/weight-model.ts) and a smoothing of the utilisation it adds up to.
 */
import type { StreamLoadFigures } from '../../common/weight-model';

export interface StreamLoad extends StreamLoadFigures {
  app: string;
  name: string;
  ingestKbps: number;
  /** Players plus edge pulls. */
  viewers: number;
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
