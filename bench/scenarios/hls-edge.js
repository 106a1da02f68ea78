'use strict';
/**
 * HLS at the edge (issue 15, goal 6): one stream published to the cluster (origin-1), K HLS clients
 * (default 1,000; lib/hls-load.js, 250 per process) on edge-1's `/live/NAME.m3u8`, against nginx
 * serving the same playlist and segments as static files in the same run.
 *
 * The nginx side: after the Cascade window, a mirror in the bench process copies the edge's playlist
 * and every segment it lists into a temp dir (segments first, then the playlist, each written to a
 * temporary name and renamed), every 200 ms, so nginx serves a live playlist of exactly the edge's
 * bytes; nginx (Debian, plain HTTP, one process, `daemon off`) serves that dir on a free port.
 *
 * Figures: CPU-s per delivered Gbit (body bytes the clients received in the window: playlists +
 * segments), for the edge alone and for discovery + origin + edge; request latency (to the last byte,
 * and to the first) for playlists and segments, p50 / p99.
 */
const fs = require('node:fs');
const path = require('node:path');
const { startCascade, startNginxHttp } = require('../lib/systems');
const { startPublisher, IpcChild } = require('../lib/load');
const { describeMedia } = require('../lib/media');
const { ratio } = require('../lib/stats');
const { sleep, log, round, percentile, waitFor } = require('../lib/util');

const APP = 'live';
const NAME = 'hls';
const PER_PROC = 250;
/** Playlist reload interval of every client: the product's hlsTargetDurationMs (2 s), for both servers. */
const RELOAD_MS = 2000;
const HLS_LOAD = path.join(__dirname, '..', 'lib', 'hls-load.js');

