import { Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_METRICS_BUT_LOOP_DELAY, ScrapedLoopDelay, collectProcessMetrics } from '../../../common/process-metrics';

/** `# HELP` and `# TYPE` lines of a Prometheus exposition, sorted (names, help texts and types). */
function header(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('# HELP') || l.startsWith('# TYPE'))
    .sort();
}

describe('process metrics', () => {
  it('registers every default metric of this prom-client but the event-loop delay histogram', () => {
    expect([...Object.keys(DEFAULT_METRICS_BUT_LOOP_DELAY), 'eventLoopLag'].sort()).toEqual([...collectDefaultMetrics.metricsList].sort());
  });

  it.each([[''], ['cascade_discovery_']])('exposes the names, help texts and types of collectDefaultMetrics (prefix %p)', async (prefix) => {
    const ours = new Registry();
    const loop = collectProcessMetrics(ours, prefix);
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs, prefix });
    try {
      expect(header(await ours.metrics())).toEqual(header(await theirs.metrics()));
    } finally {
      loop.pause();
    }
  });

  it('reports the event-loop delay from the second scrape on, and a lag measured at the scrape', async () => {
    const reg = new Registry();
    const loop = collectProcessMetrics(reg);
    try {
      expect(loop.sampling).toBe(false);
      await reg.metrics();
      expect(loop.sampling).toBe(true);
      // Let the 10 ms histogram take samples, then block the loop once.
      await new Promise((r) => setTimeout(r, 60));
      const until = Date.now() + 30;
      while (Date.now() < until) {
        /* busy */
      }
      await new Promise((r) => setTimeout(r, 30));
      const text = await reg.metrics();
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.02);
      expect(value('nodejs_eventloop_lag_p50_seconds')).toBeGreaterThan(0);
      expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThan(0);
    } finally {
      loop.pause();
    }
  });
});

describe('ScrapedLoopDelay', () => {
  afterEach(() => jest.useRealTimers());

  it('is off until scraped, reports NaN for an unsampled interval, and stops when scrapes stop', () => {
    jest.useFakeTimers({ doNotFake: ['hrtime', 'nextTick', 'setImmediate'] });
    let now = 1_000_000;
    const loop = new ScrapedLoopDelay(60_000, () => now);
    expect(loop.sampling).toBe(false);
    const first = loop.scrape();
    expect(Object.values(first).every(Number.isNaN)).toBe(true);
    expect(loop.sampling).toBe(true);
    // Scrapes every 15 s keep it on.
    for (let i = 0; i < 8; i++) {
      now += 15_000;
      jest.advanceTimersByTime(15_000);
      loop.scrape();
      expect(loop.sampling).toBe(true);
    }
    // No scrape for 60 s: off.
    jest.advanceTimersByTime(59_999);
    expect(loop.sampling).toBe(true);
    jest.advanceTimersByTime(1);
    expect(loop.sampling).toBe(false);
    // The next scrape starts it again.
    now += 120_000;
    expect(Object.values(loop.scrape()).every(Number.isNaN)).toBe(true);
    expect(loop.sampling).toBe(true);
    loop.pause();
  });

  it('waits 4 scrape intervals when scrapes are further apart than the idle time', () => {
    jest.useFakeTimers({ doNotFake: ['hrtime', 'nextTick', 'setImmediate'] });
    let now = 0;
    const loop = new ScrapedLoopDelay(60_000, () => now);
    loop.scrape();
    now += 50_000;
    jest.advanceTimersByTime(50_000);
    loop.scrape(); // interval 50 s: stays on for 200 s
    jest.advanceTimersByTime(199_999);
    expect(loop.sampling).toBe(true);
    jest.advanceTimersByTime(1);
    expect(loop.sampling).toBe(false);
  });
});
