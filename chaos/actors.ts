/**
 * What acts on the cluster while a fault happens: encoders that re-push when they are cut (as an
 * operator's encoder or the placement API would), viewers that play through the edge and reconnect
 * when they are dropped, and the samplers that poll discovery and the origins' node APIs.
 */
import { ffmpegPublishArgs } from '../test/helpers/media';
import { startCommand, type TestProcess } from '../test/helpers/processes';
import { flvViewer, rtmpViewer, type ViewerRecord } from '../test/helpers/viewers';
import type { DirectorySample, OriginSample } from './analysis';
import type { ProcessRegistry } from './registry';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where a re-push goes: an RTMP base URL (rtmp://h:p), or undefined while no origin can take it. */
export type PushTarget = () => Promise<string | undefined> | string | undefined;

export interface PublisherCut {
  at: number;
  /** The RTMP base it was publishing to. */
  target: string;
  /** How long that ffmpeg had been running. */
  ranMs: number;
  code: number | null;
  /** ffmpeg's last words (loglevel error). */
  output: string;
}

/**
 * One encoder (the 320x180 test pattern of the brief) publishing `live/NAME`. When its ffmpeg exits,
 * the cut is recorded and a new ffmpeg re-pushes to `pick()` after `backoffMs`.
 */
export class ChaosPublisher {
  readonly cuts: PublisherCut[] = [];
  readonly pushes: Array<{ at: number; target: string }> = [];
  current?: TestProcess;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly pick: PushTarget,
    private readonly registry?: ProcessRegistry,
    private readonly backoffMs = 300,
  ) {}

  get url(): string | undefined {
    const last = this.pushes[this.pushes.length - 1];
    return last ? `${last.target}/live/${this.name}` : undefined;
  }

  start(first: string): void {
    this.loop = this.run(first);
  }

  private async run(first: string): Promise<void> {
    let target: string | undefined = first;
    while (!this.stopped) {
      if (target === undefined) {
        await sleep(this.backoffMs);
        target = await this.pick();
        continue;
      }
      const startedAt = Date.now();
      this.pushes.push({ at: startedAt, target });
      const proc = startCommand('ffmpeg', ffmpegPublishArgs(`${target}/live/${this.name}`, { size: '320x180' }), `ffmpeg-${this.name}`);
      this.registry?.track(proc);
      this.current = proc;
      const code = await proc.waitExit();
      if (this.stopped) return;
      this.cuts.push({ at: Date.now(), target, ranMs: Date.now() - startedAt, code, output: proc.text.trim().split('\n').slice(-2).join(' ') });
      await sleep(this.backoffMs);
      target = this.stopped ? undefined : await this.pick();
    }
  }

  /** Whether ffmpeg is running and has been for at least `forMs`. */
  steady(forMs: number): boolean {
    const last = this.pushes[this.pushes.length - 1];
    return !!this.current?.running && !!last && Date.now() - last.at >= forMs;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.stop('SIGKILL');
    await this.loop;
  }
}

/**
 * A viewer through the edge — our RTMP client (following 302s) or the HTTP-FLV reader of
 * test/helpers/viewers.ts — that reconnects after `backoffMs` whenever it is dropped, as a player
 * with retry does. Media arrival times are kept across reconnects.
 */
export class ChaosViewer {
  readonly records: ViewerRecord[] = [];
  readonly closes: number[] = [];
  readonly failedAttempts: Array<{ at: number; error: string }> = [];
  private stopped = false;
  private loop?: Promise<void>;
  private current?: ViewerRecord;

  constructor(readonly kind: 'rtmp' | 'flv', readonly url: string, private readonly backoffMs = 300) {}

  /** Starts playing; resolves once the first connection delivers media (throws if it cannot within `timeoutMs`). */
  async start(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let first: ViewerRecord | undefined;
    while (!first) {
      try {
        first = await this.open();
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${this.kind} viewer ${this.url} could not start: ${String(err)}`);
        await sleep(this.backoffMs);
      }
    }
    this.loop = this.run(first);
  }

  private async open(): Promise<ViewerRecord> {
    const rec = this.kind === 'rtmp' ? await rtmpViewer(this.url) : await flvViewer(this.url);
    this.records.push(rec);
    this.current = rec;
    if (this.stopped) rec.stop();
    return rec;
  }

  private async run(rec: ViewerRecord): Promise<void> {
    for (;;) {
      while (!rec.closed && !this.stopped) await sleep(50);
      if (this.stopped) return;
      this.closes.push(Date.now());
      for (;;) {
        await sleep(this.backoffMs);
        if (this.stopped) return;
        try {
          rec = await this.open();
          break;
        } catch (err) {
          this.failedAttempts.push({ at: Date.now(), error: String(err) });
        }
      }
    }
  }

  /** Arrival times (ms epoch) of every audio and video message, over all connections. */
  arrivals(): number[] {
    return this.records.flatMap((r) => r.frames.map((f) => f.at)).sort((a, b) => a - b);
  }

  lastArrival(): number {
    let last = 0;
    for (const r of this.records) if (r.frames.length > 0) last = Math.max(last, r.frames[r.frames.length - 1].at);
    return last;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.records) r.stop();
    this.current?.stop();
    // A connect in flight ends with the edge process at the latest; do not wait on it for ever.
    await Promise.race([this.loop, sleep(2000)]);
  }
}

/** Polls `fn` every `everyMs` (from the start of one poll to the next) until stopped. */
class Poller {
  private stopped = false;
  private loop: Promise<void>;

  constructor(fn: () => Promise<void>, everyMs: number) {
    this.loop = (async () => {
      while (!this.stopped) {
        const t = Date.now();
        await fn();
        await sleep(Math.max(0, everyMs - (Date.now() - t)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.json() };
}

/**
 * Polls discovery's `GET /v1/streams` (owners; a stale or failed answer is null) and each origin's
 * node API `GET /api/v1/streams` (live streams; no answer is null). A sample's time is when its
 * answer (or failure) came.
 */
export class Sampler {
  readonly directory: DirectorySample[] = [];
  readonly origins: Record<string, OriginSample[]> = {};
  private readonly pollers: Poller[] = [];

  constructor(discoveryUrl: string, origins: ReadonlyArray<{ name: string; http: string }>, everyMs = 200, timeoutMs = 1000) {
    this.pollers.push(
      new Poller(async () => {
        let owners: Record<string, string> | null = null;
        try {
          const { status, body } = await getJson(`${discoveryUrl}/v1/streams?limit=1000`, timeoutMs);
          const page = body as { streams?: Array<{ app: string; name: string; origin: { id: string } }>; stale?: boolean };
          if (status === 200 && !page.stale && page.streams) owners = Object.fromEntries(page.streams.map((s) => [`${s.app}/${s.name}`, s.origin.id]));
        } catch {
          // no answer in time: null
        }
        this.directory.push({ at: Date.now(), owners });
      }, everyMs),
    );
    for (const o of origins) {
      const samples: OriginSample[] = (this.origins[o.name] = []);
      this.pollers.push(
        new Poller(async () => {
          let streams: string[] | null = null;
          try {
            const { status, body } = await getJson(`${o.http}/api/v1/streams?count=1000`, timeoutMs);
            const list = (body as { streams?: Array<{ app: string; name: string }> }).streams;
            if (status === 200 && list) streams = list.map((s) => `${s.app}/${s.name}`);
          } catch {
            // dead or frozen: null
          }
          samples.push({ at: Date.now(), streams });
        }, everyMs),
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
  }
}
