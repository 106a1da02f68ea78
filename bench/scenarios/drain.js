'use strict';
/**
 * Drain: origin-1 holds 10 publishers watched by 200 viewers on edge-1 (20 per stream, RTMP and
 * HTTP-FLV alternating) and is drained with `POST /api/v1/drain` (`drain(deadline)`, what SIGTERM,
 * `deploy/bin/drain.js` and discovery's `POST /v1/admin/origins/:id/drain` do; docs/design.md
 * section 5): it turns `draining`, admits nothing, sheds its publishers one at a time (fewest viewers
 * first) and exits. The publishers push to origin-1 directly without E-RTMP capsEx, so each is
 * disconnected and re-publishes where discovery's publish-url says (lib/moves.js followRepublish).
 * Measured: per stream the viewers' gap p50 / p95 / max, which publishers moved and where, viewers
 * lost, and the time from the drain call until origin-1 holds no publisher (discovery shows every
 * stream on another origin) and until its process exited.
 * discovery + origin-1 + origin-2 + edge-1. --quick: 4 publishers, 40 viewers.
 */
const os = require('node:os');
const { startCascade } = require('../lib/systems');
const { startPublisher, startPlayers } = require('../lib/load');
const { ORIGIN_FLAGS, ownerOf, drain, followRepublish } = require('../lib/moves');
const { percentile, round, sleep, log, waitFor } = require('../lib/util');
const { viewerGap } = require('./shed');

const DEADLINE_MS = 30000;

