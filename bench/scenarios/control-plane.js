'use strict';
/**
 * Control plane: what the leases v2 heartbeat costs discovery and Redis, up to 50 origins × 2,000 streams.
 *
 * A private redis-server (free port, no persistence, its own temp dir) and a real discovery process
 * on it (`cascade discovery --store redis`, product defaults: origin and lease TTL 6 s, Redis command
 * timeout 500 ms, 5 s for heartbeats). Phases, in this order so that no phase runs while another
 * phase's leases expire:
 *
 *   0. idle: discovery and redis-server with no fleet (discovery still sweeps every 500 ms; the lookup
 *      probe runs), so per-request CPU can be given above idle ("marginal");
 *   1. baseline: the fleet of the largest size and its schedule (N simulated origins, one request each
 *      every 2 s, staggered) sending `GET /healthz` — a trivial request with one Redis round trip (PING);
 *   2. old vs new, one origin × S streams: the old origin's heartbeat (`PUT /v1/origins/:id`, then one
 *      `POST /v1/streams/:app/:name/renew` per lease, sequential) against one leases v2 heartbeat
 *      listing as many leases, rounds alternating; both origins deregister afterwards;
 *   3. per fleet size (default 10 then 50 origins; --quick: 10): N origins × S leases, one
 *      `POST /v1/origins/:id/heartbeat` each every 2 s, the origins joining over 10 s. The first heartbeat
 *      of each lists tokens discovery does not hold (as after a state loss), so it re-claims all its
 *      leases; later ones renew with the returned tokens. Once every origin has had all its leases
 *      renewed (steady state), a window of whole rounds is measured; then discovery loses its state
 *      (FLUSHALL of the private Redis) and the re-claim storm is followed until every origin has had
 *      all its leases renewed again. A size that never reaches steady state is measured anyway and
 *      flagged; its state loss is skipped.
 *
 * Meanwhile a lookup probe (what edges do) sends `GET /v1/streams/live/:name` 10 times a second: a
 * lookup is one Redis script call on discovery's ordinary connection, so it waits while Redis runs a
 * heartbeat script. Windows report client-side latency, errors and timeouts, lease statuses, discovery and
 * redis-server CPU (/proc) and RSS, Redis INFO cpu and commandstats (EVALSHA: one heartbeat is one
 * script call), the server-side mean from discovery's request-duration histogram, and the client's
 * event-loop delay (the simulated origins run in the bench process).
 */
const os = require('node:os');
const { performance } = require('node:perf_hooks');
const { startCascadeProcess, startRedis, redisServerVersion } = require('../lib/systems');
const { HeartbeatFleet, SimOrigin, LegacyOrigin, LookupProbe } = require('../lib/control-plane');
const { redisCall, redisStats, redisDelta } = require('../lib/redis');
const { readSchedCpuS } = require('../lib/procstat');
const { freePort, log, round, sleep } = require('../lib/util');
const { ratio } = require('../lib/stats');

const INTERVAL_MS = 2000; // the product's origin heartbeat (origin/config.ts heartbeatMs)
const HEARTBEAT_ROUTE = '/v1/origins/:id/heartbeat';
/** The lookup probe's period (10 lookups a second). */
const LOOKUP_EVERY_MS = 100;
/** A Redis busy with a backlog of long scripts answers INFO late. */
const STATS_TIMEOUT_MS = 30000;

/** Redis INFO snapshot, or null (logged) when Redis does not answer in time. @param {{ redisPort: number }} env */
async function stats(env) {
  try {
    return await redisStats(env.redisPort, STATS_TIMEOUT_MS);
  } catch (err) {
    log(`control-plane: ${String(/** @type {Error} */ (err).message)}`);
    return null;
  }
}

/** @param {any} a @param {any} b */
const delta = (a, b) => (a && b ? redisDelta(a, b) : null);

/** Prometheus text → { 'name{labels}': value }, or null when discovery does not answer. @param {string} base */
async function scrapeMetrics(base) {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(STATS_TIMEOUT_MS) });
    const text = await res.text();
    /** @type {Record<string, number>} */
    const out = {};
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) out[m[1] + (m[2] ?? '')] = Number(m[3]);
    }
    return out;
  } catch (err) {
    log(`control-plane: GET /metrics failed: ${String(/** @type {Error} */ (err).message)}`);
    return null;
  }
}

/**
 * Server-side mean duration (ms) and count of one route between two scrapes.
 * @param {Record<string, number> | null} a @param {Record<string, number> | null} b @param {string} method @param {string} route
 */
function routeDelta(a, b, method, route) {
  if (!a || !b) return { count: null, meanMs: null };
  const find = (/** @type {string} */ suffix) =>
    Object.keys(b).find((k) => k.startsWith(`cascade_discovery_http_request_duration_seconds_${suffix}{`) && k.includes(`method="${method}"`) && k.includes(`route="${route}"`));
  const sumKey = find('sum');
  const countKey = find('count');
  if (!sumKey || !countKey) return { count: 0, meanMs: null };
  const count = b[countKey] - (a[countKey] ?? 0);
  const sum = b[sumKey] - (a[sumKey] ?? 0);
  return { count, meanMs: count > 0 ? round((sum / count) * 1000, 2) : null };
}

