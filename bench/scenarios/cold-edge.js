'use strict';
/**
 * Cold-edge TTFF: a player asks an edge for a stream it does not carry yet. The edge picks an origin
 * round-robin; each stream is published to the origin the edge does NOT pick first for that pull
 * (pull i starts at origins[i % 2], so stream i lives on origins[(i + 1) % 2]), so every cold pull
 * goes edge → wrong origin → RTMP 302 → owner. TTFF = player start → first video keyframe.
 * Also: the same stream again while the edge carries it (warm), players sent straight to the wrong
 * origin (RTMP 302 / HTTP 302 followed by the player), and the peers' TTFF for a live stream.
 */
const { startCascade, startNms, startNginx } = require('../lib/systems');
const { startPublisher } = require('../lib/load');
const { PlayerPool } = require('../lib/players');
const { ratio } = require('../lib/stats');
const { percentile, round, sleep, log } = require('../lib/util');

/**
 * One player, in this process (nothing else runs meanwhile): TTFF, hops, error.
 * @param {import('../lib/players').PlayerSpec} spec
 * @param {(() => Promise<void>) | null} [whilePlaying] called once the first frame arrived
 */
async function ttffTrial(spec, whilePlaying = null) {
  const pool = new PlayerPool([{ ...spec, timeoutMs: 10000 }]);
  const p = pool.players[0];
  pool.start();
  const deadline = Date.now() + 12000;
  while (p.firstFrameAt === null && p.error === null && Date.now() < deadline) await sleep(10);
  if (p.firstFrameAt !== null && whilePlaying) await whilePlaying();
  pool.stop();
  return { ttffMs: p.ttffMs === null ? null : round(p.ttffMs), hops: p.hops, error: p.firstFrameAt === null ? (p.error ?? 'no first frame in 12 s') : null };
}

function stats(label, trials, extra = {}) {
  const t = trials.map((x) => x.ttffMs).filter((x) => x !== null);
  return { label, trials: trials.length, ok: t.length, p50: round(percentile(t, 50)), p95: round(percentile(t, 95)), max: round(percentile(t, 100)), ...extra, samples: trials };
}

