import { placeStream, publishUrl } from '../../../discovery/placement/place';
import { selectOrigin, type PlacementCandidate, type SelectOptions } from '../../../discovery/placement/select';
import { DEFAULT_WEIGHT_MODEL, capacityOf, streamCost, utilisationOf } from '../../../discovery/placement/weights';
import { MemoryStore } from '../../../discovery/store/memory-store';
import type { OriginLoad, PlacementInput } from '../../../discovery/types';

/** An origin with capacity 100 (so weight = percent) unless told otherwise. */
function o(id: string, weight: number, extra: Partial<PlacementCandidate> & { load?: OriginLoad } = {}): PlacementCandidate {
  return { id, rtmp: `rtmp://${id}:1935`, http: `http://${id}:8080`, state: 'active', capacity: 100, ...extra, load: { weight, ...(extra.load ?? {}) } };
}

/** A scripted random source: returns the given values in turn (then 0). */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => (i < values.length ? values[i++] : 0);
}

function options(extra: Partial<SelectOptions> = {}): SelectOptions {
  return { ...DEFAULT_WEIGHT_MODEL, highWater: 0.85, strategy: 'least-loaded', regionPolicy: 'prefer', avoid: new Set(), random: scripted(), ...extra };
}

describe('weight model (docs/design.md section 4)', () => {
  it.each<[PlacementInput, number]>([
    [{}, 0],
    [{ bitrateKbps: 1 }, 1],
    [{ bitrateKbps: 1000 }, 1],
    [{ bitrateKbps: 1001 }, 2],
    [{ bitrateKbps: 2600 }, 3],
    [{ viewers: 1 }, 1],
    [{ viewers: 6 }, 1],
    [{ viewers: 7 }, 2],
    [{ bitrateKbps: 2600, viewers: 400 }, 3 + 67],
    [{ bitrateKbps: -5, viewers: -1 }, 0],
  ])('streamCost(%j) = %d', (input, cost) => {
    expect(streamCost(input, DEFAULT_WEIGHT_MODEL)).toBe(cost);
  });

  it('honours a configured model', () => {
    expect(streamCost({ bitrateKbps: 2500, viewers: 10 }, { defaultCapacity: 10, weightPerMbps: 2, viewersPerWeight: 5 })).toBe(6 + 2);
  });

  it('capacity defaults to the model (cores × 12), utilisation = weight / capacity', () => {
    expect(capacityOf({}, DEFAULT_WEIGHT_MODEL)).toBe(48);
    expect(capacityOf({ capacity: 24 }, DEFAULT_WEIGHT_MODEL)).toBe(24);
    expect(utilisationOf({ load: { weight: 12 } }, DEFAULT_WEIGHT_MODEL)).toBe(0.25);
    expect(utilisationOf({ capacity: 24, load: {} }, DEFAULT_WEIGHT_MODEL)).toBe(0);
    expect(utilisationOf({ capacity: 0, load: {} }, DEFAULT_WEIGHT_MODEL)).toBe(1);
  });
});