/** cascade_discovery_heartbeat_leases_total by status between two scrapes. @param {Record<string, number> | null} a @param {Record<string, number> | null} b */
function leaseCounterDelta(a, b) {
  if (!a || !b) return null;
  /** @type {Record<string, number>} */
  const out = {};
  for (const [k, v] of Object.entries(b)) {
    const m = /^cascade_discovery_heartbeat_leases_total\{.*status="(\w+)"/.exec(k);
    if (m) out[m[1]] = v - (a[k] ?? 0);
  }
  return out;
}

/** The lookup probe of a phase: a stream of the fleet (200) or one nobody holds (404). @param {string} base @param {number} origins @param {number} streams */
function lookupProbe(base, origins, streams) {
  const pick = (/** @type {number} */ n) => Math.floor(Math.random() * n);
  return new LookupProbe(base, () => (origins > 0 ? `/v1/streams/live/sim${origins}-${1 + pick(origins)}-s${pick(streams)}` : `/v1/streams/live/nobody-s${pick(streams)}`), { everyMs: LOOKUP_EVERY_MS });
}

/**
 * Discovery and redis-server with no fleet: only discovery's sweep and the lookup probe. Their CPU
 * share is subtracted from the windows for the CPU per request "above idle"; the probe's latencies are
 * the lookups' reference.
 * @param {any} ctx @param {{ base: string }} env @param {number} seconds
 */
async function idlePhase(ctx, env, seconds) {
  const probe = lookupProbe(env.base, 0, 1000);
  probe.start();
  let a = 0;
  try {
    await sleep(1000);
    ctx.sampler.mark('cp-idle-a');
    a = Date.now();
    await sleep(seconds * 1000);
    ctx.sampler.mark('cp-idle-b');
  } finally {
    await probe.stop();
  }
  const win = ctx.sampler.window('cp-idle-a', 'cp-idle-b');
  return { seconds: round(win.seconds, 1), discoveryCores: win.procs.discovery?.avgShare ?? 0, redisCores: win.procs['redis-server']?.avgShare ?? 0, lookups: probe.summary(a, Date.now()) };
}

/**
 * One fleet: start (heartbeats: origins joining over the ramp), wait until every origin has had a
 * complete answer (every lease renewed) or the limit passed, measure `rounds` whole rounds; for a
 * heartbeat fleet in steady state, then the state loss.
 * @param {any} ctx @param {{ base: string, redisPort: number }} env @param {'heartbeat'|'healthz'} kind
 * @param {{ streams: number, rounds: number, rampS: number, convergeLimitS: number, recoveryLimitS: number }} p
 * @param {number} origins @param {{ discoveryCores: number, redisCores: number }} idle
 */
async function fleetPhase(ctx, env, kind, p, origins, idle) {
  const rampMs = kind === 'heartbeat' ? p.rampS * 1000 : 0;
  const fleet = new HeartbeatFleet({ baseUrl: env.base, origins, streams: p.streams, intervalMs: INTERVAL_MS, kind, rampMs, idPrefix: kind === 'healthz' ? 'probe' : `sim${origins}` });
  const name = `cp-${kind}-${origins}`;
  const tag = `control-plane ${kind} × ${origins}`;
  const probe = lookupProbe(env.base, kind === 'heartbeat' ? origins : 0, p.streams);
  let wsT = 0;
  let weT = 0;
  /** @type {any} */
  let m = {};
  /** @type {any} */
  let recovery = null;
  fleet.start();
  probe.start();
  try {
    const limit = fleet.t0 + rampMs + p.convergeLimitS * 1000;
    let convergedAt = null;
    while ((convergedAt = fleet.convergedAfter(fleet.t0)) === null && Date.now() < limit) await sleep(100);
    const steadyAfterS = convergedAt === null ? null : round((convergedAt - fleet.t0) / 1000, 1);
    if (convergedAt === null) log(`${tag}: ⚠ not every origin had all its leases renewed ${round((Date.now() - fleet.t0) / 1000, 0)} s after the start; measuring anyway`);
    else log(`${tag}: every origin answered in full after ${steadyAfterS} s; measuring ${p.rounds} rounds (${(p.rounds * INTERVAL_MS) / 1000} s)`);
    // The window: whole rounds, from the first round boundary after that.
    wsT = fleet.roundStart(Math.ceil((Date.now() - fleet.t0) / INTERVAL_MS));
    weT = wsT + p.rounds * INTERVAL_MS;
    await sleep(wsT - Date.now());
    ctx.sampler.mark(`${name}-ws`);
    const loadAvg = [round(os.loadavg()[0], 2)];
    fleet.resetLoopDelay();
    const [r0, m0] = await Promise.all([stats(env), scrapeMetrics(env.base)]);
    await sleep(weT - Date.now());
    ctx.sampler.mark(`${name}-we`);
    loadAvg.push(round(os.loadavg()[0], 2));
    const loopDelayMs = fleet.loopDelay();
    const [r1, m1] = await Promise.all([stats(env), scrapeMetrics(env.base)]);
    m = { rd: delta(r0, r1), m0, m1, loopDelayMs, steadyAfterS, loadAvg };
    if (kind === 'heartbeat' && p.recoveryLimitS > 0) {
      // The window's heartbeats are answered before the state is lost (they would re-claim otherwise).
      const deadline = Date.now() + 10000;
      while (fleet.inFlightBefore(weT) && Date.now() < deadline) await sleep(20);
      if (steadyAfterS !== null) recovery = await statePhase(ctx, env, fleet, probe, p, origins);
      else log(`${tag}: state loss skipped (no steady state to lose)`);
    }
  } finally {
    await Promise.all([fleet.stop(), probe.stop()]);
  }
  const lookups = probe.summary(wsT, weT);
  const win = ctx.sampler.window(`${name}-ws`, `${name}-we`);
  const s = fleet.summary(wsT, weT);
  // Heartbeats answered before the flush (one in flight during it re-claims: it counts after).
  const before = fleet.summary(-Infinity, recovery ? recovery.flushedAt : Infinity, 'end');
  const disc = win.procs.discovery;
  const redisProc = win.procs['redis-server'];
  const bench = win.procs.bench;
  /** @type {any} */
  const rd = m.rd;
  const evalsha = rd ? (rd.commands.evalsha ?? { calls: 0, usec: 0, usecPerCall: null }) : null;
  const route = kind === 'heartbeat' ? routeDelta(m.m0, m.m1, 'POST', HEARTBEAT_ROUTE) : routeDelta(m.m0, m.m1, 'GET', '/healthz');
  const perReq = (/** @type {number | undefined} */ cpuS) => (cpuS !== undefined && s.requests ? round((cpuS * 1e6) / s.requests, 1) : null);
  const marginal = (/** @type {number | undefined} */ cpuS, /** @type {number} */ idleCores) => (cpuS !== undefined ? perReq(Math.max(0, cpuS - idleCores * win.seconds)) : null);
  return {
    phase: kind,
    origins,
    streamsPerOrigin: kind === 'heartbeat' ? p.streams : 0,
    rampS: rampMs / 1000,
    steadyAfterS: m.steadyAfterS,
    steadyState: m.steadyAfterS !== null,
    windowS: round(win.seconds, 2),
    rounds: p.rounds,
    loadAvg1mAtWindowStartEnd: m.loadAvg,
    requests: s.requests,
    ok: s.ok,
    skippedTicks: s.skippedTicks,
    errors: s.errors,
    timeouts: s.errors.timeout ?? 0,
    latencyMs: s.latencyMs,
    serverSideMeanMs: route.meanMs,
    serverSideCount: route.count,
    windowStatuses: s.all,
    firstHeartbeats: before.first,
    laterHeartbeats: before.later,
    serverLeaseCounters: leaseCounterDelta(m.m0, m.m1),
    discovery: disc
      ? { cpuS: disc.cpuS, cores: disc.avgShare, peakCores: disc.peakShare, cpuUsPerRequest: perReq(disc.cpuS), marginalCpuUsPerRequest: marginal(disc.cpuS, idle.discoveryCores), rssEndMB: disc.rssEndMB, rssGrowthMB: disc.rssGrowthMB }
      : null,
    redis: {
      procCpuS: redisProc?.cpuS ?? null,
      cores: redisProc?.avgShare ?? null,
      cpuUsPerRequest: perReq(redisProc?.cpuS),
      marginalCpuUsPerRequest: marginal(redisProc?.cpuS, idle.redisCores),
      infoCpuS: rd?.infoCpuS ?? null,
      rssEndMB: redisProc?.rssEndMB ?? null,
      usedMemoryMB: rd?.usedMemoryMB ?? null,
      keys: rd?.keys ?? null,
      evalsha,
      topCommands: rd
        ? Object.entries(rd.commands)
            .sort(([, a], [, b]) => b.usec - a.usec)
            .slice(0, 8)
            .map(([cmd, c]) => ({ cmd, ...c }))
        : null,
    },
    client: { cores: bench?.avgShare ?? null, peakCores: bench?.peakShare ?? null, loopDelayMs: m.loopDelayMs },
    lookups,
    recovery,
  };
}

/**
 * Discovery loses its state while the fleet runs: FLUSHALL on the private Redis (origins, leases and
 * token counters gone). Every origin's next heartbeat re-registers it and re-claims all its leases
 * (tokens above those the origins hold); followed until every origin has had a heartbeat with every
 * lease renewed again, or the limit.
 * @param {any} ctx @param {{ base: string, redisPort: number }} env @param {HeartbeatFleet} fleet
 * @param {LookupProbe} probe @param {{ recoveryLimitS: number }} p @param {number} origins
 */
async function statePhase(ctx, env, fleet, probe, p, origins) {
  const name = `cp-state-${origins}`;
  ctx.sampler.mark(`${name}-a`);
  const r0 = await stats(env);
  await redisCall(env.redisPort, ['FLUSHALL'], STATS_TIMEOUT_MS);
  const flushedAt = Date.now();
  const limit = flushedAt + p.recoveryLimitS * 1000;
  let at = null;
  while ((at = fleet.convergedAfter(flushedAt)) === null && Date.now() < limit) await sleep(100);
  ctx.sampler.mark(`${name}-b`);
  const r1 = await stats(env);
  const win = ctx.sampler.window(`${name}-a`, `${name}-b`);
  // Heartbeats answered after the flush (one in flight during it may already have re-claimed).
  const s = fleet.summary(flushedAt, Infinity, 'end');
  const rd = delta(r0, r1);
  const recovery = {
    flushedAt,
    converged: at !== null,
    recoveredS: at === null ? null : round((at - flushedAt) / 1000, 1),
    limitS: p.recoveryLimitS,
    measuredS: round(win.seconds, 1),
    requests: s.requests,
    ok: s.ok,
    skippedTicks: s.skippedTicks,
    errors: s.errors,
    statuses: s.all.statuses,
    tokenAhead: s.all.tokenAhead,
    latencyMs: s.latencyMs,
    discoveryCpuS: win.procs.discovery?.cpuS ?? null,
    discoveryPeakCores: win.procs.discovery?.peakShare ?? null,
    redisCpuS: win.procs['redis-server']?.cpuS ?? null,
    evalsha: rd ? (rd.commands.evalsha ?? { calls: 0, usec: 0, usecPerCall: null }) : null,
    lookups: probe.summary(flushedAt, Date.now()),
  };
  log(
    `control-plane state loss × ${origins}: ${recovery.converged ? `every origin renewed in full again after ${recovery.recoveredS} s` : `⚠ not recovered within ${p.recoveryLimitS} s`}; ${s.requests} heartbeats, errors ${JSON.stringify(s.errors)}, reclaimed ${s.all.statuses.reclaimed}`,
  );
  return recovery;
}

/**
 * Measures one round of `fn`: time, discovery and redis-server CPU (ns resolution), Redis EVALSHA.
 * @param {{ redisPort: number, discoveryPid: number, redisPid: number }} env
 * @param {() => Promise<{ requests: number, errors: Record<string, number>, statuses?: Record<string, number> }>} fn
 */
async function measureRound(env, fn) {
  const r0 = await stats(env);
  const d0 = readSchedCpuS(env.discoveryPid);
  const x0 = readSchedCpuS(env.redisPid);
  const t0 = performance.now();
  const res = await fn();
  const ms = performance.now() - t0;
  const d1 = readSchedCpuS(env.discoveryPid);
  const x1 = readSchedCpuS(env.redisPid);
  const r1 = await stats(env);
  const ev = delta(r0, r1)?.commands.evalsha ?? { calls: 0, usec: 0 };
  return { ms, discoveryCpuS: (d1 ?? 0) - (d0 ?? 0), redisCpuS: (x1 ?? 0) - (x0 ?? 0), evalshaCalls: ev.calls, evalshaUsec: ev.usec, ...res };
}

/** @param {Array<Awaited<ReturnType<typeof measureRound>>>} rounds @param {string} way */
function roundSummary(rounds, way) {
  const n = rounds.length;
  const mean = (/** @type {(r: any) => number} */ f) => (n ? rounds.reduce((a, r) => a + f(r), 0) / n : null);
  /** @type {Record<string, number>} */
  const errors = {};
  /** @type {Record<string, number>} */
  const statuses = {};
  for (const r of rounds) {
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.statuses ?? {})) statuses[k] = (statuses[k] ?? 0) + v;
  }
  return {
    way,
    rounds: n,
    requestsPerRound: mean((r) => r.requests),
    msPerRound: { mean: round(mean((r) => r.ms), 1), min: round(Math.min(...rounds.map((r) => r.ms)), 1), max: round(Math.max(...rounds.map((r) => r.ms)), 1) },
    discoveryCpuMsPerRound: round(mean((r) => r.discoveryCpuS * 1000), 1),
    redisCpuMsPerRound: round(mean((r) => r.redisCpuS * 1000), 1),
    evalshaCallsPerRound: round(mean((r) => r.evalshaCalls), 0),
    evalshaMsPerRound: round(mean((r) => r.evalshaUsec / 1000), 1),
    errors,
    ...(Object.keys(statuses).length ? { statuses } : {}),
    roundsMs: rounds.map((r) => round(r.ms, 1)),
  };
}

