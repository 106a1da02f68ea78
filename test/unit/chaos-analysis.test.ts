import {
  firstErrorLine,
  intersectWindows,
  listsEveryOwner,
  liveWindows,
  longestDualServing,
  maxArrivalGap,
  relistedAfter,
  renderTable,
  type DirectorySample,
  type OriginSample,
  type ScenarioRow,
  type Window,
} from '../../chaos/analysis';
import { SCENARIOS, selectScenarios } from '../../chaos/scenarios';

describe('maxArrivalGap', () => {
  test.each<[string, number[], number, number, number]>([
    ['steady 33 ms frames', [1000, 1033, 1066, 1100], 1000, 1100, 34],
    ['one long hole in the middle', [1000, 1030, 1900, 1930], 1000, 1930, 870],
    ['the range starts before the first arrival', [1200, 1230], 1000, 1230, 200],
    ['the viewer stopped receiving: the tail counts', [1000, 1030], 1000, 5000, 3970],
    ['nothing arrived: the whole range', [], 1000, 4000, 3000],
    ['arrivals outside the range are ignored', [0, 10, 1000, 1010, 9000], 1000, 1010, 10],
    ['an empty range', [1000], 2000, 2000, 0],
    ['duplicates (audio and video in one read)', [1000, 1000, 1000, 1040], 1000, 1040, 40],
  ])('%s', (_what, arrivals, from, to, expected) => {
    expect(maxArrivalGap(arrivals, from, to)).toBe(expected);
  });
});

const S = 'live/a';
const T = 'live/b';
const live = (at: number, ...streams: string[]): OriginSample => ({ at, streams });
const down = (at: number): OriginSample => ({ at, streams: null });

describe('liveWindows', () => {
  test.each<[string, OriginSample[], number, Window[]]>([
    ['live throughout: one window to the end', [live(0, S), live(200, S), live(400, S)], 600, [{ start: 0, end: 600 }]],
    ['a state holds until the next sample', [live(0), live(200, S), live(400)], 600, [{ start: 200, end: 400 }]],
    ['an unanswered poll is not live', [live(0, S), down(200), live(400, S)], 600, [{ start: 0, end: 200 }, { start: 400, end: 600 }]],
    ['other streams do not count', [live(0, T), live(200, T, S)], 300, [{ start: 200, end: 300 }]],
    ['unsorted samples are sorted first', [live(400, S), live(0, S), live(200)], 500, [{ start: 0, end: 200 }, { start: 400, end: 500 }]],
    ['nothing sampled', [], 500, []],
    ['samples after the end are cut off', [live(0, S), live(900, S)], 500, [{ start: 0, end: 500 }]],
  ])('%s', (_what, samples, end, expected) => {
    expect(liveWindows(samples, S, end)).toEqual(expected);
  });
});

describe('intersectWindows', () => {
  const w = (start: number, end: number): Window => ({ start, end });
  test.each<[string, Window[], Window[], Window[]]>([
    ['disjoint', [w(0, 100)], [w(100, 200)], []],
    ['nested', [w(0, 1000)], [w(200, 300)], [w(200, 300)]],
    ['partial overlaps on both sides', [w(0, 100), w(300, 400)], [w(50, 350)], [w(50, 100), w(300, 350)]],
    ['touching pieces merge', [w(0, 100), w(100, 200)], [w(0, 200)], [w(0, 200)]],
    ['one side empty', [], [w(0, 10)], []],
  ])('%s', (_what, a, b, expected) => {
    expect(intersectWindows(a, b)).toEqual(expected);
    expect(intersectWindows(b, a)).toEqual(expected);
  });
});

describe('longestDualServing', () => {
  test.each<[string, Record<string, OriginSample[]>, { ms: number; stream?: string; origins?: [string, string] }]>([
    ['a clean move (old owner gone before the new one lists it)', { 'origin-1': [live(0, S), down(200), down(400)], 'origin-2': [live(0), live(200), live(400, S)] }, { ms: 0 }],
    [
      'both list the stream for 400 ms',
      { 'origin-1': [live(0, S), live(200, S), live(400, S), live(600)], 'origin-2': [live(0), live(200, S), live(400, S), live(600, S)] },
      { ms: 400, stream: S, origins: ['origin-1', 'origin-2'] },
    ],
    [
      'two short overlaps: the longest one counts',
      { 'origin-1': [live(0, T), live(100, T), live(200), live(300, T), live(500)], 'origin-2': [live(0, T), live(100, T), live(200, T), live(300, T), live(500, T)] },
      { ms: 200, stream: T, origins: ['origin-1', 'origin-2'] },
    ],
    ['each origin its own stream', { 'origin-1': [live(0, S), live(500, S)], 'origin-2': [live(0, T), live(500, T)] }, { ms: 0 }],
  ])('%s', (_what, origins, expected) => {
    expect(longestDualServing(origins, [S, T], 600)).toEqual(expected);
  });
});