/** @param {any} ctx */
async function run(ctx) {
  const k = ctx.opts.n?.[0] ?? 1000;
  if (!Number.isInteger(k) || k < 1) throw new Error(`--n must be a positive integer (HLS clients), not ${ctx.opts.n?.[0]}`);
  const windowMs = Math.min(60000, ctx.opts.windowS ? ctx.windowMs : 30000);
  const warmMs = ctx.opts.warmS ? ctx.warmMs : Math.max(ctx.warmMs, 6000);
  const kbps = ctx.media ? describeMedia(ctx.media).totalKbps : null;
  /** @type {any[]} */
  const rows = [];
  const notes = [];
  let nginxVersion = null;

  const cluster = await startCascade(ctx, { origins: 1, edges: 1 });
  let pub = null;
  let mirror = null;
  let nginx = null;
  try {
    pub = await startPublisher(ctx, { file: ctx.media, targets: [{ url: `${cluster.origins[0].rtmp}/${APP}/${NAME}` }], name: 'publisher' });
    const edgeUrl = `${cluster.edges[0].http}/${APP}/${NAME}.m3u8`;
    await waitFor(async () => {
      try {
        const r = await fetch(edgeUrl);
        return r.ok && (await r.text()).split('#EXTINF').length > 2;
      } catch {
        return false;
      }
    }, 30000, 'two segments in the edge playlist', 250);

    log(`hls-edge: cascade edge, ${k} clients`);
    rows.push(await measureHls(ctx, { system: 'cascade', url: edgeUrl, servers: cluster.serverNames, main: 'edge-1', k, warmMs, windowMs, kbps }));

    if (ctx.opts.nginx === false) {
      notes.push('nginx skipped (--no-nginx): no peer row.');
      return finish();
    }
    const root = fs.mkdtempSync(path.join(ctx.tmp, 'hls-static-'));
    fs.mkdirSync(path.join(root, APP));
    mirror = startMirror(edgeUrl, path.join(root, APP, `${NAME}.m3u8`));
    await waitFor(() => mirror.copied >= 2, 20000, 'the mirror copied two segments');
    nginx = await startNginxHttp(ctx, root);
    if (!nginx) notes.push('nginx missing: no peer row (apt-get install nginx-light).');
    else {
      nginxVersion = nginx.version;
      log(`hls-edge: nginx (${nginx.version}), ${k} clients`);
      rows.push(await measureHls(ctx, { system: 'nginx', url: `${nginx.http}/${APP}/${NAME}.m3u8`, servers: nginx.serverNames, main: 'nginx', k, warmMs, windowMs, kbps }));
    }
  } finally {
    mirror?.stop();
    await nginx?.stop();
    await pub?.stop();
    await cluster.stop();
  }

  return finish();

  function finish() {
    const comparisons = [];
    const c = rows.find((r) => r.system === 'cascade');
    const p = rows.find((r) => r.system === 'nginx');
    if (c && p) {
      const cs = `${k} HLS clients, one stream`;
      comparisons.push(
        { case: cs, metric: 'edge-only CPU-s / delivered Gbit', cascade: c.mainCpuPerGbit, peer: 'nginx static', peerValue: p.cpuPerGbit, ratio: ratio(c.mainCpuPerGbit, p.cpuPerGbit), better: 'lower' },
        { case: cs, metric: 'CPU-s / delivered Gbit (discovery + origin + edge)', cascade: c.cpuPerGbit, peer: 'nginx static', peerValue: p.cpuPerGbit, ratio: ratio(c.cpuPerGbit, p.cpuPerGbit), better: 'lower' },
        { case: cs, metric: 'playlist latency p50 ms', cascade: c.playlistMs.p50, peer: 'nginx static', peerValue: p.playlistMs.p50, ratio: ratio(c.playlistMs.p50, p.playlistMs.p50), better: 'lower' },
        { case: cs, metric: 'playlist latency p99 ms', cascade: c.playlistMs.p99, peer: 'nginx static', peerValue: p.playlistMs.p99, ratio: ratio(c.playlistMs.p99, p.playlistMs.p99), better: 'lower' },
        { case: cs, metric: 'segment latency p50 ms', cascade: c.segmentMs.p50, peer: 'nginx static', peerValue: p.segmentMs.p50, ratio: ratio(c.segmentMs.p50, p.segmentMs.p50), better: 'lower' },
        { case: cs, metric: 'segment latency p99 ms', cascade: c.segmentMs.p99, peer: 'nginx static', peerValue: p.segmentMs.p99, ratio: ratio(c.segmentMs.p99, p.segmentMs.p99), better: 'lower' },
        { case: cs, metric: 'delivered ÷ expected', cascade: c.keptUp, peer: 'nginx static', peerValue: p.keptUp, ratio: ratio(c.keptUp, p.keptUp, 3), better: 'higher' },
      );
    }
    notes.push(
      `Clients (lib/hls-load.js, ${PER_PROC} per process): one keep-alive connection each; the playlist every ${RELOAD_MS / 1000} s, then each new EXTINF segment (starting at the newest); LL-HLS parts ignored. Latency = request start → last body byte (TTFB in the JSON). Clients start spread over 2 s; warm-up ${warmMs / 1000} s, window ${windowMs / 1000} s.`,
      'Cascade: discovery + origin-1 + edge-1 (product defaults: 2 s segments, 6 in the playlist, LL-HLS parts on), the publisher on origin-1, the clients on edge-1. Edge-only CPU is compared with the whole nginx.',
      `nginx${nginxVersion ? ` ${nginxVersion}` : ''}: the edge's playlist and segments, copied from the edge every 200 ms by a mirror in the bench process (the same bytes, a live playlist), served as static files (one process, sendfile, keep-alive, no access log). The Cascade cluster and the publisher keep running during the nginx window (as they ran during Cascade's): the same background.`,
      `Clients reload the playlist every ${RELOAD_MS / 1000} s (the product's hlsTargetDurationMs) on both servers, so both get the same request rate; the EXT-X-TARGETDURATION column counts the values the playlists carried (RFC 8216 section 4.3.3.1: it must not change).`,
      '"delivered ÷ expected" = body bytes received ÷ (clients × the FLV media rate × window): MPEG-TS adds a few % of overhead, so a client that keeps up is slightly above 1; well below 1 means the clients (or the box) could not keep up.',
    );
    return {
      params: { clients: k, perProcess: PER_PROC, warmMs, windowMs, stream: `${APP}/${NAME}`, mediaKbps: kbps },
      rows,
      table: {
        columns: ['system', 'clients', 'started', 'delivered Mbit/s', 'delivered ÷ expected', 'server cores', 'CPU-s / Gbit (all)', 'main process CPU-s / Gbit', 'playlist ms p50 / p99', 'segment ms p50 / p99', 'requests (errors)', 'EXT-X-TARGETDURATION seen (playlists)', 'RSS MB (main)', 'load tool peak core'],
        rows: rows.map((r) => [r.system, r.clients, r.started, r.deliveredMbitPerS, r.keptUp, r.serverCores, r.cpuPerGbit, r.mainCpuPerGbit, `${r.playlistMs.p50} / ${r.playlistMs.p99}`, `${r.segmentMs.p50} / ${r.segmentMs.p99}`, `${r.requests} (${r.errors})`, Object.entries(r.targetDurations ?? {}).map(([t, n]) => `${t} s × ${n}`).join(', '), `${r.rssMB} (${r.mainRssMB})`, r.loadToolPeakCore]),
      },
      comparisons,
      notes,
    };
  }
}