/**
 * Old per-stream API vs one batched heartbeat for one origin × `streams` leases.
 * @param {{ base: string, redisPort: number, discoveryPid: number, redisPid: number }} env
 * @param {{ streams: number, rounds: number }} p
 */
async function comparePhase(env, p) {
  const legacy = new LegacyOrigin(env.base, 'legacy-origin', { streams: p.streams, index: 900 });
  const batched = new SimOrigin(env.base, 'batched-origin', { streams: p.streams, index: 901 });
  const legacyRounds = [];
  const batchedRounds = [];
  const heartbeat = async () => {
    try {
      const r = await batched.heartbeat();
      return { requests: 1, errors: r.mismatched ? { mismatch: 1 } : {}, statuses: r.statuses };
    } catch (err) {
      return { requests: 1, errors: { [String(/** @type {Error} */ (err).message).slice(0, 80)]: 1 } };
    }
  };
  let setupMs = 0;
  let warmup;
  let first;
  try {
    setupMs = await legacy.setup();
    // At once, so that no lease waits longer than its TTL (6 s) for its first renewal; not measured.
    warmup = await legacy.round();
    first = await measureRound(env, heartbeat); // re-claims every lease: not one of the rounds
    for (let r = 0; r < p.rounds; r++) {
      legacyRounds.push(await measureRound(env, () => legacy.round()));
      await sleep(250);
      batchedRounds.push(await measureRound(env, heartbeat));
      await sleep(250);
    }
  } finally {
    await Promise.allSettled([legacy.client.deregisterOrigin(legacy.id), batched.client.deregisterOrigin(batched.id)]);
    await Promise.allSettled([legacy.close(), batched.close()]);
  }
  return {
    streams: p.streams,
    legacySetupMs: round(setupMs, 0),
    legacyWarmup: { ms: round(warmup.ms, 0), errors: warmup.errors },
    batchedFirst: { ms: round(first.ms, 1), discoveryCpuMs: round(first.discoveryCpuS * 1000, 1), redisCpuMs: round(first.redisCpuS * 1000, 1), statuses: first.statuses, errors: first.errors },
    legacy: roundSummary(legacyRounds, `old API: PUT + ${p.streams} sequential renews`),
    batched: roundSummary(batchedRounds, `leases v2: one heartbeat of ${p.streams}`),
  };
}