async function run(ctx) {
  const publishers = ctx.quick ? 4 : 10;
  const perStream = 20;
  const notes = [];
  const c = await startCascade(ctx, { origins: 2, edges: 1, originFlags: ORIGIN_FLAGS, edgeFlags: ['--failover-grace-ms', '20000'] });
  let pub = null;
  let follow = null;
  let players = null;
  try {
    const [o1] = c.origins;
    const [edge] = c.edges;
    const streams = Array.from({ length: publishers }, (_, i) => `live/drain-${String(i + 1).padStart(2, '0')}`);
    log(`drain: ${publishers} publishers → origin-1, ${publishers * perStream} viewers on edge-1`);
    pub = await startPublisher(ctx, { file: ctx.media, targets: streams.map((s) => ({ url: `${o1.rtmp}/${s}` })), name: 'publisher', timeoutMs: 30000 });
    follow = followRepublish(pub, c.discoveryUrl);
    for (const s of streams) await waitFor(async () => (await ownerOf(c.discoveryUrl, s)) === 'origin-1', 15000, `${s} on origin-1`);
    const specs = streams.flatMap((s) => Array.from({ length: perStream }, (_, j) => (j % 2 === 0 ? { proto: 'rtmp', url: `${edge.rtmp}/${s}`, replay: true } : { proto: 'flv', url: `${edge.http}/${s}.flv`, replay: true })));
    players = await startPlayers(ctx, { specs, procs: ctx.playerProcs(specs.length) });
    const st = await players.waitStarted(60000);
    if (st.started < specs.length) {
      const rs = await players.stop();
      players = null;
      throw new Error(`only ${st.started}/${specs.length} viewers started (${st.failed} failed): ${[...new Set(rs.map((r) => r.error).filter(Boolean))].join(' | ')}`);
    }
    await sleep(3000);

    const exited = o1.proc.exited.then(() => Date.now());
    const t0 = Date.now();
    const answer = await drain(o1.http, DEADLINE_MS);
    log(`  POST /api/v1/drain → ${JSON.stringify(answer)}`);
    /** @type {Record<string, { movedAfterMs: number, to: string } | null>} */
    const moved = Object.fromEntries(streams.map((s) => [s, null]));
    /** @type {Record<string, number | null>} when discovery stopped naming origin-1 as the owner (its lease released) */
    const off = Object.fromEntries(streams.map((s) => [s, null]));
    await waitFor(async () => {
      await Promise.all(
        streams.map(async (s) => {
          if (moved[s]) return;
          const o = await ownerOf(c.discoveryUrl, s);
          if (o !== 'origin-1' && off[s] === null) off[s] = Date.now() - t0;
          if (o && o !== 'origin-1') moved[s] = { movedAfterMs: Date.now() - t0, to: o };
        }),
      );
      return streams.every((s) => moved[s]);
    }, DEADLINE_MS + 15000, 'every stream on another origin', 100).catch((err) => log(`  ${String(err).split('\n')[0]}`));
    const emptyAfterMs = streams.every((s) => off[s] !== null) ? Math.max(...streams.map((s) => /** @type {number} */ (off[s]))) : null;
    const allMovedAfterMs = streams.every((s) => moved[s]) ? Math.max(...streams.map((s) => /** @type {any} */ (moved[s]).movedAfterMs)) : null;
    const exitAfterMs = await Promise.race([exited.then((t) => t - t0), sleep(DEADLINE_MS + 5000).then(() => null)]);
    if (exitAfterMs === null) log('  origin-1 has not exited');
    ctx.sampler.unwatch(o1.id);
    await sleep(6000); // every viewer past its gap (2 GOPs) and playing again
    const results = await players.stop();
    players = null;

    const perStreamRows = streams.map((s) => {
      const rs = results.filter((r) => r.stream === s);
      const kept = rs.filter((r) => r.disconnects === 0);
      const gaps = rs.map(viewerGap).filter((g) => g !== null);
      const moves = follow ? follow.moves.filter((m) => m.stream === s) : [];
      return {
        stream: s,
        viewers: rs.length,
        viewersLost: rs.length - kept.length,
        gapMs: gaps.length ? { p50: round(percentile(gaps, 50)), p95: round(percentile(gaps, 95)), max: round(percentile(gaps, 100)) } : null,
        movedTo: moved[s]?.to ?? null,
        movedAfterMs: moved[s]?.movedAfterMs ?? null,
        offAfterMs: off[s],
        encoderRepublishes: moves.length,
      };
    });
    const allGaps = results.map(viewerGap).filter((g) => g !== null);
    const summary = {
      publishers,
      viewers: specs.length,
      deadlineMs: DEADLINE_MS,
      moved: perStreamRows.filter((r) => r.movedTo).length,
      movedTo: [...new Set(perStreamRows.map((r) => r.movedTo).filter(Boolean))],
      viewersLost: perStreamRows.reduce((a, r) => a + r.viewersLost, 0),
      gapMs: allGaps.length ? { p50: round(percentile(allGaps, 50)), p95: round(percentile(allGaps, 95)), max: round(percentile(allGaps, 100)) } : null,
      originEmptyAfterMs: emptyAfterMs,
      allLiveElsewhereAfterMs: allMovedAfterMs,
      originExitedAfterMs: exitAfterMs,
      loadAvg1: round(os.loadavg()[0]),
    };
    log(`  → moved ${summary.moved}/${publishers} to ${summary.movedTo.join(', ')}, origin-1 empty after ${emptyAfterMs} ms, all live elsewhere after ${allMovedAfterMs} ms, exited after ${exitAfterMs} ms, viewers lost ${summary.viewersLost}, gap p50/p95/max ${summary.gapMs ? `${summary.gapMs.p50}/${summary.gapMs.p95}/${summary.gapMs.max}` : 'n/a'} ms`);

    const fmtGap = (g) => (g ? `${g.p50} / ${g.p95} / ${g.max}` : 'n/a');
    const tables = [
      {
        title: 'Drain of origin-1',
        columns: ['figure', 'value'],
        rows: [
          ['publishers moved', `${summary.moved}/${publishers} (to ${summary.movedTo.join(', ') || '–'})`],
          ['origin-1 empty after the drain call (ms; discovery no longer names it for any stream)', emptyAfterMs ?? `not within ${DEADLINE_MS + 15000} ms`],
          ['every stream live on another origin after (ms; the encoders re-published)', allMovedAfterMs ?? `not within ${DEADLINE_MS + 15000} ms`],
          ['origin-1 exited after the drain call (ms)', exitAfterMs ?? 'not yet'],
          ['viewers lost', `${summary.viewersLost}/${specs.length}`],
          ['viewer gap p50 / p95 / max ms (all streams)', fmtGap(summary.gapMs)],
          ['load avg 1 min', summary.loadAvg1],
        ],
      },
      {
        title: 'Per stream (in the order drained)',
        columns: ['stream', 'moved to', 'off origin-1 after ms', 'live on the new origin after ms', 'encoder re-publishes', 'viewers lost', 'viewer gap p50 / p95 / max ms'],
        rows: [...perStreamRows]
          .sort((a, b) => (a.movedAfterMs ?? Infinity) - (b.movedAfterMs ?? Infinity))
          .map((r) => [r.stream, r.movedTo ?? '–', r.offAfterMs ?? '–', r.movedAfterMs ?? '–', r.encoderRepublishes, `${r.viewersLost}/${r.viewers}`, fmtGap(r.gapMs)]),
      },
    ];
    const comparisons = [
      { case: `drain: ${publishers} publishers, ${specs.length} edge viewers`, metric: 'viewer gap p95 ms', cascade: summary.gapMs?.p95 ?? null, peer: 'n/a (no drain)', peerValue: null, ratio: null, better: 'lower' },
      { case: `drain: ${publishers} publishers, ${specs.length} edge viewers`, metric: 'origin empty after ms', cascade: emptyAfterMs, peer: 'n/a (no drain)', peerValue: null, ratio: null, better: 'lower' },
    ];
    notes.push(
      'Peers: node-media-server 4.4.3 and nginx-rtmp have no drain (stopping them ends every stream; the encoders must find another server themselves). SRS 6 has a graceful quit (SIGQUIT: it stops listening and waits `grace_final_wait` for connections to go) but moves no publisher to another server: its viewers are closed with the stream. No peer figure, so no invented one.',
      `The publishers push directly to origin-1 without E-RTMP capsEx (ffmpeg-like): each is disconnected with NetStream.Publish.Rejected and re-publishes where discovery's publish-url says. Publishers through an edge's publish gateway move without reconnecting (see the shed scenario's gateway path). Drain deadline ${DEADLINE_MS / 1000} s; origins with --capacity 100000 (no admission refusal from load), edge --failover-grace-ms 20000.`,
      'Viewers play with replay on: one the edge closes plays again at once (counted under "viewers lost"; its gap runs from its last frame to the first keyframe after playing again).',
      'The origin drains one publisher at a time, waiting until each is gone before the next: the time until it is empty grows with the number of publishers.',
    );
    return { params: { publishers, viewersPerStream: perStream, deadlineMs: DEADLINE_MS, topology: 'discovery + origin-1 (drained) + origin-2 + edge-1' }, summary, perStream: perStreamRows, tables, comparisons, notes };
  } finally {
    if (players) await players.stop();
    follow?.stop();
    await pub?.stop();
    await c.stop();
  }
}

module.exports = { id: 'drain', title: 'Drain of an origin (10 publishers and 200 edge viewers, --quick 4 and 80)', run };
