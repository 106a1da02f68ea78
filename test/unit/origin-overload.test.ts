import { capacityOf, Ewma, streamWeight, totalWeight } from '../../origin/overload/weight';
import { chooseVictim, DEFAULT_SHED_POLICY, Shedder } from '../../origin/overload/shedder';

const s = (name: string, ingestKbps: number, viewers: number) => ({ app: 'live', name, ingestKbps, viewers });

describe('weight model (docs/design.md section 4)', () => {
  test.each([
    [0, 0, 1],
    [2500, 0, 3],
    [2500, 1, 4],
    [2500, 6, 4],
    [2500, 7, 5],
    [1000, 60, 11],
    [8000, 0, 8],
  ])('ingest %d kbps, %d viewers → weight %d', (kbps, viewers, w) => expect(streamWeight({ ingestKbps: kbps, viewers })).toBe(w));

  test.each([
    [2, 0, 24],
    [4, 0, 48],
    [2, 6, 6],
    [0, 0, 12],
  ])('%d cores, configured %d → capacity %d', (cores, configured, cap) => expect(capacityOf(cores, configured)).toBe(cap));

  test('total weight sums streams', () => expect(totalWeight([s('a', 2500, 0), s('b', 2500, 7)])).toBe(8));

  test('EWMA smooths', () => {
    const e = new Ewma(0.5);
    expect([e.update(10), e.update(0), e.update(0)]).toEqual([10, 5, 2.5]);
  });
});

describe('chooseVictim', () => {
  test.each<[string, ReturnType<typeof s>[], number, string]>([
    ['fewest viewers among those that restore headroom', [s('a', 2500, 12), s('b', 2500, 0), s('c', 2500, 30)], 16, 'b'],
    ['ties on viewers: the heavier one frees more', [s('a', 1000, 0), s('b', 3000, 0), s('c', 2000, 0)], 6, 'b'],
    ['nobody alone restores: most weight per viewer disturbed', [s('a', 5000, 0), s('b', 5000, 60)], 5, 'a'],
  ])('%s', (_t, streams, capacity, victim) => {
    expect(chooseVictim(streams, capacity, DEFAULT_SHED_POLICY)?.stream.name).toBe(victim);
  });

  test('explains the choice and every candidate', () => {
    const v = chooseVictim([s('a', 2500, 12), s('b', 2500, 0)], 8, DEFAULT_SHED_POLICY);
    expect(v?.explain).toMatch(/live\/b: moving it brings utilisation to \d+ %/);
    expect(v?.candidates.map((c) => c.stream)).toEqual(['live/a', 'live/b']);
  });

  test('no streams → null', () => expect(chooseVictim([], 10, DEFAULT_SHED_POLICY)).toBeNull());
});

describe('Shedder: hysteresis, sustain window, cooldown', () => {
  const policy = { highWater: 0.85, lowWater: 0.7, sustainMs: 3000, cooldownMs: 10_000 };
  const three = [s('a', 2500, 0), s('b', 2500, 0), s('c', 2500, 0)];

  test.each<[string, Array<[number, number]>, string[]]>([
    ['a spike shorter than the sustain window does not shed', [[0, 0.95], [1000, 0.95], [2000, 0.5], [3500, 0.95]], ['none', 'none', 'none', 'none']],
    ['sustained overload sheds once, then waits for the cooldown', [[0, 0.9], [3000, 0.9], [4000, 0.9], [13_000, 0.9]], ['none', 'shed', 'none', 'shed']],
    ['between low- and high-water it keeps shedding once started (hysteresis)', [[0, 0.9], [3000, 0.9], [13_000, 0.8], [23_000, 0.75]], ['none', 'shed', 'shed', 'shed']],
    ['at low-water it stops', [[0, 0.9], [3000, 0.9], [13_000, 0.7], [23_000, 0.8]], ['none', 'shed', 'none', 'none']],
    ['load oscillating around high-water sheds at most once per cooldown', [[0, 0.9], [3000, 0.86], [4000, 0.84], [5000, 0.86], [6000, 0.84], [9000, 0.86]], ['none', 'shed', 'none', 'none', 'none', 'none']],
  ])('%s', (_t, samples, expected) => {
    const sh = new Shedder(policy);
    expect(samples.map(([t, u]) => sh.decide(t, u, three, 9).action)).toEqual(expected);
  });

  test('never sheds the last publisher', () => {
    const sh = new Shedder(policy);
    sh.decide(0, 0.99, [s('a', 9000, 0)], 9);
    expect(sh.decide(5000, 0.99, [s('a', 9000, 0)], 9)).toEqual({ action: 'none', reason: 'never shed the last publisher' });
  });

  test('admission stops at high-water', () => {
    const sh = new Shedder(policy);
    expect([sh.admits(0.84), sh.admits(0.85), sh.admits(0.9)]).toEqual([true, false, false]);
  });
});
