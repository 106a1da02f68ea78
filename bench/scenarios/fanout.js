'use strict';
/**
 * Fan-out from one edge: one publisher → origin-1 → edge-1 → N players, against the same N players
 * on a standalone node-media-server 4.4.3, nginx-rtmp (RTMP only) and SRS 6 (RTMP and HTTP-FLV; when
 * its binary is there, lib/systems.js srsBinary). Cascade's CPU counts every Cascade process
 * (discovery + origin + edge): the whole system that delivers the stream; the edge-only figure
 * counts edge-1 alone.
 *
 * Sizes: full run N = 50, 100, 200, 400, 800, 1,200 (RTMP and HTTP-FLV), warm-up 3 s and window 6 s
 * per point (42 points: ≈ 11 min); --quick N = 50, 100 RTMP and 100 HTTP-FLV with the quick windows;
 * --n / --window-s / --warm-s override.
 */
const os = require('node:os');
const { startCascade, startNms, startNginx, startSrs, srsBinary } = require('../lib/systems');
const { startPublisher, measure } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { sleep, log } = require('../lib/util');

const STREAM = 'live/fanout';
const FULL_NS = [50, 100, 200, 400, 800, 1200];
const FULL_WARM_MS = 3000;
const FULL_WINDOW_MS = 6000;
const PEERS = ['nms', 'nginx-rtmp', 'srs'];

/**
 * @param {any} ctx
 */
