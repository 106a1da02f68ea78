'use strict';
/**
 * Shed gap: the gap a viewer at an edge sees when an origin sheds a publisher (docs/design.md
 * section 5, `POST /api/v1/streams/:app/:name/shed`), over 20 sheds (--quick: 8) for each path:
 *   - direct: the publisher pushes to origin-1 itself (no E-RTMP capsEx, like ffmpeg or an old
 *     OBS); the shed disconnects it with `NetStream.Publish.Rejected` and it re-publishes where
 *     discovery's publish-url says (lib/moves.js followRepublish: what OBS with a publish-url
 *     script does) — the classic forced re-push;
 *   - via the gateway: the publisher pushes to edge-1's publish gateway, which announces capsEx;
 *     the origin sends the E-RTMP ReconnectRequest and the gateway moves the publish at a keyframe
 *     without the encoder noticing (its connection to the edge stays up).
 * discovery + origin-1 + origin-2 + edge-1; one publisher process with one target per stream (the
 * cached 720p30 file, GOP 2 s); one RTMP viewer per stream on edge-1. The streams are shed one after
 * the other (each once, from the origin that owns it, the next when discovery shows the new owner),
 * then the viewers play 5 s more. Gap = the viewer's longest pause between two frames.
 * Automatic shedding and admission are switched off (huge --capacity) so only the API sheds.
 */
const { startCascade } = require('../lib/systems');
const { startPublisher, startPlayers } = require('../lib/load');
const { ORIGIN_FLAGS, ownerOf, shed, followRepublish } = require('../lib/moves');
const { percentile, round, sleep, log, waitFor } = require('../lib/util');
const os = require('node:os');

async function run(ctx) {
  const k = ctx.quick ? 8 : 20;
  const notes = [];
  const rows = [];
  const c = await startCascade(ctx, { origins: 2, edges: 1, originFlags: ORIGIN_FLAGS, edgeFlags: ['--failover-grace-ms', '20000'] });
  try {
    for (const path of ['direct', 'gateway']) rows.push(await runPath(ctx, c, path, k));
  } finally {
    await c.stop();
  }
  const fmtGap = (g) => (g ? `${g.p50} / ${g.p95} / ${g.max}` : 'n/a');
  const table = {
    columns: ['path', 'sheds', 'viewer gap p50 / p95 / max ms', 'viewers lost', 'encoder disconnected', 'moved (owner changed in discovery)', 'shed → new owner p50 / max ms', 'load avg 1 min'],
    rows: rows.map((r) => [r.path, r.sheds, fmtGap(r.gapMs), r.viewersLost, r.encoderDisconnects, `${r.moved}/${r.sheds}`, r.moveMs ? `${r.moveMs.p50} / ${r.moveMs.max}` : 'n/a', r.loadAvg1]),
  };
  const comparisons = rows.flatMap((r) => [
    { case: `shed ${r.path === 'direct' ? 'direct (forced re-push)' : 'via the edge gateway'}, ${r.sheds} sheds`, metric: 'viewer gap p50 ms', cascade: r.gapMs?.p50 ?? null, peer: 'n/a (no cluster)', peerValue: null, ratio: null, better: 'lower' },
    { case: `shed ${r.path === 'direct' ? 'direct (forced re-push)' : 'via the edge gateway'}, ${r.sheds} sheds`, metric: 'viewer gap p95 ms', cascade: r.gapMs?.p95 ?? null, peer: 'n/a (no cluster)', peerValue: null, ratio: null, better: 'lower' },
  ]);
  notes.push(
    'Peers: node-media-server, nginx-rtmp and SRS 6 have no shedding (no cluster to move a publisher to): no peer figure.',
    'A frame gap of one GOP (2 s here) is what a move that waits for the next keyframe costs at most; the direct path adds the encoder\'s reconnect (asking discovery, a new RTMP handshake, then its next keyframe).',
    'Viewers play with replay on: one the edge closes plays again at once (counted under "viewers lost", its gap then runs from its last frame to the first keyframe after playing again); a gap is reported for every viewer that resumed.',
    'Settings: --capacity 100000 and --shed-sustain-ms 3600000 on the origins (only the API sheds), edge --failover-grace-ms 20000, product defaults otherwise (reconnectWaitMs 5 s, shed avoid window 10 s).',
  );
  return { params: { sheds: k, topology: 'discovery + origin-1 + origin-2 + edge-1; one RTMP viewer per stream on edge-1' }, rows, table, comparisons, notes };
}

/**
 * @param {any} ctx @param {Awaited<ReturnType<typeof startCascade>>} c @param {'direct' | 'gateway'} path @param {number} k
 */
