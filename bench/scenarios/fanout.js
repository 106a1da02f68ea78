'use strict';
/**
 * Fan-out from one edge: one publisher → origin-1 → edge-1 → N players, against the same N players
 * on a standalone node-media-server 4.4.3 and (RTMP only) nginx-rtmp. Cascade's CPU counts every
 * Cascade process (discovery + origin + edge): the whole system that delivers the stream.
 */
const { startCascade, startNms, startNginx } = require('../lib/systems');
const { startPublisher, measure } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { sleep, log } = require('../lib/util');

const STREAM = 'live/fanout';

/**
 * @param {any} ctx
 */
async function run(ctx) {
  const ns = ctx.opts.n ?? (ctx.quick ? [50, 100] : [50, 100, 200, 400, 800]);
  const flvNs = ctx.opts.n ?? (ctx.quick ? [ns[ns.length - 1]] : ns);
  const points = [...ns.map((n) => ({ n, proto: 'rtmp' })), ...flvNs.map((n) => ({ n, proto: 'flv' }))];
  const timing = { warmMs: ctx.warmMs, windowMs: ctx.windowMs };
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
        const specs = Array.from({ length: pt.n }, () => ({ proto: pt.proto, url }));
        const m = await measure(ctx, { publisher: pub, specs, servers: sys.servers, ...timing, procs: ctx.playerProcs(pt.n) });
        const edgeOnly = sys.edgeOnly ? cpuPerGbitOf(m, sys.edgeOnly) : null;
        rows.push({ system, proto: pt.proto, n: pt.n, ...m, edgeCpuPerGbit: edgeOnly });
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
  notes.push('HLS: node-media-server 4.4.3 has no HLS, so there is no peer row; the load tool has an HLS player (lib/players.js).');

  const comparisons = [];
  for (const r of rows.filter((x) => x.system === 'cascade')) {
    for (const peer of ['nms', 'nginx-rtmp']) {
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
  return { params: { points, ...timing, stream: STREAM, cascadeTopology: 'discovery + origin-1 + edge-1; players on edge-1' }, rows, comparisons, notes };
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
