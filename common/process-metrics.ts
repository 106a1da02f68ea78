import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import gc from 'prom-client/lib/metrics/gc';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal';
import processHandles from 'prom-client/lib/metrics/processHandles';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors';
import processRequests from 'prom-client/lib/metrics/processRequests';
import processResources from 'prom-client/lib/metrics/processResources';
import processStartTime from 'prom-client/lib/metrics/processStartTime';
import version from 'prom-client/lib/metrics/version';

/**
 * prom-client's default metrics (`collectDefaultMetrics`), all read at scrape time, except
 * `eventLoopLag`: that one keeps a `monitorEventLoopDelay` histogram enabled from start, whose 10 ms
 * timer wakes the process 100 times a second forever (≈ 0.5–0.8 % of a core per idle process, most
 * of an idle cluster's cost; bench `idle`). `ScrapedLoopDelay` replaces it with the same metric
 * names, help texts and aggregators.
 */
export const DEFAULT_METRICS_BUT_LOOP_DELAY = {
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
  gc,
};

/** Same resolution as prom-client's default (`eventLoopMonitoringPrecision: 10`). */
const RESOLUTION_MS = 10;
/** The histogram stops when nobody scraped for this long (or 4 scrape intervals, if longer). */
export const LOOP_DELAY_IDLE_AFTER_MS = 60_000;

/**
 * The event-loop delay histogram, sampled only while someone scrapes: off until the first scrape,
 * then on (10 ms resolution, as before) until no scrape came for max(60 s, 4 × the last interval
 * between scrapes). Prometheus scraping every 15 s sees the same figures as with prom-client's
 * always-on histogram, except that the first scrape after start (or after a pause) reports an empty
 * histogram; a process nobody scrapes never wakes for it.
 */
export class ScrapedLoopDelay {
  private histogram: IntervalHistogram | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastScrape: number | null = null;

  constructor(
    private readonly idleAfterMs = LOOP_DELAY_IDLE_AFTER_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the histogram is sampling now. */
  get sampling(): boolean {
    return this.histogram !== null;
  }

  /**
   * At a scrape: the figures since the previous scrape (nanoseconds; all NaN when it was not
   * sampling), reset, and sampling (re)started.
   */
  scrape(): { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number } {
    const h = this.histogram;
    const figures = h && h.count > 0
      ? { min: h.min, max: h.max, mean: h.mean, stddev: h.stddev, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99) }
      : { min: NaN, max: NaN, mean: NaN, stddev: NaN, p50: NaN, p90: NaN, p99: NaN };
    if (h) h.reset();
    else {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.histogram.enable();
    }
    const now = this.now();
    const gap = this.lastScrape === null ? 0 : now - this.lastScrape;
    this.lastScrape = now;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.pause(), Math.max(this.idleAfterMs, 4 * gap));
    this.idleTimer.unref();
    return figures;
  }

  /** Stops sampling (nobody scrapes); the next scrape starts it again. */
  pause(): void {
    this.histogram?.disable();
    this.histogram = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

/**
 * Node's process metrics on `registry` under `prefix` — the names and help texts of prom-client's
 * `collectDefaultMetrics`, with the event-loop delay histogram sampled only while scraped
 * (`ScrapedLoopDelay`). Returns the histogram's owner (stop it with `pause()` at shutdown).
 */
export function collectProcessMetrics(registry: Registry, prefix = ''): ScrapedLoopDelay {
  for (const register of Object.values(DEFAULT_METRICS_BUT_LOOP_DELAY)) register(registry, { prefix });
  const loop = new ScrapedLoopDelay();
  const registers = [registry];
  const gauge = (name: string, help: string, aggregator: 'min' | 'max' | 'average'): Gauge =>
    new Gauge({ name: `${prefix}nodejs_eventloop_lag_${name}`, help, registers, aggregator });
  // Registered before its companions, like prom-client's: its collect() sets them all, and the
  // registry collects in registration order.
  new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers,
    aggregator: 'average',
    async collect() {
      const f = loop.scrape();
      min.set(f.min / 1e9);
      max.set(f.max / 1e9);
      mean.set(f.mean / 1e9);
      stddev.set(f.stddev / 1e9);
      p50.set(f.p50 / 1e9);
      p90.set(f.p90 / 1e9);
      p99.set(f.p99 / 1e9);
      // As prom-client: the time to the next turn of the loop, measured now.
      const start = process.hrtime.bigint();
      await new Promise<void>((r) => setImmediate(r));
      this.set(Number(process.hrtime.bigint() - start) / 1e9);
    },
  });
  const min = gauge('min_seconds', 'The minimum recorded event loop delay.', 'min');
  const max = gauge('max_seconds', 'The maximum recorded event loop delay.', 'max');
  const mean = gauge('mean_seconds', 'The mean of the recorded event loop delays.', 'average');
  const stddev = gauge('stddev_seconds', 'The standard deviation of the recorded event loop delays.', 'average');
  const p50 = gauge('p50_seconds', 'The 50th percentile of the recorded event loop delays.', 'average');
  const p90 = gauge('p90_seconds', 'The 90th percentile of the recorded event loop delays.', 'average');
  const p99 = gauge('p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'average');
  return loop;
}