async function run(ctx) {
  const redisVersion = redisServerVersion();
  if (!redisVersion) return { skipped: 'redis-server is not on PATH (apt-get install redis-server): the control-plane scenario needs a private one', rows: [], comparisons: [], notes: [] };
  const o = ctx.opts ?? {};
  const windowS = o.windowS ?? (ctx.quick ? 20 : 60);
  const short = windowS < 10;
  /** @type {number[]} */
  const sizes = o.origins ?? (ctx.quick ? [10] : [10, 50]);
  const p = {
    sizes,
    streams: o.streams ?? 2000,
    intervalMs: INTERVAL_MS,
    rounds: Math.max(1, Math.round((windowS * 1000) / INTERVAL_MS)),
    idleS: short ? 2 : ctx.quick ? 5 : 10,
    rampS: short ? 2 : 10,
    convergeLimitS: short ? 10 : 30,
    recoveryLimitS: short ? 10 : ctx.quick ? 20 : 40,
    compareRounds: short ? 2 : ctx.quick ? 3 : 5,
  };
  const baselineOrigins = Math.max(...sizes);

  const redis = await startRedis(ctx);
  ctx.sampler.watch('bench', process.pid, 'load');
  /** @type {import('../lib/procs').Proc | null} */
  let disc = null;
  /** @type {Record<string, any>} */
  const phases = { fleets: [] };
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    disc = await startCascadeProcess(ctx, 'discovery', 'discovery', ['--host', '127.0.0.1', '--port', String(port), '--store', 'redis', '--redis-url', redis.url], `${base}/healthz`);
    const env = { base, redisPort: redis.port, discoveryPid: disc.pid, redisPid: redis.proc.pid };
    log(`control-plane: redis-server ${redisVersion} on ${redis.port}, discovery on ${port}; ${sizes.join(' then ')} origins × ${p.streams} streams, one request per origin every ${INTERVAL_MS} ms, ${p.rounds} rounds per window`);

    phases.idle = await idlePhase(ctx, env, p.idleS);
    log(`  → idle (lookup probe only): discovery ${phases.idle.discoveryCores} cores, redis-server ${phases.idle.redisCores} cores, lookup p50 ${phases.idle.lookups.latencyMs.p50} ms`);

    phases.healthz = await fleetPhase(ctx, env, 'healthz', p, baselineOrigins, phases.idle);
    log(`  → GET /healthz × ${baselineOrigins}: ${phases.healthz.requests} requests, p50 ${phases.healthz.latencyMs.p50} ms, p99 ${phases.healthz.latencyMs.p99} ms, discovery ${phases.healthz.discovery?.cpuUsPerRequest} CPU-µs/request`);

    phases.compare = await comparePhase(env, { streams: p.streams, rounds: p.compareRounds });
    const c = phases.compare;
    log(`  → 1 origin × ${p.streams}: old API ${c.legacy.msPerRound.mean} ms/round (discovery ${c.legacy.discoveryCpuMsPerRound} CPU-ms), heartbeat ${c.batched.msPerRound.mean} ms/round (discovery ${c.batched.discoveryCpuMsPerRound} CPU-ms)`);

    for (const n of sizes) {
      await sleep(1000);
      const h = await fleetPhase(ctx, env, 'heartbeat', p, n, phases.idle);
      phases.fleets.push(h);
      log(`  → heartbeat × ${n}: ${h.requests} requests, p50 ${h.latencyMs.p50} ms, p99 ${h.latencyMs.p99} ms, max ${h.latencyMs.max} ms, errors ${JSON.stringify(h.errors)}, discovery ${h.discovery?.cores} cores, redis ${h.redis.cores} cores`);
      // Let the fleet's leases expire and be swept before the next size (origin TTL 6 s).
      if (n !== sizes[sizes.length - 1]) await sleep(8000);
    }
  } finally {
    ctx.sampler.unwatch('bench');
    if (disc) {
      ctx.sampler.unwatch('discovery');
      await ctx.reg.stop(disc);
    }
    await redis.stop();
  }
  return report(p, phases, redisVersion);
}