async function run(ctx) {
  const ns = ctx.opts.n ?? (ctx.quick ? [50, 100] : FULL_NS);
  const flvNs = ctx.opts.n ?? (ctx.quick ? [ns[ns.length - 1]] : ns);
  const points = [...ns.map((n) => ({ n, proto: 'rtmp' })), ...flvNs.map((n) => ({ n, proto: 'flv' }))];
  // The full run's 42 points (4 systems) must fit the ≈ 30 min budget of `npm run bench`: shorter
  // windows than the global default unless --warm-s / --window-s say otherwise.
  const timing = {
    warmMs: ctx.quick || ctx.opts.warmS != null ? ctx.warmMs : FULL_WARM_MS,
    windowMs: ctx.quick || ctx.opts.windowS != null ? ctx.windowMs : FULL_WINDOW_MS,
  };
  /** @type {any[]} */
  const rows = [];
  const notes = [];

  /**
   * @param {string} system
   * @param {() => Promise<{ ingest: string, rtmp: string, http: string | null, servers: string[], edgeOnly?: string[], stop: () => Promise<void> }>} start
   */
  const runSystem = async (system, start) => {
    const sys = await start();
    let pub = null;
    try {
      pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${sys.ingest}/${STREAM}` }], name: 'publisher' });
      for (const pt of points) {
        if (pt.proto === 'flv' && !sys.http) continue;
        const url = pt.proto === 'rtmp' ? `${sys.rtmp}/${STREAM}` : `${sys.http}/${STREAM}.flv`;
        log(`fanout: ${system} ${pt.proto} N=${pt.n}`);
        // First frames may take long at N = 800 / 1,200 on a loaded box: 30 s per player (default 10 s),
        // and the start phase waits for them; on a quiet box nothing changes (they start in well under 1 s).
        const specs = Array.from({ length: pt.n }, () => ({ proto: pt.proto, url, timeoutMs: 30000 }));
        let m;
        try {
          m = await measure(ctx, { publisher: pub, specs, servers: sys.servers, ...timing, procs: ctx.playerProcs(pt.n), startTimeoutMs: pt.n * 10 + 30000 });
        } catch (err) {
          // One point the box could not carry (e.g. a player process too starved to answer) must not
          // cost the other points: recorded, then on to the next.
          const msg = String(err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err).split('\n')[0];
          log(`  → failed: ${msg}`);
          notes.push(`${system} ${pt.proto} N=${pt.n}: no figure — ${msg}`);
          await sleep(1000);
          continue;
        }
        const edgeOnly = sys.edgeOnly ? cpuPerGbitOf(m, sys.edgeOnly) : null;
        rows.push({ system, proto: pt.proto, n: pt.n, ...m, edgeCpuPerGbit: edgeOnly, loadAvg1: Math.round(os.loadavg()[0] * 10) / 10 });
        log(`  → ${fmt(m)}`);
        await sleep(1000);
      }
    } finally {
      await pub?.stop();
      await sys.stop();
    }
  };

  await runSystem('cascade', async () => {
    const c = await startCascade(ctx, { origins: 1, edges: 1 });
    return { ingest: c.origins[0].rtmp, rtmp: c.edges[0].rtmp, http: c.edges[0].http, servers: c.serverNames, edgeOnly: ['edge-1'], stop: c.stop };
  });
  await runSystem('nms', async () => {
    const n = await startNms(ctx);
    return { ingest: n.rtmp, rtmp: n.rtmp, http: n.http, servers: n.serverNames, stop: n.stop };
  });
  if (ctx.nginx.available) {
    await runSystem('nginx-rtmp', async () => {
      const n = await startNginx(ctx);
      if (!n) throw new Error('nginx-rtmp did not start');
      return { ingest: n.rtmp, rtmp: n.rtmp, http: null, servers: n.serverNames, stop: n.stop };
    });
    notes.push('nginx-rtmp serves RTMP only here (its HTTP-FLV needs a third-party module): no HTTP-FLV row for it.');
  } else notes.push(ctx.nginx.note);
  if (srsBinary()) {
    await runSystem('srs', async () => {
      const s = await startSrs(ctx);
      if (!s) throw new Error('srs did not start');
      return { ingest: s.rtmp, rtmp: s.rtmp, http: s.http, servers: s.serverNames, stop: s.stop };
    });
    notes.push('SRS 6 runs with its default play settings (GOP cache on, merged writes mw_latency 350 ms: it trades latency for CPU); its HTTP-FLV is http_remux on the same process.');
  } else notes.push('SRS 6 skipped: no binary (BENCH_SRS_BIN or bench/.cache/srs/srs; bench/README.md "Peers: nginx-rtmp and SRS 6" builds one).');
  notes.push(`Timing per point: players ramp 10 ms apart, warm-up ${timing.warmMs / 1000} s, window ${timing.windowMs / 1000} s; ${ctx.playerProcs(250)} player process per 250 players.`);
  notes.push('HLS: node-media-server 4.4.3 has no HLS, so there is no peer row; the load tool has an HLS player (lib/players.js).');

  const comparisons = [];
  for (const r of rows.filter((x) => x.system === 'cascade')) {
    for (const peer of PEERS) {
      const p = rows.find((x) => x.system === peer && x.proto === r.proto && x.n === r.n);
      if (!p) continue;
      const c = `${r.proto} N=${r.n}`;
      comparisons.push(
        { case: c, metric: 'CPU-s / delivered Gbit', cascade: r.cpuPerGbit, peer: peer, peerValue: p.cpuPerGbit, ratio: ratio(r.cpuPerGbit, p.cpuPerGbit), better: 'lower' },
        // The issue's goal is about the edge: its CPU alone against the whole standalone NMS.
        ...(r.edgeCpuPerGbit != null ? [{ case: c, metric: 'edge-only CPU-s / delivered Gbit', cascade: r.edgeCpuPerGbit, peer, peerValue: p.cpuPerGbit, ratio: ratio(r.edgeCpuPerGbit, p.cpuPerGbit), better: 'lower' }] : []),
        { case: c, metric: 'latency p50 ms', cascade: r.latencyMs.p50, peer, peerValue: p.latencyMs.p50, ratio: ratio(r.latencyMs.p50, p.latencyMs.p50), better: 'lower' },
        { case: c, metric: 'latency p99 ms', cascade: r.latencyMs.p99, peer, peerValue: p.latencyMs.p99, ratio: ratio(r.latencyMs.p99, p.latencyMs.p99), better: 'lower' },
        { case: c, metric: 'TTFF p50 ms', cascade: r.ttffMs.p50, peer, peerValue: p.ttffMs.p50, ratio: ratio(r.ttffMs.p50, p.ttffMs.p50), better: 'lower' },
        { case: c, metric: 'kept-up (mean)', cascade: r.keptUp.mean, peer, peerValue: p.keptUp.mean, ratio: ratio(r.keptUp.mean, p.keptUp.mean, 3), better: 'higher' },
      );
    }
  }
  const table = {
    columns: ['system', 'proto', 'N', 'playing', 'delivered Mbit/s', 'server cores', 'CPU-s / Gbit (all)', 'edge CPU-s / Gbit', 'latency p50 / p99 ms', 'TTFF p50 ms', 'kept-up mean', 'load tool peak core', 'load avg 1 min', 'warnings'],
    rows: [...rows]
      .sort((a, b) => (a.proto === b.proto ? a.n - b.n || PEERS.indexOf(a.system) - PEERS.indexOf(b.system) : a.proto === 'rtmp' ? -1 : 1))
      .map((r) => [r.system, r.proto, r.n, `${r.started}/${r.players}`, r.deliveredMbitPerS, r.serverCores, r.cpuPerGbit, r.edgeCpuPerGbit ?? '–', `${r.latencyMs.p50} / ${r.latencyMs.p99}`, r.ttffMs.p50, r.keptUp.mean, r.loadToolPeakCore, r.loadAvg1, r.warnings.join('; ') || '–']),
  };
  return { params: { points, ...timing, stream: STREAM, cascadeTopology: 'discovery + origin-1 + edge-1; players on edge-1' }, rows, table, comparisons, notes };
}

/** CPU-s per Gbit counting only the named processes. */
function cpuPerGbitOf(m, names) {
  let cpu = 0;
  for (const n of names) cpu += m.procs[n]?.cpuS ?? 0;
  return m.deliveredGbit > 0 ? Math.round((cpu / m.deliveredGbit) * 1000) / 1000 : null;
}

/** One-line summary of a measurement. */
function fmt(m) {
  return `${m.started}/${m.players} playing, ${m.deliveredMbitPerS} Mbit/s, server ${m.serverCores} cores, ${m.cpuPerGbit} CPU-s/Gbit, latency p50/p99 ${m.latencyMs.p50}/${m.latencyMs.p99} ms, TTFF p50 ${m.ttffMs.p50} ms, kept-up ${m.keptUp.mean}, load tool peak ${m.loadToolPeakCore} core${m.warnings.length ? ` — WARN ${m.warnings.join('; ')}` : ''}`;
}

module.exports = { id: 'fanout', title: 'Fan-out from one edge', run, fmt };
