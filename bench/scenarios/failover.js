'use strict';
/**
 * Failover gap: a stream is published to origin-1 and watched through edge-1. origin-1 is SIGKILLed;
 * the publisher (like an encoder with a backup URL) re-publishes to origin-2 at once and retries until
 * origin-2 accepts (it can claim the stream only once origin-1's lease is gone). Measured at the edge
 * players: if the edge keeps viewers connected and re-pulls, the gap is the longest pause between
 * frames; if the edge closes viewers, that is recorded as "not supported yet" and the players play
 * again at once (every 200 ms) — the gap is then last frame before the kill → first keyframe after.
 * Runs with the product's default heartbeat and TTLs (what an operator gets out of the box).
 */
const { startCascade } = require('../lib/systems');
const { startPublisher, startPlayers } = require('../lib/load');
const { percentile, round, sleep, log, waitFor } = require('../lib/util');

const STREAM = 'live/failover';

async function run(ctx) {
  const m = ctx.quick ? 6 : 20;
  const notes = [];
  const c = await startCascade(ctx, { origins: 2, edges: 1 });
  let pub = null;
  let players = null;
  try {
    const [o1, o2] = c.origins;
    const [edge] = c.edges;
    const u1 = `${o1.rtmp}/${STREAM}`;
    const u2 = `${o2.rtmp}/${STREAM}`;
    pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: u1, retry: true }] });
    const specs = Array.from({ length: m }, (_, i) => (i % 2 === 0 ? { proto: 'rtmp', url: `${edge.rtmp}/${STREAM}`, replay: true } : { proto: 'flv', url: `${edge.http}/${STREAM}.flv`, replay: true }));
    players = await startPlayers(ctx, { specs, rampMs: 20 });
    const st = await players.waitStarted(15000);
    if (st.started < m) throw new Error(`only ${st.started}/${m} players started before the kill`);
    await sleep(3000);

    log(`failover: SIGKILL ${o1.id} (pid ${o1.proc.pid}); publisher re-publishes to ${o2.id}`);
    const killAt = Date.now();
    ctx.sampler.unwatch(o1.id);
    await ctx.reg.stop(o1.proc, 'SIGKILL');
    const killedAt = Date.now();
    pub.remove(u1);
    pub.add(u2, true);

    // Accepted = media flowing to origin-2 and not dropped for 1.5 s.
    let acceptedAt = null;
    await waitFor(() => {
      const evs = pub.ipc.events.filter((e) => e.url === u2 && e.t >= killAt);
      const lastFlow = [...evs].reverse().find((e) => e.event === 'flowing');
      if (!lastFlow) return false;
      if (evs.some((e) => e.event === 'dropped' && e.t > lastFlow.t)) return false;
      if (Date.now() - lastFlow.t < 1500) return false;
      acceptedAt = lastFlow.t;
      return true;
    }, 45000, 'origin-2 accepting the re-publish', 100);
    const attempts = pub.ipc.events.filter((e) => e.url === u2 && e.event === 'live').length;
    const refusals = pub.ipc.events.filter((e) => e.url === u2 && e.event === 'dropped').map((e) => e.detail);
    await sleep(ctx.quick ? 6000 : 10000); // players re-play / resume
    const results = await players.stop();
    players = null;

    const perPlayer = results.map((r) => {
      const outage = r.outages.find((o) => o.at >= killAt - 50) ?? null;
      return {
        proto: r.proto,
        stayedConnected: r.disconnects === 0,
        inSessionGapMs: r.disconnects === 0 ? round(r.maxFrameGapMs) : null,
        closedByEdgeAfterMs: outage ? round(outage.at - killAt) : null,
        replayGapMs: outage && outage.gapMs !== null ? round(outage.gapMs) : null,
        resumed: outage ? outage.resumedAt !== null : r.disconnects === 0,
        error: outage && outage.resumedAt === null ? r.error : null,
      };
    });
    const connected = perPlayer.filter((p) => p.stayedConnected);
    const replay = perPlayer.map((p) => p.replayGapMs).filter((x) => x !== null);
    const inSession = connected.map((p) => p.inSessionGapMs).filter((x) => x !== null);
    const summary = {
      players: m,
      killToExitMs: killedAt - killAt,
      republishAcceptedAfterKillMs: acceptedAt ? acceptedAt - killAt : null,
      republishAttempts: attempts,
      republishRefusals: [...new Set(refusals)],
      inSessionFailover: connected.length === m ? 'supported' : connected.length === 0 ? 'not supported yet' : `${connected.length}/${m} players stayed connected`,
      inSessionGapMs: inSession.length ? { p50: round(percentile(inSession, 50)), max: round(percentile(inSession, 100)) } : null,
      edgeClosedViewersAfterMs: round(percentile(perPlayer.map((p) => p.closedByEdgeAfterMs).filter((x) => x !== null), 50)),
      replayGapMs: replay.length ? { p50: round(percentile(replay, 50)), p95: round(percentile(replay, 95)), max: round(percentile(replay, 100)) } : null,
      resumed: perPlayer.filter((p) => p.resumed).length,
    };
    const gapText = summary.inSessionGapMs ? `in-session gap p50 ${summary.inSessionGapMs.p50} ms` : summary.replayGapMs ? `re-play gap p50 ${summary.replayGapMs.p50} ms` : 'no gap measured';
    log(`  → in-session failover: ${summary.inSessionFailover}; re-publish accepted after ${summary.republishAcceptedAfterKillMs} ms; ${gapText}; resumed ${summary.resumed}/${m}`);
    if (summary.inSessionFailover === 'not supported yet') {
      notes.push(`In-session failover: not supported yet — the edge closed every viewer ${summary.edgeClosedViewersAfterMs} ms (median) after the kill (upstream ended → stream closed). The gap shown is what a player that reconnects at once (every 200 ms) sees.`);
    }
    notes.push(
      summary.republishRefusals.length
        ? `origin-2 accepted the re-publish ${summary.republishAcceptedAfterKillMs} ms after the kill, after ${attempts} publish attempts refused with: ${summary.republishRefusals.join(' | ')} (until origin-1's registration / lease is gone from discovery, the stream is still owned by origin-1).`
        : `origin-2 accepted the re-publish ${summary.republishAcceptedAfterKillMs} ms after the kill, at the first attempt (${attempts} publish attempt${attempts === 1 ? '' : 's'}, no refusal); most of that is the publisher waiting for the next keyframe to start the new publish.`,
    );
    notes.push('Settings: the product defaults (origin heartbeat 2 s, discovery origin TTL and lease TTL 6 s). node-media-server and nginx-rtmp have no cluster to fail over to: no peer figure.');
    const table = {
      columns: ['figure', 'value'],
      rows: [
        ['in-session failover (viewers kept through the edge)', summary.inSessionFailover],
        ['in-session gap p50 / max ms', summary.inSessionGapMs ? `${summary.inSessionGapMs.p50} / ${summary.inSessionGapMs.max}` : 'n/a'],
        ['edge closed viewers after the kill (median ms)', summary.edgeClosedViewersAfterMs ?? 'no (viewers kept)'],
        ['re-publish accepted by origin-2 after the kill (ms)', summary.republishAcceptedAfterKillMs],
        ['gap with immediate re-play p50 / p95 / max ms', summary.replayGapMs ? `${summary.replayGapMs.p50} / ${summary.replayGapMs.p95} / ${summary.replayGapMs.max}` : 'n/a (no viewer was closed)'],
        ['players playing again', `${summary.resumed}/${m}`],
      ],
    };
    const comparisons = [
      summary.inSessionGapMs
        ? { case: `origin SIGKILL, ${m} edge players`, metric: 'viewer gap ms (in-session, p50)', cascade: summary.inSessionGapMs.p50, peer: 'n/a (no cluster)', peerValue: null, ratio: null, better: 'lower' }
        : { case: `origin SIGKILL, ${m} edge players`, metric: 'viewer gap ms (edge closed viewers; re-play p50)', cascade: summary.replayGapMs?.p50 ?? null, peer: 'n/a (no cluster)', peerValue: null, ratio: null, better: 'lower' },
    ];
    return { params: { players: m, stream: STREAM, heartbeatMs: 'default (2000)', ttlMs: 'default (6000)' }, summary, perPlayer, table, comparisons, notes };
  } finally {
    if (players) await players.stop();
    await pub?.stop();
    await c.stop();
  }
}

module.exports = { id: 'failover', title: 'Failover gap (origin SIGKILL, publisher re-publishes to the other origin)', run };