/**
 * K clients in ceil(K / 250) processes on one playlist URL; one window.
 * @param {any} ctx
 * @param {{ system: string, url: string, servers: string[], main: string, k: number, warmMs: number, windowMs: number, kbps: number | null }} o
 */
async function measureHls(ctx, o) {
  const nproc = Math.max(1, Math.ceil(o.k / PER_PROC));
  const shards = [];
  for (let i = 0; i < nproc; i++) {
    const name = `hls-clients-${i + 1}`;
    const proc = ctx.reg.spawn(name, process.execPath, [HLS_LOAD], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    ctx.sampler.watch(name, proc.pid, 'load');
    shards.push({ name, ipc: new IpcChild(proc), n: Math.floor(o.k / nproc) + (i < o.k % nproc ? 1 : 0) });
  }
  const ask = (cmd, pred, what, timeoutMs = 10000) =>
    Promise.all(
      shards.map((s) => {
        const p = s.ipc.wait(pred, timeoutMs, what);
        s.ipc.send(cmd);
        return p;
      }),
    );
  let ws;
  let we;
  let cpu;
  let results = [];
  try {
    await Promise.all(shards.map((s) => s.ipc.wait((m) => m.event === 'ready', 10000, 'hls clients ready')));
    for (const s of shards) s.ipc.send({ cmd: 'start', url: o.url, clients: s.n, rampMs: 2000, reloadMs: RELOAD_MS });
    await waitFor(async () => {
      const st = await ask({ cmd: 'status' }, (m) => m.event === 'status', 'status');
      return st.reduce((a, x) => a + x.started, 0) >= o.k;
    }, 30000 + o.k * 10, `${o.k} HLS clients with a first segment`, 500).catch((err) => log(`hls-edge: ${err.message}; measuring anyway`));
    await sleep(o.warmMs);
    ws = await ask({ cmd: 'mark', label: 'ws' }, (m) => m.event === 'marked' && m.label === 'ws', 'mark ws');
    ctx.sampler.mark('ws');
    await sleep(o.windowMs);
    we = await ask({ cmd: 'mark', label: 'we' }, (m) => m.event === 'marked' && m.label === 'we', 'mark we');
    ctx.sampler.mark('we');
    cpu = ctx.sampler.window('ws', 'we');
  } finally {
    results = await ask({ cmd: 'stop', from: 'ws', to: 'we' }, (m) => m.event === 'results', 'results', 30000).catch(() => []);
    for (const s of shards) {
      ctx.sampler.unwatch(s.name);
      await ctx.reg.stop(s.ipc.proc, 'SIGTERM', 2000);
    }
  }
  const sum = (arr, f) => arr.reduce((a, x) => a + f(x), 0);
  const bytes = sum(we, (x) => x.snapshot.bytes) - sum(ws, (x) => x.snapshot.bytes);
  const requests = sum(we, (x) => x.snapshot.requests) - sum(ws, (x) => x.snapshot.requests);
  const errors = sum(we, (x) => x.snapshot.errors) - sum(ws, (x) => x.snapshot.errors);
  const gbit = (bytes * 8) / 1e9;
  const server = o.servers.map((s) => cpu.procs[s]).filter(Boolean);
  const cpuS = sum(server, (p) => p.cpuS);
  const main = cpu.procs[o.main];
  const loadPeak = Math.max(0, ...Object.values(cpu.procs).filter((p) => p.role === 'load').map((p) => p.peakShare));
  const pl = results.flatMap((r) => r.totalPlaylist);
  const sg = results.flatMap((r) => r.totalSegment);
  const tt = results.flatMap((r) => r.ttfbAll);
  const q = (xs) => ({ p50: round(percentile(xs, 50), 1), p95: round(percentile(xs, 95), 1), p99: round(percentile(xs, 99), 1), count: xs.length });
  const deliveredMbitPerS = round((gbit * 1000) / cpu.seconds, 1);
  const row = {
    system: o.system,
    clients: o.k,
    started: sum(results, (r) => r.started),
    deliveredMbitPerS,
    keptUp: o.kbps ? round(deliveredMbitPerS / ((o.k * o.kbps) / 1000), 3) : null,
    requests,
    errors,
    serverCores: round(cpuS / cpu.seconds, 3),
    cpuPerGbit: gbit > 0 ? round(cpuS / gbit, 3) : null,
    mainCpuPerGbit: gbit > 0 && main ? round(main.cpuS / gbit, 3) : null,
    playlistMs: q(pl),
    segmentMs: q(sg),
    ttfbMs: q(tt),
    targetDurations: results.reduce((acc, r) => {
      for (const [t, n] of Object.entries(r.targets ?? {})) acc[t] = (acc[t] ?? 0) + n;
      return acc;
    }, /** @type {Record<string, number>} */ ({})),
    rssMB: round(sum(server, (p) => p.rssEndMB), 1),
    mainRssMB: main ? main.rssEndMB : null,
    loadToolPeakCore: round(loadPeak, 2),
    windowS: round(cpu.seconds, 1),
    procs: cpu.procs,
    warnings: loadPeak > 0.9 ? [`a load-tool process peaked at ${round(loadPeak, 2)} of a core: the figure may be limited by the load tool`] : [],
  };
  log(`  → target durations seen ${JSON.stringify(row.targetDurations)}; ${row.started}/${o.k} started, ${deliveredMbitPerS} Mbit/s (${row.keptUp} of expected), ${row.cpuPerGbit} CPU-s/Gbit (${o.main} ${row.mainCpuPerGbit}), playlist p50/p99 ${row.playlistMs.p50}/${row.playlistMs.p99} ms, segment ${row.segmentMs.p50}/${row.segmentMs.p99} ms, ${requests} requests, ${errors} errors`);
  return row;
}

/**
 * Copies the edge's live playlist and its segments into a dir every 200 ms: segments first, then the
 * playlist, each through a temporary name and a rename, so nginx never serves a partial file.
 * @param {string} playlistUrl @param {string} file
 */
function startMirror(playlistUrl, file) {
  const dir = path.dirname(file);
  const have = new Set();
  const state = { copied: 0, errors: 0, stop: () => {} };
  let stopped = false;
  /** @type {NodeJS.Timeout | null} */
  let timer = null;
  const put = (name, body) => {
    const tmp = path.join(dir, `.${name}.tmp`);
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, path.join(dir, name));
  };
  const tick = async () => {
    try {
      const r = await fetch(playlistUrl);
      const text = await r.text();
      if (r.ok) {
        for (const line of text.split('\n').map((l) => l.trim())) {
          if (!line || line.startsWith('#') || have.has(line)) continue;
          const s = await fetch(new URL(line, playlistUrl));
          if (!s.ok) continue;
          put(line, Buffer.from(await s.arrayBuffer()));
          have.add(line);
          state.copied++;
        }
        put(path.basename(file), text);
      }
    } catch {
      state.errors++;
    }
    if (!stopped) timer = setTimeout(() => void tick(), 200);
  };
  state.stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  void tick();
  return state;
}

module.exports = { id: 'hls-edge', title: 'HLS at the edge', run };