/**
 * What one heartbeat of S renewals costs (alone, and in the largest steady fleet above idle), and what
 * the largest fleet size then needs of discovery's and Redis' single threads.
 * @param {any} p @param {any} c @param {any[]} fleets
 */
function capacityNote(p, c, fleets) {
  const steady = fleets.filter((h) => h.steadyState).at(-1);
  const largest = Math.max(...p.sizes);
  const rate = largest / (INTERVAL_MS / 1000);
  const discMs = steady ? steady.discovery.marginalCpuUsPerRequest / 1000 : c.batched.discoveryCpuMsPerRound;
  const redisMs = steady ? steady.redis.marginalCpuUsPerRequest / 1000 : c.batched.redisCpuMsPerRound;
  return (
    `One heartbeat of ${p.streams} renewals costs discovery ${c.batched.discoveryCpuMsPerRound} + redis ${c.batched.redisCpuMsPerRound} CPU-ms alone (old-vs-new phase)` +
    (steady ? `, ${round(discMs, 1)} + ${round(redisMs, 1)} CPU-ms above idle in the steady fleet of ${steady.origins}` : '') +
    `: at ${rate} heartbeats/s (${largest} origins every 2 s) discovery needs ≈ ${round((discMs * rate) / 1000, 2)} cores and redis-server ≈ ${round((redisMs * rate) / 1000, 2)} — each one thread, so each must stay well below one core, and both got only what the machine's other load left them (load average in the table).` +
    ` A re-claim heartbeat of ${p.streams} (an origin's first, or after a state loss): ${c.batchedFirst.ms} ms, discovery ${c.batchedFirst.discoveryCpuMs} + redis ${c.batchedFirst.redisCpuMs} CPU-ms.`
  );
}

