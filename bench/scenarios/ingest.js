'use strict';
/**
 * Origin ingest (issue 15, goal 5): N publishers (default 50), each the bench's 2.5 Mbit/s test FLV
 * (`ffmpeg -re -stream_loop -1 -c copy`) pushed by the bench publisher (lib/publisher.js) to its own
 * stream, into one Cascade origin (with its discovery, memory store) against a standalone
 * node-media-server 4.4.3 in the same run. No viewers: what ingest alone costs, i.e. what the RTMP
 * guard in front of node-media-server adds.
 *
 * Figure: CPU-s of the server processes per ingested Gbit (audio/video payload bytes the publishers
 * wrote in the window), RSS. When the publishers fall behind real time (achieved ingest < 90 % of
 * N × the media's bit rate) the scenario runs again at N / 2 (down to 5), and reports every size.
 */
const { startCascade, startNms } = require('../lib/systems');
const { startPublisher } = require('../lib/load');
const { ratio } = require('../lib/stats');
const { describeMedia } = require('../lib/media');
const { sleep, log, round } = require('../lib/util');

/** Streams per publisher process (one ffmpeg + one node process each). */
const PER_PUBLISHER = 10;
/** Below this share of the expected ingest rate a size is "not kept up" and a smaller N is tried. */
const KEEP_UP = 0.9;

