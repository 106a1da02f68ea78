import type { OriginLoad } from '../types';

/** DESIGN.md section 4: the weight model placement and admission share. */
export interface WeightModel {
  /** Capacity assumed when an origin registers none (cores × 12). */
  defaultCapacity: number;
  /** Weight of each started Mbit/s of ingest. */
  weightPerMbps: number;
  /** One weight per this many viewers (an edge pull counts as one viewer). */
  viewersPerWeight: number;
}

export const DEFAULT_WEIGHT_MODEL: WeightModel = { defaultCapacity: 48, weightPerMbps: 1, viewersPerWeight: 6 };

/** Weight a new stream adds: its ingest plus its fan-out. */
export function streamCost(req: { bitrateKbps?: number; viewers?: number }, model: WeightModel): number {
  const ingest = Math.ceil(Math.max(0, req.bitrateKbps ?? 0) / 1000) * model.weightPerMbps;
  const fanout = Math.ceil(Math.max(0, req.viewers ?? 0) / model.viewersPerWeight);
  return ingest + fanout;
}

/** The registered capacity, or the model's default when the origin registered none. */
export function capacityOf(origin: { capacity?: number }, model: WeightModel): number {
  return origin.capacity ?? model.defaultCapacity;
}

/** load.weight / capacity; 1 for a zero capacity (an origin that takes nothing). */
export function utilisationOf(origin: { capacity?: number; load: OriginLoad }, model: WeightModel): number {
  const capacity = capacityOf(origin, model);
  const weight = origin.load.weight ?? 0;
  return capacity > 0 ? weight / capacity : 1;
}
