import { DEFAULT_WEIGHT_MODEL, MIN_STREAM_WEIGHT, nodeCapacity, streamWeight, totalWeight, utilisation, type StreamLoadFigures, type WeightModel } from '../../../common/weight-model';

/** The one weight model of placement and admission (docs/design.md section 4; docs/origin-api.md, docs/discovery.md). */

describe('streamWeight: max(1, ceil(ingest Mbit/s) × weightPerMbit) + ceil(viewers / viewersPerWeight)', () => {
  it.each<[StreamLoadFigures, number]>([
    [{}, 1],
    [{ ingestKbps: 0, viewers: 0 }, 1],
    [{ ingestKbps: 1 }, 1],
    [{ ingestKbps: 1000 }, 1],
    [{ ingestKbps: 1001 }, 2],
    [{ ingestKbps: 2500 }, 3],
    [{ ingestKbps: 2600 }, 3],
    [{ ingestKbps: 8000 }, 8],
    [{ viewers: 1 }, 1 + 1],
    [{ viewers: 6 }, 1 + 1],
    [{ viewers: 7 }, 1 + 2],
    [{ ingestKbps: 2500, viewers: 1 }, 4],
    [{ ingestKbps: 2500, viewers: 7 }, 5],
    [{ ingestKbps: 1000, viewers: 60 }, 11],
    [{ ingestKbps: 2600, viewers: 400 }, 3 + 67],
    [{ ingestKbps: -5, viewers: -1 }, 1],
  ])('%j → %d', (load, weight) => {
    expect(streamWeight(load)).toBe(weight);
    expect(streamWeight(load, DEFAULT_WEIGHT_MODEL)).toBe(weight);
  });

  it.each<[WeightModel, StreamLoadFigures, number]>([
    [{ weightPerCore: 12, weightPerMbit: 2, viewersPerWeight: 5 }, { ingestKbps: 2500, viewers: 10 }, 6 + 2],
    [{ weightPerCore: 12, weightPerMbit: 0, viewersPerWeight: 6 }, { ingestKbps: 9000, viewers: 0 }, MIN_STREAM_WEIGHT],
    [{ weightPerCore: 12, weightPerMbit: 0.5, viewersPerWeight: 1 }, { ingestKbps: 4000, viewers: 3 }, 2 + 3],
  ])('configured model %j: %j → %d', (model, load, weight) => {
    expect(streamWeight(load, model)).toBe(weight);
  });

  it('the defaults', () => {
    expect(DEFAULT_WEIGHT_MODEL).toEqual({ weightPerCore: 12, weightPerMbit: 1, viewersPerWeight: 6 });
    expect(MIN_STREAM_WEIGHT).toBe(1);
  });

  it('totalWeight sums the streams', () => {
    expect(totalWeight([{ ingestKbps: 2500, viewers: 0 }, { ingestKbps: 2500, viewers: 7 }])).toBe(8);
    expect(totalWeight([])).toBe(0);
  });
});

describe('nodeCapacity and utilisation', () => {
  it.each<[number, number, number]>([
    [2, 0, 24],
    [4, 0, 48],
    [2, 6, 6],
    [0, 0, 12],
  ])('%d cores, configured %d → capacity %d', (cores, configured, capacity) => {
    expect(nodeCapacity(cores, configured)).toBe(capacity);
  });

  it.each<[number, number, number]>([
    [12, 48, 0.25],
    [0, 24, 0],
    [5, 0, 1],
    [5, -1, 1],
  ])('weight %d / capacity %d → %d', (weight, capacity, u) => {
    expect(utilisation(weight, capacity)).toBe(u);
  });
});
