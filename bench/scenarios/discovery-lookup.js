'use strict';
/**
 * Discovery lookup throughput: 10,000 streams registered (one origin via PUT /v1/origins/:id, each
 * stream via POST /v1/streams/live/:name/claim), then autocannon on GET /v1/streams/live/:name with
 * random names, against a bare fastify hello-world measured the same way in the same run.
 * Discovery runs with long TTLs here (nothing heartbeats the fake origin during the run).
 * Three discoveries: the memory store open and with a cluster secret, and the Redis store (open) on
 * a private redis-server; the Redis one's owner-cache hits and misses are read from its /metrics.
 */
const crypto = require('node:crypto');
const path = require('node:path');
const autocannon = require('autocannon');
const dist = require('../lib/dist');
const { freePort, waitFor, httpOk, log, round, sleep } = require('../lib/util');
const { ratio } = require('../lib/stats');
const { startRedis, redisServerVersion } = require('../lib/systems');

const STREAMS = 10000;
const ORIGIN = 'bench-origin';

async function startServer(ctx, name, args, health, env = {}) {
  const proc = ctx.reg.spawn(name, process.execPath, args, { env: { ...process.env, CASCADE_LOG_LEVEL: 'info', ...env } });
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output.slice(-2000)}`);
    return httpOk(health);
  }, 20000, `${name} healthy`);
  ctx.sampler.watch(name, proc.pid, 'server');
  return proc;
}

/** POSTs with bounded concurrency; returns the count of non-2xx answers. */
async function claimAll(base, n, headers, concurrency = 32) {
  let next = 0;
  let bad = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await fetch(`${base}/v1/streams/live/s${i}/claim`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ originId: ORIGIN }) });
      await r.arrayBuffer();
      if (!r.ok) bad++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return bad;
}

/** autocannon with random stream names; server CPU from /proc over the same run. */
async function cannon(ctx, name, base, opts, proc = name, among = STREAMS) {
  ctx.sampler.mark(`${name}-a`);
  const result = await autocannon({
    url: base,
    connections: opts.connections,
    duration: opts.durationS,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/streams/live/s${Math.floor(Math.random() * among)}` }) }],
  });
  ctx.sampler.mark(`${name}-b`);
  const cpu = ctx.sampler.window(`${name}-a`, `${name}-b`).procs[proc];
  const total = result.requests.total;
  return {
    system: name,
    rps: round(result.requests.average, 0),
    requests: total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: { p50: result.latency.p50, p97_5: result.latency.p97_5, p99: result.latency.p99, max: result.latency.max },
    serverCores: cpu ? cpu.avgShare : null,
    cpuUsPerRequest: cpu && total ? round((cpu.cpuS * 1e6) / total, 1) : null,
    rssEndMB: cpu ? cpu.rssEndMB : null,
  };
}

