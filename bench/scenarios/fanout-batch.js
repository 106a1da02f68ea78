'use strict';
/**
 * The edge's batching (`fanoutBatchMode`, `fanoutBatchMs`) as a trade-off: one publisher → origin-1 →
 * edge-1 → N players (default N = 400, RTMP) with the edge in `window` mode (the default) at 0, 10,
 * 20 and 40 ms and in `frame` mode (fanoutBatchMs 50), against the same N on a standalone node-media-server 4.4.3 (and
 * nginx-rtmp / SRS 6 when available, RTMP only), all in one run: edge CPU per delivered Gbit and
 * latency p50 / p99 for each setting.
 * `--n 400,800` runs each N; BENCH_BATCH_MS=0,20,frame,frame:40 changes the settings (a number is
 * window mode at that many ms, `frame` frame mode with fanoutBatchMs 50, `frame:MS` with MS);
 * BENCH_FANOUT_PROTO=rtmp,flv adds HTTP-FLV players.
 */
const { startCascade, startNms, startNginx, startSrs, srsBinary } = require('../lib/systems');
const { startPublisher, measure } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { sleep, log } = require('../lib/util');
const os = require('node:os');
const { fmt } = require('./fanout');

const STREAM = 'live/batch';

async function run(ctx) {
  const ns = ctx.opts.n ?? [400];
  const n = ns[0];
  const windows = (process.env.BENCH_BATCH_MS ?? '0,10,20,40,frame').split(',').map(parseSetting);
  const protos = (process.env.BENCH_FANOUT_PROTO ?? 'rtmp').split(',');
  for (const p of protos) if (p !== 'rtmp' && p !== 'flv') throw new Error(`BENCH_FANOUT_PROTO: ${p} is neither rtmp nor flv`);
  const timing = { warmMs: ctx.warmMs, windowMs: ctx.windowMs };
  const rows = [];
  const notes = [];

  const runSystem = async (system, start, extra = {}) => {
    const sys = await start();
    let pub = null;
    try {
      pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${sys.ingest}/${STREAM}` }], name: 'publisher' });
      for (const proto of protos) {
        if (proto === 'flv' && !sys.http) continue;
        for (const count of ns) {
          log(`fanout-batch: ${system} ${proto} N=${count}`);
          const url = proto === 'rtmp' ? `${sys.rtmp}/${STREAM}` : `${sys.http}/${STREAM}.flv`;
          const specs = Array.from({ length: count }, () => ({ proto, url }));
          const m = await measure(ctx, { publisher: pub, specs, servers: sys.servers, ...timing, procs: ctx.playerProcs(count) });
          const edgeCpu = sys.edgeOnly ? sys.edgeOnly.reduce((s, name) => s + (m.procs[name]?.cpuS ?? 0), 0) : null;
          const edgeCpuPerGbit = edgeCpu !== null && m.deliveredGbit > 0 ? Math.round((edgeCpu / m.deliveredGbit) * 1000) / 1000 : null;
          rows.push({ system, proto, n: count, ...extra, ...m, edgeCpuPerGbit, loadAvg1: Math.round(os.loadavg()[0] * 10) / 10 });
          log(`  → ${fmt(m)}${edgeCpuPerGbit !== null ? `, edge alone ${edgeCpuPerGbit} CPU-s/Gbit` : ''}`);
          await sleep(1000);
        }
      }
    } finally {
      await pub?.stop();
      await sys.stop();
    }
  };

  for (const w of windows) {
    await runSystem(w.label, async () => {
      const flags = ['--fanout-batch-mode', w.mode, ...(w.batchMs !== undefined ? ['--fanout-batch-ms', String(w.batchMs)] : [])];
      const c = await startCascade(ctx, { origins: 1, edges: 1, edgeFlags: flags });
      return { ingest: c.origins[0].rtmp, rtmp: c.edges[0].rtmp, http: c.edges[0].http, servers: c.serverNames, edgeOnly: ['edge-1'], stop: c.stop };
    }, { setting: w.setting, batchMode: w.mode, batchMs: w.batchMs ?? null });
  }
  await runSystem('nms', async () => {
    const s = await startNms(ctx);
    return { ingest: s.rtmp, rtmp: s.rtmp, http: s.http, servers: s.serverNames, stop: s.stop };
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
  for (const r of rows.filter((x) => x.setting !== undefined)) {
    const c = `${r.proto} N=${r.n}, ${r.setting}`;
    const peerRow = (system) => rows.find((x) => x.system === system && x.proto === r.proto && x.n === r.n);
    const srs = peerRow('srs');
    if (srs) {
      comparisons.push(
        { case: c, metric: 'edge-only CPU-s / delivered Gbit', cascade: r.edgeCpuPerGbit, peer: 'srs', peerValue: srs.cpuPerGbit, ratio: ratio(r.edgeCpuPerGbit, srs.cpuPerGbit), better: 'lower' },
        { case: c, metric: 'latency p99 ms', cascade: r.latencyMs.p99, peer: 'srs', peerValue: srs.latencyMs.p99, ratio: ratio(r.latencyMs.p99, srs.latencyMs.p99), better: 'lower' },
      );
    }
    const nms = peerRow('nms');
    if (!nms) continue;
    comparisons.push(
      { case: c, metric: 'edge-only CPU-s / delivered Gbit', cascade: r.edgeCpuPerGbit, peer: 'nms', peerValue: nms.cpuPerGbit, ratio: ratio(r.edgeCpuPerGbit, nms.cpuPerGbit), better: 'lower' },
      { case: c, metric: 'CPU-s / delivered Gbit (discovery + origin + edge)', cascade: r.cpuPerGbit, peer: 'nms', peerValue: nms.cpuPerGbit, ratio: ratio(r.cpuPerGbit, nms.cpuPerGbit), better: 'lower' },
      { case: c, metric: 'latency p50 ms', cascade: r.latencyMs.p50, peer: 'nms', peerValue: nms.latencyMs.p50, ratio: ratio(r.latencyMs.p50, nms.latencyMs.p50), better: 'lower' },
      { case: c, metric: 'latency p99 ms', cascade: r.latencyMs.p99, peer: 'nms', peerValue: nms.latencyMs.p99, ratio: ratio(r.latencyMs.p99, nms.latencyMs.p99), better: 'lower' },
    );
  }
  const table = {
    columns: ['system', 'proto', 'N', 'playing', 'delivered Mbit/s', 'server cores', 'CPU-s / Gbit (all)', 'edge CPU-s / Gbit', 'latency p50 / p95 / p99 ms', 'kept-up mean', 'load tool peak core', 'load avg 1 min', 'warnings'],
    rows: rows.map((r) => [r.system, r.proto, r.n, `${r.started}/${r.players}`, r.deliveredMbitPerS, r.serverCores, r.cpuPerGbit, r.edgeCpuPerGbit ?? '–', `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99}`, r.keptUp.mean, r.loadToolPeakCore, r.loadAvg1, r.warnings.join('; ') || '–']),
  };
  notes.push(`One run: the Cascade rows (discovery + origin-1 + edge-1, edge started with --fanout-batch-mode and --fanout-batch-ms) one after the other, then the peers, each with a fresh publisher and ${ns.join(' then ')} ${protos.join(' then ')} players (warm-up ${timing.warmMs / 1000} s, window ${timing.windowMs / 1000} s). Edge-only CPU per Gbit is compared with the whole standalone node-media-server. nginx-rtmp and SRS serve RTMP only here.`);
  return { params: { n, ns, protos, windows, ...timing, stream: STREAM }, rows, table, comparisons, notes };
}

/** `20` → window mode, 20 ms; `frame` → frame mode, audio waiting at most 50 ms; `frame:40` → 40 ms. */
function parseSetting(x) {
  const [mode, ms] = x.trim().split(':');
  if (mode === 'frame') {
    const batchMs = ms === undefined ? 50 : Number(ms);
    if (!Number.isInteger(batchMs) || batchMs < 0) throw new Error(`BENCH_BATCH_MS: bad setting ${x}`);
    return { mode: 'frame', batchMs, setting: `frame, fanoutBatchMs ${batchMs}`, label: `cascade frame ${batchMs} ms` };
  }
  const batchMs = Number(mode);
  if (!Number.isInteger(batchMs) || batchMs < 0) throw new Error(`BENCH_BATCH_MS: bad setting ${x} (a number of ms, frame or frame:MS)`);
  return { mode: 'window', batchMs, setting: `fanoutBatchMs ${batchMs}`, label: `cascade batch ${batchMs} ms` };
}

module.exports = { id: 'fanout-batch', title: 'Edge batching window: CPU against latency', run };