async function runPath(ctx, c, path, k) {
  const [edge] = c.edges;
  const streams = Array.from({ length: k }, (_, i) => `live/shed-${path}-${String(i + 1).padStart(2, '0')}`);
  const ingest = path === 'direct' ? c.origins[0].rtmp : edge.rtmp;
  log(`shed: ${path}, ${k} streams → ${path === 'direct' ? 'origin-1' : 'edge-1 publish gateway'}`);
  const pub = await startPublisher(ctx, { file: ctx.media, targets: streams.map((s) => ({ url: `${ingest}/${s}` })), name: `publisher-${path}`, timeoutMs: 30000 });
  const follow = path === 'direct' ? followRepublish(pub, c.discoveryUrl) : null;
  let players = null;
  try {
    for (const s of streams) await waitFor(async () => (await ownerOf(c.discoveryUrl, s)) !== null, 15000, `${s} claimed`);
    players = await startPlayers(ctx, { specs: streams.map((s) => ({ proto: 'rtmp', url: `${edge.rtmp}/${s}`, replay: true })), rampMs: 100, name: `viewers-${path}` });
    const st = await players.waitStarted(40000);
    if (st.started < k) {
      const rs = await players.stop();
      players = null;
      if (process.env.BENCH_DEBUG) log(`edge output:\n${edge.proc.output.slice(-6000)}\norigin-1 output:\n${c.origins[0].proc.output.slice(-4000)}`);
      throw new Error(`only ${st.started}/${k} viewers started (${st.failed} failed): ${[...new Set(rs.map((r) => r.error).filter(Boolean))].join(' | ')}`);
    }
    await sleep(2000);
    const moveMs = [];
    const skipped = [];
    for (const s of streams) {
      let from = null;
      await waitFor(async () => (from = await ownerOf(c.discoveryUrl, s)) !== null, 10000, `${s} owned`).catch(() => undefined);
      const origin = c.origins.find((o) => o.id === from);
      if (!origin) {
        log(`  ${s}: no owner in discovery before its shed; not shed`);
        skipped.push(s);
        continue;
      }
      const t0 = Date.now();
      await shed(origin.http, s);
      try {
        await waitFor(async () => {
          const o = await ownerOf(c.discoveryUrl, s);
          return o !== null && o !== from;
        }, 15000, `${s} to move off ${from}`, 50);
        moveMs.push(Date.now() - t0);
      } catch (err) {
        log(`  ${String(err).split('\n')[0]}`);
        if (process.env.BENCH_DEBUG) log(`origin output:\n${origin.proc.output.slice(-5000)}`);
      }
      await sleep(500);
    }
    await sleep(5000); // every viewer past its gap (2 GOPs)
    const results = await players.stop();
    players = null;
    const connected = results.filter((r) => r.disconnects === 0);
    const gaps = results.filter((r) => !skipped.includes(r.stream)).map(viewerGap).filter((g) => g !== null);
    const encoderDisconnects = pub.ipc.events.filter((e) => e.event === 'dropped').length;
    const row = {
      path,
      sheds: k - skipped.length,
      notShed: skipped,
      gapMs: gaps.length ? { p50: round(percentile(gaps, 50)), p95: round(percentile(gaps, 95)), max: round(percentile(gaps, 100)) } : null,
      gapsMs: results.map((r) => ({ stream: r.stream, maxFrameGapMs: round(r.maxFrameGapMs), gapMs: viewerGap(r), disconnects: r.disconnects, error: r.error })),
      viewersLost: results.length - connected.length,
      encoderDisconnects,
      moved: moveMs.length,
      moveMs: moveMs.length ? { p50: round(percentile(moveMs, 50)), max: round(percentile(moveMs, 100)) } : null,
      republishes: follow ? follow.moves.length : 0,
      loadAvg1: round(os.loadavg()[0]),
    };
    log(`  → gap p50/p95/max ${row.gapMs ? `${row.gapMs.p50}/${row.gapMs.p95}/${row.gapMs.max}` : 'n/a'} ms, viewers lost ${row.viewersLost}, encoder disconnects ${encoderDisconnects}, moved ${row.moved}/${k}`);
    return row;
  } finally {
    if (players) await players.stop();
    follow?.stop();
    await pub.stop();
  }
}

/**
 * A viewer's gap: its longest pause between two frames in its session; for a viewer the edge closed
 * (it plays again at once, every 200 ms), the longer of that and last frame → first keyframe after.
 * null when it never resumed.
 */
function viewerGap(r) {
  let g = r.maxFrameGapMs;
  for (const o of r.outages) {
    if (o.gapMs === null) return null;
    g = Math.max(g, o.gapMs);
  }
  return round(g);
}

module.exports = { viewerGap, id: 'shed', title: 'Shed gap (20 sheds, --quick 8; direct and via the edge publish gateway)', run };
