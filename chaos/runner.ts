/**
 * Runs one chaos scenario end to end: cluster up, two encoders (stream A on origin-1, B on
 * origin-2), two viewers through the edge (RTMP for A, HTTP-FLV for B), samplers, the fault and its
 * heal, observation until the cluster has settled (or a bound), then the numbers — and every process
 * gone, also when something failed on the way.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { waitFor } from '../test/helpers/processes';
import { ChaosPublisher, ChaosViewer, Sampler } from './actors';
import { firstErrorLine, listsEveryOwner, longestDualServing, maxArrivalGap, relistedAfter, type ScenarioRow } from './analysis';
import { ChaosCluster, DiscoveryStartError, type ClusterTiming, type Member } from './cluster';
import type { FaultContext, ScenarioSpec } from './scenarios';

export interface RunOptions {
  timing?: ClusterTiming;
  /** Longest observation after the heal (default 20 s). */
  observeMs?: number;
  /** The cluster counts as settled after it has looked healthy this long without a break (default 3 s). */
  settleMs?: number;
  /** The whole scenario, start to cleanup, is abandoned after this long (default 150 s). */
  hardTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface ScenarioResult extends ScenarioRow {
  title: string;
  store: string;
  startedAt: string;
  durationMs: number;
  /** ms epoch of the fault, the heal and the end of observation (absent when the run did not get there). */
  faultAt?: number;
  healedAt?: number;
  endAt?: number;
  details: Record<string, unknown>;
  /** Output of every process of the cluster (a restarted member's runs one after the other), by member name. */
  logs?: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(500) })).ok;
  } catch {
    return false;
  }
}

/** Log messages worth a note in the table, counted per member (substring of pino `msg`). */
const NOTABLE_LOGS: ReadonlyArray<[RegExp, string]> = [
  [/lease lost/, 'lease lost'],
  [/publish refused/, 'publish refused'],
];