/** @param {any} ctx */
async function run(ctx) {
  const firstN = ctx.opts.n?.[0] ?? 50;
  if (!Number.isInteger(firstN) || firstN < 1) throw new Error(`--n must be a positive integer (publishers), not ${ctx.opts.n?.[0]}`);
  const timing = { warmMs: ctx.warmMs, windowMs: ctx.windowMs };
  const kbps = ctx.media ? describeMedia(ctx.media).totalKbps : null;
  const mediaMbit = kbps ? kbps / 1000 : null;
  /** @type {any[]} */
  const rows = [];
  const notes = [];

  /**
   * One system at one N: start, publish N streams, warm up, measure, stop.
   * @param {string} system @param {number} n
   */
  const measureOne = async (system, n) => {
    const sys = system === 'cascade' ? await startCascadeOrigin(ctx) : await startNmsPeer(ctx);
    /** @type {any[]} */
    const pubs = [];
    try {
      const urls = Array.from({ length: n }, (_, i) => `${sys.ingest}/live/ingest-${i + 1}`);
      for (let i = 0; i < urls.length; i += PER_PUBLISHER) {
        const targets = urls.slice(i, i + PER_PUBLISHER).map((url) => ({ url }));
        pubs.push(await startPublisher(ctx, { file: ctx.media, targets, name: `publisher-${pubs.length + 1}`, timeoutMs: 30000 }));
      }
      await sleep(timing.warmMs);
      const ws = await Promise.all(pubs.map((p) => p.mark('ws')));
      ctx.sampler.mark('ws');
      await sleep(timing.windowMs);
      const we = await Promise.all(pubs.map((p) => p.mark('we')));
      ctx.sampler.mark('we');
      const cpu = ctx.sampler.window('ws', 'we');
      let bytes = 0;
      let live = 0;
      let congested = 0;
      we.forEach((snap, i) => {
        for (const [url, t] of Object.entries(snap.targets)) {
          bytes += t.bytes - (ws[i].targets[url]?.bytes ?? 0);
          if (t.state === 'live') live++;
          congested += t.congested - (ws[i].targets[url]?.congested ?? 0);
        }
      });
      const gbit = (bytes * 8) / 1e9;
      const server = sys.servers.map((s) => cpu.procs[s]).filter(Boolean);
      const cpuS = server.reduce((a, p) => a + p.cpuS, 0);
      const mainProc = cpu.procs[sys.main];
      const loadPeak = Math.max(0, ...Object.values(cpu.procs).filter((p) => p.role === 'load').map((p) => p.peakShare));
      const ingestMbitPerS = round((gbit * 1000) / cpu.seconds, 1);
      const expected = mediaMbit ? n * mediaMbit : null;
      const row = {
        system,
        n,
        live,
        ingestMbitPerS,
        expectedMbitPerS: expected ? round(expected, 1) : null,
        keptUp: expected ? round(ingestMbitPerS / expected, 3) : null,
        congestedWrites: congested,
        serverCores: round(cpuS / cpu.seconds, 3),
        cpuPerGbit: gbit > 0 ? round(cpuS / gbit, 3) : null,
        mainCpuPerGbit: gbit > 0 && mainProc ? round(mainProc.cpuS / gbit, 3) : null,
        rssMB: round(server.reduce((a, p) => a + p.rssEndMB, 0), 1),
        mainRssMB: mainProc ? mainProc.rssEndMB : null,
        rssGrowthMB: round(server.reduce((a, p) => a + p.rssGrowthMB, 0), 1),
        loadToolPeakCore: round(loadPeak, 2),
        windowS: round(cpu.seconds, 1),
        procs: cpu.procs,
        warnings: loadPeak > 0.9 ? [`a load-tool process peaked at ${round(loadPeak, 2)} of a core: the figure may be limited by the load tool`] : [],
      };
      log(`ingest: ${system} N=${n}: ${live}/${n} live, ${ingestMbitPerS} Mbit/s (${row.keptUp ?? '?'} of expected), ${row.cpuPerGbit} CPU-s/Gbit (${sys.main} alone ${row.mainCpuPerGbit}), RSS ${row.rssMB} MB`);
      return row;
    } finally {
      for (const p of pubs.reverse()) await p.stop();
      await sys.stop();
    }
  };

  // The sizes: N, then halves while Cascade or NMS could not keep up (the box, not the server, may be the wall).
  for (let n = firstN; n >= 1; n = Math.floor(n / 2)) {
    const c = await measureOne('cascade', n);
    rows.push(c);
    await sleep(1000);
    const p = await measureOne('nms', n);
    rows.push(p);
    const behind = [c, p].filter((r) => r.keptUp != null && r.keptUp < KEEP_UP);
    if (!behind.length || n <= 5 || ctx.opts.n) break;
    notes.push(`N = ${n}: ${behind.map((r) => `${r.system} ingested ${r.keptUp} of real time`).join(', ')}: measured again at N = ${Math.floor(n / 2)}.`);
    await sleep(1000);
  }

  const comparisons = [];
  for (const c of rows.filter((r) => r.system === 'cascade')) {
    const p = rows.find((r) => r.system === 'nms' && r.n === c.n);
    if (!p) continue;
    const cs = `${c.n} publishers × ${mediaMbit ? round(mediaMbit, 2) : '?'} Mbit/s`;
    comparisons.push(
      { case: cs, metric: 'origin-only CPU-s / ingested Gbit', cascade: c.mainCpuPerGbit, peer: 'nms', peerValue: p.cpuPerGbit, ratio: ratio(c.mainCpuPerGbit, p.cpuPerGbit), better: 'lower' },
      { case: cs, metric: 'CPU-s / ingested Gbit (discovery + origin)', cascade: c.cpuPerGbit, peer: 'nms', peerValue: p.cpuPerGbit, ratio: ratio(c.cpuPerGbit, p.cpuPerGbit), better: 'lower' },
      { case: cs, metric: 'origin RSS MB', cascade: c.mainRssMB, peer: 'nms', peerValue: p.rssMB, ratio: ratio(c.mainRssMB, p.rssMB), better: 'lower' },
      { case: cs, metric: 'ingest kept-up (achieved / expected rate)', cascade: c.keptUp, peer: 'nms', peerValue: p.keptUp, ratio: ratio(c.keptUp, p.keptUp, 3), better: 'higher' },
    );
  }
  notes.push(
    `Publishers: ${PER_PUBLISHER} streams per publisher process (ffmpeg -re -stream_loop -1 -c copy → lib/publisher.js with the product's RtmpClient), each stream its own name; no viewers. Ingested Gbit = audio/video payload bytes the publishers wrote in the window (RTMP chunk headers not counted).`,
    'Cascade: discovery (memory store) + origin-1 with --capacity 100000 (the default, cores × 12 weight at 1 per Mbit/s, would refuse the 8th stream on this 2-core box: admission, not cost, is what it measures). The origin-only figure counts the origin process (RTMP guard + node-media-server inside); the other adds discovery.',
    'Peer: node-media-server 4.4.3 alone (bench/peers/nms.js), the engine behind the guard.',
  );
  return {
    params: { n: firstN, perPublisherProcess: PER_PUBLISHER, keepUpThreshold: KEEP_UP, ...timing, mediaMbitPerS: mediaMbit },
    rows,
    table: {
      columns: ['system', 'N', 'live', 'ingest Mbit/s (expected)', 'kept-up', 'server cores', 'CPU-s / ingested Gbit (all)', 'main process CPU-s / Gbit', 'RSS MB (main)', 'RSS growth MB', 'load tool peak core'],
      rows: rows.map((r) => [r.system, r.n, `${r.live}/${r.n}`, `${r.ingestMbitPerS} (${r.expectedMbitPerS ?? '?'})`, r.keptUp, r.serverCores, r.cpuPerGbit, r.mainCpuPerGbit, `${r.rssMB} (${r.mainRssMB})`, r.rssGrowthMB, r.loadToolPeakCore]),
    },
    comparisons,
    notes,
  };
}

/** @param {any} ctx */
async function startCascadeOrigin(ctx) {
  // BENCH_ORIGIN_FLAGS: extra origin flags for a variant (e.g. "--hls-window 2 --hls-part-target-ms 0").
  const extra = (process.env.BENCH_ORIGIN_FLAGS ?? '').split(' ').filter(Boolean);
  const c = await startCascade(ctx, { origins: 1, edges: 0, originFlags: ['--capacity', '100000', ...extra] });
  return { ingest: c.origins[0].rtmp, servers: c.serverNames, main: 'origin-1', stop: c.stop };
}

/** @param {any} ctx */
async function startNmsPeer(ctx) {
  const n = await startNms(ctx);
  return { ingest: n.rtmp, servers: n.serverNames, main: 'nms', stop: n.stop };
}

module.exports = { id: 'ingest', title: 'Origin ingest', run };