describe('selectOrigin: exclusions', () => {
  interface Row {
    name: string;
    candidates: PlacementCandidate[];
    input?: PlacementInput;
    opts?: Partial<SelectOptions>;
    chosen: string | undefined;
    excluded: Record<string, string>;
  }
  const rows: Row[] = [
    { name: 'no origins', candidates: [], chosen: undefined, excluded: {} },
    { name: 'draining is excluded', candidates: [o('a', 10, { state: 'draining' }), o('b', 50)], chosen: 'b', excluded: { a: 'draining' } },
    { name: 'at high-water is excluded (≥)', candidates: [o('a', 85), o('b', 84)], chosen: 'b', excluded: { a: 'over-high-water' } },
    { name: 'high-water is configurable', candidates: [o('a', 60), o('b', 75)], opts: { highWater: 0.7 }, chosen: 'a', excluded: { b: 'over-high-water' } },
    { name: 'capacity 0 takes nothing', candidates: [o('a', 0, { capacity: 0 }), o('b', 1)], chosen: 'b', excluded: { a: 'over-high-water' } },
    { name: 'avoided (shed recently)', candidates: [o('a', 0), o('b', 50)], opts: { avoid: new Set(['a']) }, chosen: 'b', excluded: { a: 'shed-recently' } },
    { name: 'everyone excluded', candidates: [o('a', 90), o('b', 0, { state: 'draining' })], chosen: undefined, excluded: { a: 'over-high-water', b: 'draining' } },
    {
      name: 'region prefer: in-region wins even when busier',
      candidates: [o('a', 10, { region: 'us' }), o('b', 60, { region: 'eu' })],
      input: { region: 'eu' },
      chosen: 'b',
      excluded: { a: 'region-mismatch' },
    },
    {
      name: 'region prefer: nobody usable in region → anywhere',
      candidates: [o('a', 10, { region: 'us' }), o('b', 90, { region: 'eu' }), o('c', 20)],
      input: { region: 'eu' },
      chosen: 'a',
      excluded: { b: 'over-high-water' },
    },
    {
      name: 'region require: nobody in region → nothing',
      candidates: [o('a', 10, { region: 'us' }), o('c', 20)],
      input: { region: 'eu' },
      opts: { regionPolicy: 'require' },
      chosen: undefined,
      excluded: { a: 'region-mismatch', c: 'region-mismatch' },
    },
    { name: 'empty region means no preference', candidates: [o('a', 10, { region: 'us' }), o('b', 5)], input: { region: '' }, chosen: 'b', excluded: {} },
    { name: 'draining beats avoid in the reason', candidates: [o('a', 0, { state: 'draining' })], opts: { avoid: new Set(['a']) }, chosen: undefined, excluded: { a: 'draining' } },
  ];

  it.each(rows)('$name', ({ candidates, input, opts, chosen, excluded }) => {
    const d = selectOrigin(candidates, input ?? {}, options(opts));
    expect(d.chosen?.id).toBe(chosen);
    expect(Object.fromEntries(d.explain.filter((e) => e.excluded).map((e) => [e.id, e.excluded]))).toEqual(excluded);
    expect(d.explain).toHaveLength(candidates.length);
    expect(d.explain.filter((e) => e.chosen).map((e) => e.id)).toEqual(chosen ? [chosen] : []);
    for (const e of d.explain) expect(e.reason).not.toBe('');
    if (chosen) expect(d.explain[0]).toMatchObject({ id: chosen, chosen: true });
  });
});

describe('selectOrigin: least-loaded and ties', () => {
  it.each<[string, PlacementCandidate[], PlacementInput, string]>([
    ['lowest utilisation', [o('a', 30), o('b', 10), o('c', 20)], {}, 'b'],
    ['score counts the new stream against each capacity', [o('a', 10, { capacity: 20 }), o('b', 40, { capacity: 100 })], { bitrateKbps: 5000 }, 'b'],
    ['tie → region match', [o('a', 10, { region: 'us' }), o('b', 10, { region: 'eu' })], { region: 'eu' }, 'b'],
    ['tie → fewest publishers', [o('a', 10, { load: { publishers: 3 } }), o('b', 10, { load: { publishers: 1 } })], {}, 'b'],
    ['tie on everything → lowest id', [o('b', 10), o('a', 10)], {}, 'a'],
    ['missing load counts as idle', [o('a', 5), { ...o('b', 0), load: {} }], {}, 'b'],
  ])('%s', (_name, candidates, input, chosen) => {
    expect(selectOrigin(candidates, input, options()).chosen?.id).toBe(chosen);
    // Input order never matters.
    expect(selectOrigin([...candidates].reverse(), input, options()).chosen?.id).toBe(chosen);
  });

  it('explains utilisation and score', () => {
    const d = selectOrigin([o('a', 30), o('b', 10)], { bitrateKbps: 3000, viewers: 12 }, options());
    expect(d.explain).toEqual([
      { id: 'b', utilisation: 0.1, score: 0.15, chosen: true, reason: 'least loaded' },
      { id: 'a', utilisation: 0.3, score: 0.35, chosen: false, reason: 'eligible; b is less loaded' },
    ]);
  });
});

