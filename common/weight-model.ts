/**
 * The weight model (docs/design.md section 4, after mediasoup's worker weights), one for placement
 * in discovery (discovery/placement/) and for admission and shedding at origins (origin/overload/):
 *
 * - a node's capacity is `cores × weightPerCore` (or a configured capacity);
 * - a stream weighs its ingest, `weightPerMbit` per started Mbit/s but at least MIN_STREAM_WEIGHT
 *   (a stream that has sent nothing yet still holds a publisher slot), plus its fan-out
 *   `ceil(viewers / viewersPerWeight)`, where an edge pull counts as one viewer;
 * - utilisation is weight over capacity; a node of capacity 0 takes nothing (utilisation 1).
 *
 * Placement prices a new stream with the same `streamWeight` the origin will report for it.
 */

export interface WeightModel {
  /** Capacity of one core. */
  weightPerCore: number;
  /** Weight of each started Mbit/s of ingest. */
  weightPerMbit: number;
  /** One weight per this many viewers (an edge pull counts as one viewer). */
  viewersPerWeight: number;
}

export const DEFAULT_WEIGHT_MODEL: Readonly<WeightModel> = { weightPerCore: 12, weightPerMbit: 1, viewersPerWeight: 6 };

/** The least a stream weighs, whatever its ingest: it holds a publisher slot. */
export const MIN_STREAM_WEIGHT = 1;

/** A stream's load as measured (origins) or announced (a placement request's hints). */
export interface StreamLoadFigures {
  /** Ingest bit rate; unknown counts as 0. */
  ingestKbps?: number;
  /** Players plus edge pulls; unknown counts as 0. */
  viewers?: number;
}

export function streamWeight(s: StreamLoadFigures, m: WeightModel = DEFAULT_WEIGHT_MODEL): number {
  const ingest = Math.ceil(Math.max(0, s.ingestKbps ?? 0) / 1000) * m.weightPerMbit;
  const fanout = Math.ceil(Math.max(0, s.viewers ?? 0) / m.viewersPerWeight);
  return Math.max(MIN_STREAM_WEIGHT, ingest) + fanout;
}

export function totalWeight(streams: readonly StreamLoadFigures[], m: WeightModel = DEFAULT_WEIGHT_MODEL): number {
  return streams.reduce((sum, s) => sum + streamWeight(s, m), 0);
}

/** A configured capacity (> 0) wins; otherwise `cores × weightPerCore` (at least one core). */
export function nodeCapacity(cores: number, configured: number, m: WeightModel = DEFAULT_WEIGHT_MODEL): number {
  return configured > 0 ? configured : Math.max(1, cores) * m.weightPerCore;
}

/** Weight over capacity; 1 for a capacity of 0 or less (a node that takes nothing). */
export function utilisation(weight: number, capacity: number): number {
  return capacity > 0 ? weight / capacity : 1;
}