export async function runScenario(spec: ScenarioSpec, opts: RunOptions = {}): Promise<ScenarioResult> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const hex = randomBytes(3).toString('hex');
  const streams = { a: `live/ca${hex}`, b: `live/cb${hex}` };
  const cluster = new ChaosCluster(spec.store, opts.timing);
  const publishers: ChaosPublisher[] = [];
  const viewers: ChaosViewer[] = [];
  let sampler: Sampler | undefined;
  const killedForGood = new Set<Member>();
  const times: { faultAt?: number; healedAt?: number; endAt?: number; observeFrom?: number } = {};
  const result = (row: Partial<ScenarioResult>): ScenarioResult => ({
    scenario: spec.name,
    title: spec.title,
    store: spec.store,
    status: 'measured',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    publishersLost: 0,
    publishers: 2,
    viewersDisconnected: 0,
    viewers: 2,
    maxViewerGapMs: null,
    relistedMs: null,
    observedMs: 0,
    dualServingMs: 0,
    notes: [],
    details: {},
    ...times,
    ...row,
  });

  const body = async (): Promise<ScenarioResult> => {
    log(`${spec.name}: starting ${spec.store} cluster`);
    await cluster.boot();
    const [o1, o2] = cluster.origins;
    const edge = cluster.edge;
    // The encoder's re-push: back to its origin while that one is healthy, else to any healthy origin.
    const pickFor = (preferred: Member) => async () => {
      for (const m of [preferred, ...cluster.origins.filter((o) => o !== preferred)]) {
        if (cluster.running(m) && (await healthy(m.health))) return m.rtmp;
      }
      return undefined;
    };
    const pubA = new ChaosPublisher(streams.a.slice(5), pickFor(o1), cluster.registry);
    const pubB = new ChaosPublisher(streams.b.slice(5), pickFor(o2), cluster.registry);
    publishers.push(pubA, pubB);
    pubA.start(o1.rtmp ?? '');
    pubB.start(o2.rtmp ?? '');
    const ownersOnce = async (): Promise<Record<string, string>> => {
      const res = await fetch(`${cluster.discoveryUrl}/v1/streams?limit=1000`, { signal: AbortSignal.timeout(1000) });
      const page = (await res.json()) as { streams?: Array<{ app: string; name: string; origin: { id: string } }> };
      return Object.fromEntries((page.streams ?? []).map((s) => [`${s.app}/${s.name}`, s.origin.id]));
    };
    await waitFor(
      async () => {
        const owners = await ownersOnce().catch(() => ({}) as Record<string, string>);
        return owners[streams.a] === o1.name && owners[streams.b] === o2.name;
      },
      30_000,
      'discovery to list stream A on origin-1 and B on origin-2',
      200,
    );
    log(`${spec.name}: streams live, starting viewers`);
    viewers.push(new ChaosViewer('rtmp', `${edge.rtmp}/${streams.a}`), new ChaosViewer('flv', `${edge.http}/${streams.b}.flv`));
    await Promise.all(viewers.map((v) => v.start(20_000)));
    sampler = new Sampler(cluster.discoveryUrl, cluster.origins.map((o) => ({ name: o.name, http: o.http })));
    const s = sampler;
    const names = [streams.a, streams.b];
    const directoryOk = (): boolean => {
      const last = s.directory[s.directory.length - 1];
      return !!last && listsEveryOwner(last, s.origins, names);
    };
    // Baseline: a few polls of everything and media flowing at both viewers.
    await waitFor(
      () => s.directory.length >= 5 && Object.values(s.origins).every((o) => o.length >= 5) && directoryOk() && viewers.every((v) => Date.now() - v.lastArrival() < 500),
      20_000,
      'a healthy baseline (polls answered, discovery right, media at the viewers)',
    );
    times.observeFrom = s.directory[0].at;

    const ctx: FaultContext = {
      cluster,
      ownerA: o1,
      ownerB: o2,
      signal: async (m, sig) => {
        if (sig === 'SIGKILL' || sig === 'SIGTERM') killedForGood.add(m);
        await cluster.kill(m, sig);
      },
      restart: async (m) => {
        killedForGood.delete(m);
        await cluster.start(m);
      },
    };
    log(`${spec.name}: fault`);
    times.faultAt = Date.now();
    const loadAtFault = os.loadavg()[0];
    await spec.fault(ctx);
    const healedAt = (times.healedAt = Date.now());
    log(`${spec.name}: healed after ${healedAt - times.faultAt} ms, observing`);

    // Observe until everything has looked right for settleMs in a row, or the bound.
    const settleMs = opts.settleMs ?? 3000;
    const observeMs = opts.observeMs ?? 20_000;
    let settledSince: number | undefined;
    while (Date.now() - healedAt < observeMs) {
      const ok = directoryOk() && viewers.every((v) => Date.now() - v.lastArrival() < 1000) && publishers.every((p) => p.steady(1000));
      settledSince = ok ? (settledSince ?? Date.now()) : undefined;
      if (settledSince !== undefined && Date.now() - settledSince >= settleMs) break;
      await sleep(200);
    }
    const endAt = (times.endAt = Date.now());
    await s.stop();

    const faultAt = times.faultAt;
    const gaps = viewers.map((v) => ({
      kind: v.kind,
      url: v.url,
      maxGapMs: maxArrivalGap(v.arrivals(), faultAt, endAt),
      baselineMaxGapMs: maxArrivalGap(v.arrivals(), times.observeFrom ?? faultAt, faultAt),
      closesAfterFault: v.closes.filter((t) => t >= faultAt).map((t) => t - faultAt),
      failedReconnects: v.failedAttempts.filter((a) => a.at >= faultAt).length,
    }));
    const cuts = publishers.map((p) => ({ stream: `live/${p.name}`, cuts: p.cuts.filter((c) => c.at >= faultAt).map((c) => ({ ...c, at: c.at - faultAt })) }));
    const dual = longestDualServing(s.origins, names, endAt);
    const notes: string[] = [];
    const logCounts: Record<string, Record<string, number>> = {};
    for (const m of cluster.members()) {
      for (const [re, label] of NOTABLE_LOGS) {
        const n = cluster.logMatches(m, re);
        if (n > 0) {
          (logCounts[m.name] ??= {})[label] = n;
          notes.push(`${m.name}: ${label} ×${n}`);
        }
      }
      if (!cluster.running(m) && !killedForGood.has(m)) notes.push(`${m.name} NOT RUNNING (exit ${m.proc?.proc.exitCode ?? m.proc?.proc.signalCode})`);
    }
    const relistedMs = relistedAfter(s.directory, s.origins, names, healedAt);
    if (settledSince === undefined) notes.push(`not settled within ${Math.round(observeMs / 1000)} s of the heal`);
    if (dual.ms > 0) notes.push(`dual-serving: ${dual.stream} on ${dual.origins?.join(' + ')}`);
    const edgeStreams = await fetch(`${edge.http}/api/v1/streams`, { signal: AbortSignal.timeout(1000) })
      .then(async (r) =>
        ((await r.json()) as { streams?: Array<Record<string, unknown>> }).streams?.map((x) => ({
          name: x.name,
          state: x.state,
          upstream: x.upstream,
          reconnects: x.reconnects,
          pulls: x.pulls,
          viewers: x.viewers,
        })),
      )
      .catch(() => undefined);
    return result({
      publishersLost: cuts.filter((c) => c.cuts.length > 0).length,
      viewersDisconnected: gaps.filter((g) => g.closesAfterFault.length > 0).length,
      maxViewerGapMs: Math.max(...gaps.map((g) => g.maxGapMs)),
      relistedMs,
      observedMs: endAt - healedAt,
      dualServingMs: dual.ms,
      notes,
      details: {
        streams: names,
        healMs: healedAt - faultAt,
        /** 1-minute load average when the fault was injected (the box may be shared). */
        loadAtFault,
        settled: settledSince !== undefined,
        viewers: gaps,
        publishers: cuts,
        pushes: publishers.map((p) => ({ stream: `live/${p.name}`, targets: p.pushes.map((x) => ({ at: x.at - faultAt, target: x.target })) })),
        dualServing: dual,
        logCounts,
        samples: { directory: s.directory.length, origins: Object.fromEntries(Object.entries(s.origins).map(([k, v]) => [k, v.length])) },
        edgeStreams,
      },
    });
  };

  let timer: NodeJS.Timeout | undefined;
  let outcome: ScenarioResult;
  try {
    const hardTimeoutMs = opts.hardTimeoutMs ?? 150_000;
    outcome = await Promise.race([
      body(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`scenario did not finish within ${hardTimeoutMs / 1000} s`)), hardTimeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof DiscoveryStartError && spec.store === 'sentinel' && /redisUrl|redis-url|sentinel/i.test(err.output)) {
      outcome = result({ status: 'skipped', notes: [`discovery does not start with --redis-url ${cluster.sentinel?.url ?? 'redis-sentinel://…'} yet (${err.message}); it runs once Sentinel URLs land`] });
    } else {
      const message = err instanceof Error ? err.message : String(err);
      const [first, ...rest] = message.split('\n');
      const why = rest.length > 0 ? ` ${firstErrorLine(rest.join('\n'))}` : '';
      outcome = result({ status: 'error', notes: [`${first}${why}`], details: { error: String(err instanceof Error ? err.stack : err) } });
    }
  } finally {
    clearTimeout(timer);
    await sampler?.stop();
    await Promise.all(viewers.map((v) => v.stop()));
    await Promise.all(publishers.map((p) => p.stop()));
    await cluster.stop();
    await cluster.registry.close();
    log(`${spec.name}: cleaned up after ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return { ...outcome, logs: cluster.outputs() };
}
