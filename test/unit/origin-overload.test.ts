import { OverloadController } from '../../origin/overload/controller';
import { Ewma, type StreamLoad } from '../../origin/overload/load';
import { DEFAULT_WEIGHT_MODEL } from '../../common/weight-model';
import { silentLog } from '../helpers/origin-fakes';
import { until } from '../helpers/wait';
import { chooseVictim, DEFAULT_SHED_POLICY, Shedder } from '../../origin/overload/shedder';

const s = (name: string, ingestKbps: number, viewers: number) => ({ app: 'live', name, ingestKbps, viewers });

describe('load smoothing', () => {
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

describe('OverloadController: an idle origin does not sample', () => {
  test('pauses once no stream is left and the average decayed; the next publish asked about resumes it', async () => {
    let streams: StreamLoad[] = [s('a', 2500, 0)];
    const c = new OverloadController({ streams: () => streams, shed: async () => {} }, 48, { highWater: 0.85, lowWater: 0.7, sustainMs: 3000, cooldownMs: 10_000 }, DEFAULT_WEIGHT_MODEL, silentLog);
    c.start(10);
    try {
      await until('a sample with the stream', () => c.snapshot().weight > 0);
      expect(c.sampling).toBe(true);
      streams = [];
      await until('sampling paused', () => !c.sampling, 10_000);
      expect(c.utilisation).toBe(0);
      expect(c.snapshot().lastDecision).toMatch(/^idle/);
      expect(c.admits()).toBe(true);
      expect(c.sampling).toBe(true);
      streams = [s('b', 5000, 12)];
      await until('the new stream sampled', () => c.snapshot().weight > 0);
      expect(c.sampling).toBe(true);
    } finally {
      c.stop();
    }
    expect(c.sampling).toBe(false);
    expect(c.admits()).toBe(true); // after stop(), asking does not restart it
    expect(c.sampling).toBe(false);
  });
});
