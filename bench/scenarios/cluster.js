'use strict';
/**
 * Cluster: discovery + 2 origins + 2 edges, two streams (live/c1 published to origin-1, live/c2 to
 * origin-2), N players spread over (edge, stream, protocol): each edge pulls both streams, edge-2
 * lists the origins in the other order, so some pulls go through a 302. Compared with one standalone
 * node-media-server carrying the same two streams and the same N players.
 */
const { startCascade, startNms } = require('../lib/systems');
const { startPublisher, measure } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { fmt } = require('./fanout');
const { log, sleep } = require('../lib/util');

const STREAMS = ['live/c1', 'live/c2'];

/** Player i → edge i % E, stream (i >> 1) % 2, protocol (i >> 2) % 2. */
function spread(n, bases) {
  return Array.from({ length: n }, (_, i) => {
    const b = bases[i % bases.length];
    const stream = STREAMS[(i >> 1) % 2];
    const proto = (i >> 2) % 2 === 0 ? 'rtmp' : 'flv';
    return { proto, url: proto === 'rtmp' ? `${b.rtmp}/${stream}` : `${b.http}/${stream}.flv` };
  });
}

async function run(ctx) {
  const n = ctx.opts.n?.[ctx.opts.n.length - 1] ?? (ctx.quick ? 100 : 400);
  const timing = { warmMs: ctx.warmMs, windowMs: ctx.windowMs };
  const rows = [];

  const c = await startCascade(ctx, { origins: 2, edges: 2, edgeOrigins: (i, o) => (i === 0 ? o : [...o].reverse()) });
  let pub = null;
  try {
    pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${c.origins[0].rtmp}/${STREAMS[0]}` }, { url: `${c.origins[1].rtmp}/${STREAMS[1]}` }] });
    log(`cluster: cascade N=${n} over 2 edges × 2 streams × rtmp/flv`);
    const m = await measure(ctx, { publisher: pub, specs: spread(n, c.edges), servers: c.serverNames, ...timing, procs: ctx.playerProcs(n) });
    const upstreams = [];
    for (const e of c.edges) {
      const r = await fetch(`${e.http}/api/v1/streams`).then((x) => x.json()).catch(() => ({ streams: [] }));
      for (const s of r.streams) upstreams.push({ edge: e.id, stream: `${s.app}/${s.name}`, upstream: s.upstream, hops: s.hops });
    }
    rows.push({ system: 'cascade', proto: 'mixed', n, ...m, upstreams });
    log(`  → ${fmt(m)}`);
  } finally {
    await pub?.stop();
    await c.stop();
  }
  await sleep(1000);

  const nms = await startNms(ctx);
  pub = null;
  try {
    pub = await startPublisher(ctx, { file: ctx.media, targets: STREAMS.map((s) => ({ url: `${nms.rtmp}/${s}` })) });
    log(`cluster: nms N=${n} (one process, same two streams)`);
    const m = await measure(ctx, { publisher: pub, specs: spread(n, [nms]), servers: nms.serverNames, ...timing, procs: ctx.playerProcs(n) });
    rows.push({ system: 'nms', proto: 'mixed', n, ...m });
    log(`  → ${fmt(m)}`);
  } finally {
    await pub?.stop();
    await nms.stop();
  }

  const [cr, pr] = rows;
  const cs = `2 origins + 2 edges, 2 streams, N=${n}`;
  const comparisons = [
    { case: cs, metric: 'CPU-s / delivered Gbit', cascade: cr.cpuPerGbit, peer: 'nms', peerValue: pr.cpuPerGbit, ratio: ratio(cr.cpuPerGbit, pr.cpuPerGbit), better: 'lower' },
    { case: cs, metric: 'latency p50 ms', cascade: cr.latencyMs.p50, peer: 'nms', peerValue: pr.latencyMs.p50, ratio: ratio(cr.latencyMs.p50, pr.latencyMs.p50), better: 'lower' },
    { case: cs, metric: 'latency p99 ms', cascade: cr.latencyMs.p99, peer: 'nms', peerValue: pr.latencyMs.p99, ratio: ratio(cr.latencyMs.p99, pr.latencyMs.p99), better: 'lower' },
    { case: cs, metric: 'TTFF p50 ms', cascade: cr.ttffMs.p50, peer: 'nms', peerValue: pr.ttffMs.p50, ratio: ratio(cr.ttffMs.p50, pr.ttffMs.p50), better: 'lower' },
    { case: cs, metric: 'kept-up (mean)', cascade: cr.keptUp.mean, peer: 'nms', peerValue: pr.keptUp.mean, ratio: ratio(cr.keptUp.mean, pr.keptUp.mean, 3), better: 'higher' },
  ];
  const notes = [
    'Players: i → edge i % 2, stream (i >> 1) % 2, RTMP or HTTP-FLV by (i >> 2) % 2. Cascade CPU counts all five processes (discovery, 2 origins, 2 edges).',
    'The peer is a single node-media-server process with both streams: NMS has no cluster mode, so this compares the cost per delivered Gbit of the whole cluster with one server.',
    'nginx-rtmp: not compared here (RTMP only; the mixed RTMP/HTTP-FLV load is not like for like).',
  ];
  return { params: { n, streams: STREAMS, ...timing }, rows, comparisons, notes };
}

module.exports = { id: 'cluster', title: 'Cluster: 2 origins, 2 edges, players spread', run };