/** Ratio rows, tables and notes of one run. @param {any} p @param {Record<string, any>} phases @param {string} redisVersion */
function report(p, phases, redisVersion) {
  const { healthz: b, compare: c, idle, fleets } = phases;
  const peerB = `GET /healthz, ${b.origins} origins, same schedule`;
  const cmpCase = `1 origin × ${p.streams} streams, one heartbeat round`;
  const peerC = `old API (PUT + ${p.streams} sequential renews)`;
  const row = (/** @type {string} */ kase, /** @type {string} */ metric, /** @type {any} */ a, /** @type {string} */ peer, /** @type {any} */ bv, digits = 2) => ({
    case: kase,
    metric,
    cascade: a,
    peer,
    peerValue: bv,
    ratio: ratio(a, bv, digits),
    better: 'lower',
  });
  const comparisons = [];
  for (const h of fleets) {
    const kase = `${h.origins} origins × ${p.streams} leases, 1 heartbeat / origin / 2 s${h.steadyState ? '' : ' ⚠ no steady state'}`;
    comparisons.push(
      row(kase, 'latency p50 ms', h.latencyMs.p50, peerB, b.latencyMs.p50),
      row(kase, 'latency p99 ms', h.latencyMs.p99, peerB, b.latencyMs.p99),
      row(kase, 'lookup p99 ms meanwhile (GET /v1/streams, 10/s)', h.lookups.latencyMs.p99, peerB, b.lookups.latencyMs.p99),
      row(kase, 'discovery CPU-µs / request above idle', h.discovery?.marginalCpuUsPerRequest, peerB, b.discovery?.marginalCpuUsPerRequest),
      row(kase, 'redis CPU-µs / request above idle', h.redis.marginalCpuUsPerRequest, peerB, b.redis.marginalCpuUsPerRequest),
    );
  }
  comparisons.push(
    row(cmpCase, 'time per round ms', c.batched.msPerRound.mean, peerC, c.legacy.msPerRound.mean, 3),
    row(cmpCase, 'discovery CPU-ms / round', c.batched.discoveryCpuMsPerRound, peerC, c.legacy.discoveryCpuMsPerRound, 3),
    row(cmpCase, 'redis CPU-ms / round', c.batched.redisCpuMsPerRound, peerC, c.legacy.redisCpuMsPerRound, 3),
  );

  const errs = (/** @type {Record<string, number>} */ e) => Object.entries(e).map(([k, v]) => `${k} ${v}`).join(', ') || '0';
  const lat = (/** @type {any} */ l) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;
  const st = (/** @type {any} */ s) => `${s.renewed} / ${s.reclaimed} / ${s.fenced} / ${s.absent}`;
  const fleetRow = (/** @type {any} */ x, /** @type {string} */ label) => [
    label,
    x.phase === 'heartbeat' ? (x.steadyState ? `yes, after ${x.steadyAfterS} s` : '⚠ NO') : '–',
    x.requests,
    `${errs(x.errors)} (timeouts ${x.timeouts}, skipped ticks ${x.skippedTicks})`,
    lat(x.latencyMs),
    x.serverSideMeanMs,
    `${x.discovery?.cores} (peak ${x.discovery?.peakCores})`,
    `${x.discovery?.cpuUsPerRequest} (${x.discovery?.marginalCpuUsPerRequest})`,
    x.discovery?.rssEndMB,
    x.redis.cores,
    `${x.redis.cpuUsPerRequest} (${x.redis.marginalCpuUsPerRequest})`,
    x.redis.evalsha ? `${x.redis.evalsha.calls} × ${x.redis.evalsha.usecPerCall ?? '–'}` : '–',
    x.redis.usedMemoryMB,
    `${lat(x.lookups.latencyMs)} (${Object.entries(x.lookups.statuses).map(([k, v]) => `${v} × ${k}`).join(', ')}; stale ${x.lookups.stale}, errors ${errs(x.lookups.errors)})`,
    `${x.client.cores} (loop p99 ${x.client.loopDelayMs?.p99} ms)`,
    x.loadAvg1mAtWindowStartEnd?.join(' → '),
  ];
  const tables = [
    {
      title: `Fleets: simulated origins, one request each every 2 s (staggered); heartbeat fleets join over ${p.rampS} s, then a window of ${p.rounds} rounds once every origin had all its leases renewed; idle discovery ${idle.discoveryCores} cores, idle redis-server ${idle.redisCores}`,
      columns: [
        'request',
        'steady state',
        'count',
        'errors',
        'latency p50 / p95 / p99 / max ms',
        'server-side mean ms',
        'discovery cores',
        'discovery CPU-µs / req (above idle)',
        'discovery RSS MB',
        'redis cores',
        'redis CPU-µs / req (above idle)',
        'EVALSHA calls × µs/call',
        'redis used MB',
        'lookups meanwhile p50 / p95 / p99 / max ms (statuses; stale, errors)',
        'client cores',
        'load avg 1 min',
      ],
      rows: [...fleets.map((h) => fleetRow(h, `heartbeat, ${h.origins} × ${p.streams} leases`)), fleetRow(b, `GET /healthz, ${b.origins} origins (baseline)`)],
    },
    {
      title: 'Heartbeats by lease status (renewed / reclaimed / fenced / absent)',
      columns: ['fleet', 'heartbeats', 'count', 'answered', 'errors', 'renewed / reclaimed / fenced / absent', 'every lease renewed', 'latency p50 / p95 / p99 / max ms'],
      rows: fleets.flatMap((h) => {
        const rv = h.recovery;
        return [
          [`${h.origins} × ${p.streams}`, `first of each origin (re-claims)`, h.firstHeartbeats.requests, h.firstHeartbeats.ok, errs(h.firstHeartbeats.errors), st(h.firstHeartbeats.statuses), '–', lat(h.firstHeartbeats.latencyMs)],
          [`${h.origins} × ${p.streams}`, 'every later one (until the state loss)', h.laterHeartbeats.requests, h.laterHeartbeats.ok, errs(h.laterHeartbeats.errors), st(h.laterHeartbeats.statuses), h.laterHeartbeats.allRenewed ? 'yes' : 'NO', lat(h.laterHeartbeats.latencyMs)],
          [`${h.origins} × ${p.streams}`, `of those, in the window (${h.rounds} rounds)`, h.windowStatuses.requests, h.windowStatuses.ok, errs(h.windowStatuses.errors), st(h.windowStatuses.statuses), h.windowStatuses.allRenewed ? 'yes' : 'NO', lat(h.windowStatuses.latencyMs)],
          ...(rv
            ? [[`${h.origins} × ${p.streams}`, `after FLUSHALL (state loss), ${rv.measuredS} s`, rv.requests, rv.ok, errs(rv.errors), st(rv.statuses), rv.converged ? `again after ${rv.recoveredS} s` : `NO (not within ${rv.limitS} s)`, lat(rv.latencyMs)]]
            : []),
        ];
      }),
    },
    {
      title: `Old per-stream API vs one batched heartbeat, 1 origin × ${p.streams} streams, ${p.compareRounds} alternating rounds each`,
      columns: ['way', 'requests / round', 'ms / round (mean, min–max)', 'discovery CPU-ms / round', 'redis CPU-ms / round', 'EVALSHA calls / round', 'EVALSHA ms / round', 'errors'],
      rows: [c.legacy, c.batched].map((x) => [x.way, x.requestsPerRound, `${x.msPerRound.mean} (${x.msPerRound.min}–${x.msPerRound.max})`, x.discoveryCpuMsPerRound, x.redisCpuMsPerRound, x.evalshaCallsPerRound, x.evalshaMsPerRound, errs(x.errors)]),
    },
  ];

  const notes = [
    `Discovery: \`cascade discovery --store redis\` with product defaults (origin and lease TTL 6 s, sweep every 500 ms, Redis command timeout 500 ms, 5 s for heartbeats; log level ${process.env.BENCH_CASCADE_LOG_LEVEL ?? 'info'}) on a private redis-server ${redisVersion} (\`--save "" --appendonly no\`). Simulated origins: the product's HttpDiscoveryClient (heartbeat timeout 5 s), one keep-alive connection each, in the bench process; a tick that finds the origin's previous heartbeat still in flight is skipped and counted.`,
    `Order: idle (${idle.seconds} s), baseline, old-vs-new, then each fleet size with its state loss — no phase runs while another's leases expire. Per-request CPU: all of the process's CPU in the window ÷ the fleet's requests, and in parentheses above idle — less the idle share (sweep and lookup probe: discovery ${idle.discoveryCores}, redis-server ${idle.redisCores} cores) over the window.`,
    capacityNote(p, c, fleets),
    `EVALSHA µs/call is Redis' own timing of the script call (wall clock while it runs: it grows when redis-server waits for a CPU); the windows' EVALSHA also counts discovery's sweep (the baseline row: sweeps alone). Per-round CPU in the old-vs-new table is read from /proc/PID/task/*/schedstat (ns resolution); the old API setup (register + ${p.streams} claims at concurrency 32) took ${c.legacySetupMs} ms, its unmeasured first round right after ${c.legacyWarmup.ms} ms (errors ${errs(c.legacyWarmup.errors)}).`,
  ];
  notes.push(
    `Lookups meanwhile: a probe sends \`GET /v1/streams/live/:name\` every ${LOOKUP_EVERY_MS} ms (one at a time) in every phase — a stream of the fleet (200) during heartbeat windows, a stream nobody holds (404) otherwise; one Redis script call on discovery's ordinary connection either way, so it waits while Redis runs a heartbeat script. With no fleet (idle): p50 / p99 / max ${idle.lookups.latencyMs.p50} / ${idle.lookups.latencyMs.p99} / ${idle.lookups.latencyMs.max} ms. "stale": answered from discovery's stale cache (store unreachable).`,
  );
  for (const h of fleets) {
    const leases = (h.origins * p.streams).toLocaleString('en');
    const rv = h.recovery;
    notes.push(
      `${h.origins} × ${p.streams} (${leases} leases): ${h.steadyState ? `steady after ${h.steadyAfterS} s` : `⚠ never had every lease of every origin renewed (within ${p.rampS + p.convergeLimitS} s), measured anyway`}; per lease (whole request ÷ ${p.streams}) discovery ${round((h.discovery?.cpuUsPerRequest ?? 0) / p.streams, 2)} CPU-µs, redis ${round((h.redis.cpuUsPerRequest ?? 0) / p.streams, 2)}; discovery ${h.discovery?.cores} cores on average (peak ${h.discovery?.peakCores} in a second), redis-server ${h.redis.cores} (INFO cpu ${h.redis.infoCpuS} s vs /proc ${h.redis.procCpuS} s); server-side mean ${h.serverSideMeanMs} ms; bench process ${h.client.cores} cores (peak ${h.client.peakCores}), event-loop delay p99 ${h.client.loopDelayMs?.p99} ms (latencies include building and parsing the ${p.streams}-lease JSON).` +
        (rv
          ? ` State loss: ${rv.converged ? `every origin had all its leases renewed again after ${rv.recoveredS} s` : `⚠ not every origin had all its leases renewed again within ${rv.limitS} s`}; ${rv.requests} heartbeats answered after the flush, ${rv.statuses.reclaimed.toLocaleString('en')} re-claims for ${leases} leases (TOKEN_AHEAD ${rv.tokenAhead}), errors ${errs(rv.errors)}, skipped ticks ${rv.skippedTicks}; discovery ${rv.discoveryCpuS} CPU-s (peak ${rv.discoveryPeakCores} cores), redis ${rv.redisCpuS} CPU-s; lookups meanwhile p50 / p99 / max ${rv.lookups.latencyMs.p50} / ${rv.lookups.latencyMs.p99} / ${rv.lookups.latencyMs.max} ms (${Object.entries(rv.lookups.statuses).map(([k, v]) => `${v} × ${k}`).join(', ')}; stale ${rv.lookups.stale}, errors ${errs(rv.lookups.errors)}).`
          : ''),
    );
    if (h.client.peakCores !== null && h.client.peakCores > 0.9) notes.push(`⚠ ${h.origins} origins: the bench process peaked at ${h.client.peakCores} cores in the window: latencies may be limited by the client.`);
  }

  return {
    params: { ...p, windowS: (p.rounds * INTERVAL_MS) / 1000, redis: redisVersion },
    rows: [...fleets, b],
    phases,
    tables,
    comparisons,
    notes,
  };
}

module.exports = { id: 'control-plane', title: 'Control plane: leases v2 heartbeats', run };