async function run(ctx) {
  const k = ctx.quick ? 6 : 20;
  const rows = [];
  const notes = [];

  // ---- Cascade ---------------------------------------------------------------------------------
  const c = await startCascade(ctx, { origins: 2, edges: 1 });
  let pub = null;
  try {
    const [edge] = c.edges;
    const owner = (i) => c.origins[(i + 1) % 2];
    const other = (i) => c.origins[i % 2];
    const names = Array.from({ length: 2 * k }, (_, i) => `live/cold-${i}`);
    pub = await startPublisher(ctx, { file: ctx.media, targets: names.map((s, i) => ({ url: `${owner(i).rtmp}/${s}` })), timeoutMs: 30000 });
    log(`cold-edge: ${2 * k} streams live on their owners; ${2 * k} cold pulls through edge-1`);
    const cold = { rtmp: [], flv: [] };
    const warm = { rtmp: [], flv: [] };
    let followed = 0;
    for (let i = 0; i < 2 * k; i++) {
      const proto = i % 2 === 0 ? 'rtmp' : 'flv';
      const url = proto === 'rtmp' ? `${edge.rtmp}/${names[i]}` : `${edge.http}/${names[i]}.flv`;
      let edgeView = null;
      const r = await ttffTrial({ proto, url }, async () => {
        const s = await fetch(`${edge.http}/api/v1/streams`).then((x) => x.json()).catch(() => ({ streams: [] }));
        edgeView = s.streams.find((x) => `${x.app}/${x.name}` === names[i]) ?? null;
        // warm: a second player while the edge carries the stream
        warm[proto].push(await ttffTrial({ proto, url }));
      });
      const hops = edgeView ? edgeView.hops : null;
      if (hops === 1) followed++;
      cold[proto].push({ ...r, edgeHops: hops, owner: owner(i).id, firstPick: other(i).id });
    }
    rows.push(stats('Cascade cold edge, RTMP (edge → wrong origin → 302 → owner)', cold.rtmp));
    rows.push(stats('Cascade cold edge, HTTP-FLV (edge → wrong origin → 302 → owner)', cold.flv));
    rows.push(stats('Cascade warm edge, RTMP', warm.rtmp));
    rows.push(stats('Cascade warm edge, HTTP-FLV', warm.flv));
    notes.push(`Edge pulls that followed exactly one RTMP 302 (edge /api/v1/streams hops = 1): ${followed}/${2 * k}.`);

    const direct = { rtmp: [], flv: [] };
    for (let i = 0; i < k; i++) {
      direct.rtmp.push(await ttffTrial({ proto: 'rtmp', url: `${other(i).rtmp}/${names[i]}` }));
      direct.flv.push(await ttffTrial({ proto: 'flv', url: `${other(i).http}/${names[i]}.flv` }));
    }
    rows.push(stats('Player at the wrong origin, RTMP 302 followed by the player', direct.rtmp, { hops: direct.rtmp.map((x) => x.hops) }));
    rows.push(stats('Player at the wrong origin, HTTP 302 followed by the player', direct.flv, { hops: direct.flv.map((x) => x.hops) }));
  } finally {
    await pub?.stop();
    await c.stop();
  }

  // ---- peers -----------------------------------------------------------------------------------
  const peerRuns = [['nms', () => startNms(ctx)]];
  if (ctx.nginx.available) peerRuns.push(['nginx-rtmp', () => startNginx(ctx)]);
  else notes.push(ctx.nginx.note);
  for (const [name, start] of peerRuns) {
    const sys = await start();
    if (!sys) continue;
    pub = null;
    try {
      pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${sys.rtmp}/live/cold` }] });
      await sleep(500);
      const t = { rtmp: [], flv: [] };
      for (let i = 0; i < k; i++) {
        t.rtmp.push(await ttffTrial({ proto: 'rtmp', url: `${sys.rtmp}/live/cold` }));
        if (sys.http) t.flv.push(await ttffTrial({ proto: 'flv', url: `${sys.http}/live/cold.flv` }));
      }
      rows.push(stats(`${name}, RTMP, live stream`, t.rtmp));
      if (sys.http) rows.push(stats(`${name}, HTTP-FLV, live stream`, t.flv));
    } finally {
      await pub?.stop();
      await sys.stop();
    }
  }
  notes.push('Peers have no cluster: their TTFF is for a stream already live on the server the player asks (the best case a single server offers). nginx-rtmp keeps no GOP cache, so its players wait for the next keyframe (GOP 2 s).');

  const find = (prefix) => rows.find((r) => r.label.startsWith(prefix));
  const comparisons = [];
  for (const [proto, tag] of [['RTMP', 'RTMP'], ['HTTP-FLV', 'HTTP-FLV']]) {
    const coldRow = find(`Cascade cold edge, ${tag}`);
    for (const peer of ['nms', 'nginx-rtmp']) {
      const p = find(`${peer}, ${tag}`);
      if (!coldRow || !p) continue;
      comparisons.push({ case: `cold edge + 302, ${proto}`, metric: 'TTFF p50 ms', cascade: coldRow.p50, peer, peerValue: p.p50, ratio: ratio(coldRow.p50, p.p50), better: 'lower' });
      comparisons.push({ case: `cold edge + 302, ${proto}`, metric: 'TTFF p95 ms', cascade: coldRow.p95, peer, peerValue: p.p95, ratio: ratio(coldRow.p95, p.p95), better: 'lower' });
    }
  }
  const table = {
    columns: ['case', 'trials', 'ok', 'TTFF p50 ms', 'TTFF p95 ms', 'TTFF max ms'],
    rows: rows.map((r) => [r.label, r.trials, r.ok, r.p50, r.p95, r.max]),
  };
  return { params: { trialsPerCase: k }, rows, table, comparisons, notes };
}

module.exports = { id: 'cold-edge', title: 'Cold-edge TTFF with round-robin + RTMP 302', run, ttffTrial };