describe('relistedAfter', () => {
  const origins = {
    'origin-1': [live(0, S, T), live(1000, S, T), down(2000), down(3000), down(4000)],
    'origin-2': [live(0), live(1000), live(2000), live(3000, S, T), live(4000, S, T)],
  };
  const dir = (at: number, owners: Record<string, string> | null): DirectorySample => ({ at, owners });
  const on1 = { [S]: 'origin-1', [T]: 'origin-1' };
  const on2 = { [S]: 'origin-2', [T]: 'origin-2' };

  test('an answer is right when the listed owner has the stream live', () => {
    expect(listsEveryOwner(dir(500, on1), origins, [S, T])).toBe(true);
    expect(listsEveryOwner(dir(2500, on1), origins, [S, T])).toBe(false); // owner not answering
    expect(listsEveryOwner(dir(3500, { [S]: 'origin-2' }), origins, [S, T])).toBe(false); // one missing
    expect(listsEveryOwner(dir(3500, null), origins, [S, T])).toBe(false);
  });

  test.each<[string, DirectorySample[], number, number | null]>([
    ['never wrong: 0', [dir(500, on1), dir(1500, on1)], 1200, 0],
    ['wrong after the owner died, right once the stream moved', [dir(500, on1), dir(2500, on1), dir(3200, on2), dir(4500, on2)], 2000, 1200],
    ['down until the heal, then right at the first answer', [dir(500, on1), dir(1500, null), dir(1800, on1)], 1700, 100],
    ['still wrong at the end: null', [dir(500, on1), dir(2500, on1), dir(3500, null)], 2000, null],
    ['flaps: the last recovery counts', [dir(2100, on1), dir(3100, on2), dir(3300, null), dir(3600, on2), dir(4200, on2)], 2000, 1600],
    ['no answer after the heal at all: null', [dir(500, on1)], 2000, null],
  ])('%s', (_what, directory, healAt, expected) => {
    expect(relistedAfter(directory, origins, [S, T], healAt)).toBe(expected);
  });
});

describe('renderTable', () => {
  const row = (over: Partial<ScenarioRow>): ScenarioRow => ({
    scenario: 'owner-sigkill',
    status: 'measured',
    publishersLost: 1,
    publishers: 2,
    viewersDisconnected: 0,
    viewers: 2,
    maxViewerGapMs: 812.4,
    relistedMs: 1530,
    observedMs: 9000,
    dualServingMs: 0,
    notes: [],
    ...over,
  });

  test('a header, an alignment row and one row per scenario', () => {
    const lines = renderTable([
      row({}),
      row({ scenario: 'redis-sigstop-10s', relistedMs: null, observedMs: 20_000, maxViewerGapMs: 12_345, notes: ['origin-1: lease lost ×1', 'a|b'] }),
      row({ scenario: 'sentinel-failover', status: 'skipped', notes: ['discovery rejects redis-sentinel:// URLs'] }),
    ]).split('\n');
    expect(lines).toEqual([
      '| scenario | publishers lost | viewers disconnected | max viewer gap | relisted after heal | dual-serving window | notes |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      '| owner-sigkill | 1/2 | 0/2 | 812 ms | 1530 ms | 0 ms |  |',
      '| redis-sigstop-10s | 1/2 | 0/2 | 12.3 s | not within 20.0 s | 0 ms | origin-1: lease lost ×1; a\\|b |',
      '| sentinel-failover | — | — | — | — | — | skipped: discovery rejects redis-sentinel:// URLs |',
    ]);
  });
});

describe('firstErrorLine', () => {
  test.each<[string, string, string]>([
    [
      'a config problem wins over the stack',
      'dist/common/config.js:69\n        throw new ConfigError(`invalid`);\n\nConfigError: invalid configuration:\n  /redisUrl: Expected string to match \'^rediss?://\' (got "redis-sentinel://h:1/x")\n    at loadConfig (x.js:1:1)\n',
      '/redisUrl: Expected string to match \'^rediss?://\' (got "redis-sentinel://h:1/x")',
    ],
    ['else the error line', 'boom\nError: listen EADDRINUSE: address already in use 127.0.0.1:8090\n    at x', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:8090'],
    ['else the last line', 'starting\nsomething odd\n', 'something odd'],
    ['no output at all', '', '(no output)'],
  ])('%s', (_what, output, expected) => {
    expect(firstErrorLine(output)).toBe(expected);
  });
});

describe('the scenario list', () => {
  test('names are unique, every brief fault is there, and --only keeps suite order', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([
      'owner-sigkill',
      'edge-sigkill',
      'discovery-sigkill-memory',
      'discovery-sigkill-redis',
      'redis-restart-empty',
      'redis-flushall',
      'redis-sigstop-10s',
      'discovery-sigstop-10s',
      'origin-stall-3s',
      'sentinel-failover',
    ]);
    expect(selectScenarios(['redis-flushall', 'owner-sigkill']).map((s) => s.name)).toEqual(['owner-sigkill', 'redis-flushall']);
    expect(selectScenarios(undefined)).toHaveLength(SCENARIOS.length);
  });

  test('an unknown name is refused with the known ones', () => {
    expect(() => selectScenarios(['owner-sigkill', 'nope'])).toThrow(/unknown scenario\(s\) nope; known: owner-sigkill, /);
  });
});
