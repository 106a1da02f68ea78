'use strict';
/**
 * The edge's batching window (`fanoutBatchMs`) as a trade-off: one publisher → origin-1 → edge-1 →
 * N RTMP players (default N = 400) with the edge's window at 0, 10, 20 and 40 ms, against the same N
 * on a standalone node-media-server 4.4.3 (and nginx-rtmp when available), all in one run: edge CPU
 * per delivered Gbit and latency p50 / p99 for each window.
 * `--n 200` changes N; BENCH_BATCH_MS=0,20 changes the windows.
 */
const { startCascade, startNms, startNginx, startSrs, srsBinary } = require('../lib/systems');
const { startPublisher, measure } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { sleep, log } = require('../lib/util');
const os = require('node:os');
const { fmt } = require('./fanout');

const STREAM = 'live/batch';

async function run(ctx) {
  const n = (ctx.opts.n ?? [400])[0];
  const windows = (process.env.BENCH_BATCH_MS ?? '0,10,20,40').split(',').map(Number);
  const timing = { warmMs: ctx.warmMs, windowMs: ctx.windowMs };
  const rows = [];
  const notes = [];

  const runSystem = async (system, start, extra = {}) => {
    const sys = await start();
    let pub = null;
    try {
      pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${sys.ingest}/${STREAM}` }], name: 'publisher' });
      log(`fanout-batch: ${system} rtmp N=${n}`);
      const specs = Array.from({ length: n }, () => ({ proto: 'rtmp', url: `${sys.rtmp}/${STREAM}` }));
      const m = await measure(ctx, { publisher: pub, specs, servers: sys.servers, ...timing, procs: ctx.playerProcs(n) });
      const edgeCpu = sys.edgeOnly ? sys.edgeOnly.reduce((s, name) => s + (m.procs[name]?.cpuS ?? 0), 0) : null;
      const edgeCpuPerGbit = edgeCpu !== null && m.deliveredGbit > 0 ? Math.round((edgeCpu / m.deliveredGbit) * 1000) / 1000 : null;
      rows.push({ system, proto: 'rtmp', n, ...extra, ...m, edgeCpuPerGbit, loadAvg1: Math.round(os.loadavg()[0] * 10) / 10 });
      log(`  → ${fmt(m)}${edgeCpuPerGbit !== null ? `, edge alone ${edgeCpuPerGbit} CPU-s/Gbit` : ''}`);
      await sleep(1000);
    } finally {
      await pub?.stop();
      await sys.stop();
    }
  };

  for (const batchMs of windows) {
    await runSystem(`cascade batch ${batchMs} ms`, async () => {
      const c = await startCascade(ctx, { origins: 1, edges: 1, edgeFlags: ['--fanout-batch-ms', String(batchMs)] });
      return { ingest: c.origins[0].rtmp, rtmp: c.edges[0].rtmp, servers: c.serverNames, edgeOnly: ['edge-1'], stop: c.stop };
    }, { batchMs });
  }
  await runSystem('nms', async () => {
    const s = await startNms(ctx);
    return { ingest: s.rtmp, rtmp: s.rtmp, servers: s.serverNames, stop: s.stop };
  });
  if (ctx.nginx.available) {
    await runSystem('nginx-rtmp', async () => {
      const s = await startNginx(ctx);
      if (!s) throw new Error('nginx-rtmp did not start');
      return { ingest: s.rtmp, rtmp: s.rtmp, servers: s.serverNames, stop: s.stop };
    });
  } else notes.push(ctx.nginx.note);
  if (srsBinary()) {
    await runSystem('srs', async () => {
      const s = await startSrs(ctx);
      if (!s) throw new Error('srs did not start');
      return { ingest: s.rtmp, rtmp: s.rtmp, servers: s.serverNames, stop: s.stop };
    });
  } else notes.push('SRS 6 skipped: no binary (BENCH_SRS_BIN or bench/.cache/srs/srs; bench/README.md "SRS 6" builds one).');

  const comparisons = [];
  const nms = rows.find((r) => r.system === 'nms');
  const srs = rows.find((r) => r.system === 'srs');
  for (const r of rows.filter((x) => x.batchMs !== undefined)) {
    if (srs) {
      const c = `rtmp N=${n}, fanoutBatchMs ${r.batchMs}`;
      comparisons.push(
        { case: c, metric: 'edge-only CPU-s / delivered Gbit', cascade: r.edgeCpuPerGbit, peer: 'srs', peerValue: srs.cpuPerGbit, ratio: ratio(r.edgeCpuPerGbit, srs.cpuPerGbit), better: 'lower' },
        { case: c, metric: 'latency p99 ms', cascade: r.latencyMs.p99, peer: 'srs', peerValue: srs.latencyMs.p99, ratio: ratio(r.latencyMs.p99, srs.latencyMs.p99), better: 'lower' },
      );
    }
    const c = `rtmp N=${n}, fanoutBatchMs ${r.batchMs}`;
    if (!nms) continue;
    comparisons.push(
      { case: c, metric: 'edge-only CPU-s / delivered Gbit', cascade: r.edgeCpuPerGbit, peer: 'nms', peerValue: nms.cpuPerGbit, ratio: ratio(r.edgeCpuPerGbit, nms.cpuPerGbit), better: 'lower' },
      { case: c, metric: 'CPU-s / delivered Gbit (discovery + origin + edge)', cascade: r.cpuPerGbit, peer: 'nms', peerValue: nms.cpuPerGbit, ratio: ratio(r.cpuPerGbit, nms.cpuPerGbit), better: 'lower' },
      { case: c, metric: 'latency p50 ms', cascade: r.latencyMs.p50, peer: 'nms', peerValue: nms.latencyMs.p50, ratio: ratio(r.latencyMs.p50, nms.latencyMs.p50), better: 'lower' },
      { case: c, metric: 'latency p99 ms', cascade: r.latencyMs.p99, peer: 'nms', peerValue: nms.latencyMs.p99, ratio: ratio(r.latencyMs.p99, nms.latencyMs.p99), better: 'lower' },
    );
  }
  const table = {
    columns: ['system', 'N', 'playing', 'delivered Mbit/s', 'server cores', 'CPU-s / Gbit (all)', 'edge CPU-s / Gbit', 'latency p50 / p95 / p99 ms', 'kept-up mean', 'load tool peak core', 'load avg 1 min', 'warnings'],
    rows: rows.map((r) => [r.system, r.n, `${r.started}/${r.players}`, r.deliveredMbitPerS, r.serverCores, r.cpuPerGbit, r.edgeCpuPerGbit ?? '–', `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99}`, r.keptUp.mean, r.loadToolPeakCore, r.loadAvg1, r.warnings.join('; ') || '–']),
  };
  notes.push(`One run: the Cascade rows (discovery + origin-1 + edge-1, edge started with --fanout-batch-ms) one after the other, then the peers, each with a fresh publisher and ${n} RTMP players (warm-up ${timing.warmMs / 1000} s, window ${timing.windowMs / 1000} s). Edge-only CPU per Gbit is compared with the whole standalone node-media-server.`);
  return { params: { n, windows, ...timing, stream: STREAM }, rows, table, comparisons, notes };
}

module.exports = { id: 'fanout-batch', title: 'Edge batching window: CPU against latency', run };