describe('selectOrigin: power-of-two-choices', () => {
  const four = [o('a', 10), o('b', 20), o('c', 30), o('d', 40)];

  it.each<[string, number[], string, string[]]>([
    // random → i = floor(r·4), j = floor(r·3) skipping i
    ['samples a,b → a', [0.0, 0.0], 'a', ['a', 'b']],
    ['samples c,d → c', [0.5, 0.9], 'c', ['c', 'd']],
    ['samples d,b → b', [0.99, 0.4], 'b', ['b', 'd']],
    ['samples b,a → a', [0.3, 0.0], 'a', ['a', 'b']],
    ['samples d,c → c', [0.8, 0.7], 'c', ['c', 'd']],
  ])('%s', (_name, randoms, chosen, sampled) => {
    const d = selectOrigin(four, {}, options({ strategy: 'p2c', random: scripted(...randoms) }));
    expect(d.chosen?.id).toBe(chosen);
    const sampledIds = d.explain.filter((e) => e.reason.startsWith('power-of-two-choices')).map((e) => e.id).sort();
    expect(sampledIds).toEqual(sampled);
    expect(d.explain.filter((e) => e.reason.includes('not sampled'))).toHaveLength(2);
  });

  it('one eligible origin needs no sampling; excluded ones are never sampled', () => {
    const d = selectOrigin([o('a', 90), o('b', 10), o('c', 0, { state: 'draining' })], {}, options({ strategy: 'p2c', random: () => 0.99 }));
    expect(d.chosen?.id).toBe('b');
    expect(d.explain[0].reason).toBe('the only eligible origin');
  });

  it('never picks the most loaded of many (it always loses its pair), spreads over the rest', () => {
    const many = Array.from({ length: 8 }, (_, i) => o(`o${i}`, i * 10));
    const counts = new Map<string, number>();
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let k = 0; k < 2000; k++) {
      const id = selectOrigin(many, {}, options({ strategy: 'p2c', random })).chosen?.id ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.get('o7')).toBeUndefined();
    expect((counts.get('o0') ?? 0) > (counts.get('o6') ?? 0)).toBe(true);
    expect(counts.size).toBe(7);
  });

  it('tolerates a broken random source', () => {
    for (const r of [NaN, -1, 1, 5]) expect(selectOrigin([o('a', 10), o('b', 20)], {}, options({ strategy: 'p2c', random: () => r })).chosen?.id).toBe('a');
  });
});

describe('placeStream (store + selector)', () => {
  const model = { ...DEFAULT_WEIGHT_MODEL, highWater: 0.85, strategy: 'least-loaded' as const, regionPolicy: 'prefer' as const, random: () => 0 };

  it('a live stream goes to its owner; otherwise the selector picks, honouring avoid', async () => {
    const store = new MemoryStore();
    await store.upsertOrigin({ id: 'a', rtmp: 'rtmp://a:1936', http: 'http://a:8081', capacity: 24, load: { weight: 6 } }, 60_000);
    await store.upsertOrigin({ id: 'b', rtmp: 'rtmp://b:1937/', http: 'http://b:8082', capacity: 24, load: { weight: 12 } }, 60_000);
    await store.claimStream('live', 'busy', 'b', 60_000);

    const live = await placeStream(store, 'live', 'busy', {}, model);
    expect(live).toEqual({
      origin: { id: 'b', rtmp: 'rtmp://b:1937/', http: 'http://b:8082' },
      publishUrl: 'rtmp://b:1937/live/busy',
      live: true,
      explain: [{ id: 'b', utilisation: 0.5, score: 0.5, chosen: true, reason: expect.stringContaining('live here') }],
    });

    const fresh = await placeStream(store, 'live', 'new', {}, model);
    expect(fresh).toMatchObject({ origin: { id: 'a' }, publishUrl: 'rtmp://a:1936/live/new', live: false });

    await store.avoidOrigin('live', 'new', 'a', 60_000);
    const avoided = await placeStream(store, 'live', 'new', {}, model);
    expect(avoided.origin.id).toBe('b');
    expect(avoided.explain.find((e) => e.id === 'a')).toMatchObject({ excluded: 'shed-recently', chosen: false });
    // Only that stream avoids a.
    expect((await placeStream(store, 'live', 'other', {}, model)).origin.id).toBe('a');

    await store.avoidOrigin('live', 'new', 'b', 60_000);
    await expect(placeStream(store, 'live', 'new', {}, model)).rejects.toMatchObject({ code: 'NO_ORIGIN_AVAILABLE', details: { explain: expect.any(Array) } });
    await store.close();
  });

  it('no origin registered → NO_ORIGIN_AVAILABLE', async () => {
    const store = new MemoryStore();
    await expect(placeStream(store, 'live', 's', {}, model)).rejects.toMatchObject({ code: 'NO_ORIGIN_AVAILABLE', message: 'no origin is registered' });
    await store.close();
  });

  it('publishUrl joins base and path once', () => {
    expect(publishUrl('rtmp://h:1', 'live', 's')).toBe('rtmp://h:1/live/s');
    expect(publishUrl('rtmp://h:1//', 'live', 's')).toBe('rtmp://h:1/live/s');
  });
});