/** Owner-cache hits and misses from discovery's /metrics (null before the cache existed). */
async function ownerCacheCounts(base) {
  try {
    const text = await fetch(`${base}/metrics`).then((r) => r.text());
    const get = (result) => Number(new RegExp(`^cascade_discovery_owner_cache_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const out = { hit: get('hit'), miss: get('miss') };
    return Number.isNaN(out.hit) || Number.isNaN(out.miss) ? null : out;
  } catch {
    return null;
  }
}

async function run(ctx) {
  const opts = { connections: 32, durationS: ctx.quick ? 8 : 20 };
  const rows = [];
  const notes = [];

  // Open (no credentials) and with a cluster secret: origins write with their credential, the
  // lookups are anonymous reads (fencing tokens left out), as a stranger or a player tool would see it.
  const credentials = dist.load('common/cluster-credentials');
  const variants = [
    { name: 'discovery', store: 'memory', secure: false },
    { name: 'discovery-secret', store: 'memory', secure: true },
    { name: 'discovery-redis', store: 'redis', secure: false },
  ];
  const redisVersion = redisServerVersion();
  for (const v of variants) {
    const { name, secure } = v;
    if (v.store === 'redis' && !redisVersion) {
      notes.push('discovery-redis: skipped (no redis-server on PATH).');
      continue;
    }
    const secret = secure ? crypto.randomBytes(32).toString('hex') : '';
    const headers = secure ? { authorization: `Bearer ${credentials.memberCredential(secret, 'origin', ORIGIN)}` } : {};
    const redis = v.store === 'redis' ? await startRedis(ctx) : null;
    const dport = await freePort();
    const base = `http://127.0.0.1:${dport}`;
    const args = [dist.ENTRY, 'discovery', '--port', String(dport), '--origin-ttl-ms', '3600000', '--lease-ttl-ms', '3600000'];
    if (redis) args.push('--store', 'redis', '--redis-url', redis.url);
    let disc;
    try {
      disc = await startServer(ctx, name, args, `${base}/healthz`, secure ? { CASCADE_CLUSTER_SECRET: secret } : {});
      const reg = await fetch(`${base}/v1/origins/${ORIGIN}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ rtmp: 'rtmp://127.0.0.1:19350', http: 'http://127.0.0.1:18080' }) });
      if (!reg.ok) throw new Error(`origin registration failed: ${reg.status} ${await reg.text()}`);
      const t0 = Date.now();
      const bad = await claimAll(base, STREAMS, headers);
      const claimS = (Date.now() - t0) / 1000;
      if (bad) throw new Error(`${bad} of ${STREAMS} claims failed`);
      const check = await fetch(`${base}/v1/streams/live/s${STREAMS - 1}`).then((r) => r.json());
      if (check?.origin?.id !== ORIGIN) throw new Error(`lookup after claims returned ${JSON.stringify(check)}`);
      if (secure && 'token' in check) throw new Error('an anonymous lookup showed the fencing token');
      log(`discovery-lookup (${name}): ${STREAMS} streams claimed in ${claimS.toFixed(1)} s; autocannon ${opts.connections} connections × ${opts.durationS} s`);
      notes.push(`${name}: registering ${STREAMS} streams took ${claimS.toFixed(1)} s (${Math.round(STREAMS / claimS)} claims/s at concurrency 32, fetch client${secure ? ', each with an origin credential' : ''}${redis ? `, redis-server ${redisVersion}` : ''}).`);
      await sleep(500);
      // Uniform over all streams (a cache's worst case), and on the Redis store also a hot set: the
      // lookups of 1 % of the streams (what edges and origins ask for: streams being played).
      for (const [rowName, among] of [[name, STREAMS], ...(redis ? [[`${name}-hot`, STREAMS / 100]] : [])]) {
        const before = await ownerCacheCounts(base);
        const row = await cannon(ctx, rowName, base, opts, name, among);
        const after = await ownerCacheCounts(base);
        if (before && after) {
          const hits = after.hit - before.hit;
          const misses = after.miss - before.miss;
          row.ownerCache = { hits, misses, hitRate: hits + misses ? round(hits / (hits + misses), 3) : null };
        }
        rows.push(row);
      }
    } finally {
      ctx.sampler.unwatch(name);
      if (disc) await ctx.reg.stop(disc);
      if (redis) await redis.stop();
    }
  }

  const fport = await freePort();
  const fbase = `http://127.0.0.1:${fport}`;
  const hello = await startServer(ctx, 'fastify-hello', [path.join(__dirname, '..', 'peers', 'fastify-hello.js'), String(fport)], `${fbase}/healthz`);
  try {
    await sleep(500);
    rows.push(await cannon(ctx, 'fastify-hello', fbase, opts));
  } finally {
    ctx.sampler.unwatch('fastify-hello');
    await ctx.reg.stop(hello);
  }
  for (const r of rows) log(`  → ${r.system}: ${r.rps} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}, server ${r.serverCores} cores, ${r.cpuUsPerRequest} CPU-µs/request`);
  notes.push('autocannon runs inside the bench process on the same 2 cores as the server, for both rows alike; the ratio is the meaningful figure, not the absolute req/s.');
  notes.push('The hello-world answers the same route shape (GET /v1/streams/:app/:name) with a constant body, no logger, no schema, no store.');

  const byName = (n) => rows.find((r) => r.system === n);
  const d = byName('discovery');
  const secured = byName('discovery-secret');
  const dr = byName('discovery-redis');
  const f = byName('fastify-hello');
  const drHot = byName('discovery-redis-hot');
  const redisRows = dr
    ? [
        { case: `GET /v1/streams/live/:name, ${STREAMS} streams, Redis store`, metric: 'requests/s', cascade: dr.rps, peer: 'fastify hello-world', peerValue: f.rps, ratio: ratio(dr.rps, f.rps), better: 'higher' },
        { case: `GET /v1/streams/live/:name, ${STREAMS} streams, Redis store`, metric: 'server CPU-µs / request', cascade: dr.cpuUsPerRequest, peer: 'fastify hello-world', peerValue: f.cpuUsPerRequest, ratio: ratio(dr.cpuUsPerRequest, f.cpuUsPerRequest), better: 'lower' },
        { case: `GET /v1/streams/live/:name, ${STREAMS} streams, Redis store`, metric: 'latency p99 ms', cascade: dr.latencyMs.p99, peer: 'fastify hello-world', peerValue: f.latencyMs.p99, ratio: ratio(dr.latencyMs.p99, f.latencyMs.p99), better: 'lower' },
        ...(drHot
          ? [
              { case: `GET /v1/streams/live/:name, ${STREAMS} streams, Redis store, lookups of ${STREAMS / 100} of them`, metric: 'requests/s', cascade: drHot.rps, peer: 'fastify hello-world', peerValue: f.rps, ratio: ratio(drHot.rps, f.rps), better: 'higher' },
              { case: `GET /v1/streams/live/:name, ${STREAMS} streams, Redis store, lookups of ${STREAMS / 100} of them`, metric: 'latency p99 ms', cascade: drHot.latencyMs.p99, peer: 'fastify hello-world', peerValue: f.latencyMs.p99, ratio: ratio(drHot.latencyMs.p99, f.latencyMs.p99), better: 'lower' },
            ]
          : []),
      ]
    : [];
  for (const r of [dr, drHot]) if (r?.ownerCache) notes.push(`${r.system} owner cache during its run: ${r.ownerCache.hits} hits, ${r.ownerCache.misses} misses (hit rate ${r.ownerCache.hitRate}); product default ownerCacheMs (30 s): an entry lives at most 30 s here (the leases' TTL is 1 h and nothing heartbeats), so with random names a stream misses about once per 30 s (the claims' owner hints fill the cache, but this replica's own claim drops its entry when it answers, so only the fills that came after the answer survive).`);
  if (drHot) notes.push(`discovery-redis-hot: the same discovery, lookups of ${STREAMS / 100} of the ${STREAMS} streams (uniform among them), right after the uniform run. The redis-server's own CPU is not in the server CPU columns.`);
  const comparisons = [
    { case: `GET /v1/streams/live/:name, ${STREAMS} streams, cluster secret set (anonymous reads)`, metric: 'requests/s', cascade: secured.rps, peer: 'discovery without credentials', peerValue: d.rps, ratio: ratio(secured.rps, d.rps), better: 'higher' },
    { case: `GET /v1/streams/live/:name, ${STREAMS} streams`, metric: 'requests/s', cascade: d.rps, peer: 'fastify hello-world', peerValue: f.rps, ratio: ratio(d.rps, f.rps), better: 'higher' },
    { case: `GET /v1/streams/live/:name, ${STREAMS} streams`, metric: 'server CPU-µs / request', cascade: d.cpuUsPerRequest, peer: 'fastify hello-world', peerValue: f.cpuUsPerRequest, ratio: ratio(d.cpuUsPerRequest, f.cpuUsPerRequest), better: 'lower' },
    { case: `GET /v1/streams/live/:name, ${STREAMS} streams`, metric: 'latency p99 ms', cascade: d.latencyMs.p99, peer: 'fastify hello-world', peerValue: f.latencyMs.p99, ratio: ratio(d.latencyMs.p99, f.latencyMs.p99), better: 'lower' },
    ...redisRows,
  ];
  const table = {
    columns: ['server', 'req/s', 'requests', 'non-2xx', 'errors', 'latency p50 / p97.5 / p99 ms', 'server cores', 'CPU-µs / request', 'RSS MB', 'owner cache hit rate'],
    rows: rows.map((r) => [r.system, r.rps, r.requests, r.non2xx, r.errors, `${r.latencyMs.p50} / ${r.latencyMs.p97_5} / ${r.latencyMs.p99}`, r.serverCores, r.cpuUsPerRequest, r.rssEndMB, r.ownerCache ? r.ownerCache.hitRate : '–']),
  };
  return { params: { streams: STREAMS, ...opts }, rows, table, comparisons, notes };
}

module.exports = { id: 'discovery-lookup', title: 'Discovery lookup throughput', run };
