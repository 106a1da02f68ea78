import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The web console at `/`: origins with load bars, streams with owner and
 * viewers, live updates from `/v1/events`, and a player (hls.js for HLS,
 * mpegts.js for HTTP-FLV) for any stream, played from its owner origin. The
 * page only reads the public JSON API, so it sees exactly what an operator's
 * scripts see. The player libraries are served from node_modules.
 */
const PLAYER_LIBS: Record<string, string> = {
  '/console/hls.min.js': 'hls.js/dist/hls.min.js',
  '/console/mpegts.js': 'mpegts.js/dist/mpegts.js',
};

export function registerConsole(app: FastifyInstance): void {
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(CONSOLE_HTML));
  for (const [route, file] of Object.entries(PLAYER_LIBS)) {
    let body: Buffer | undefined;
    app.get(route, { schema: { hide: true } }, async (_req, reply) => {
      body ??= readFileSync(require.resolve(file));
      return reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=86400').send(body);
    });
  }
}

const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cascade console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .live { font-size: 12px; color: #8fd18f; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eceef2; font-variant-numeric: tabular-nums; }
  .bar { background: #eceef2; border-radius: 3px; height: 10px; width: 140px; position: relative; }
  .bar > span { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px; background: #3a7bd5; }
  .bar > i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #d53a3a; }
  .draining { color: #b26b00; }
  button { font: inherit; padding: 2px 8px; cursor: pointer; }
  #player { grid-column: 1 / span 2; }
  video { width: 100%; max-width: 640px; background: #000; }
  #events { font: 12px monospace; max-height: 140px; overflow: auto; color: #555; }
</style>
</head>
<body>
<header><h1>Cascade</h1><span id="status" class="live">connecting…</span></header>
<main>
  <section><h2>Origins</h2><table><thead><tr><th>id</th><th>state</th><th>utilisation</th><th>publishers</th><th>viewers</th></tr></thead><tbody id="origins"></tbody></table></section>
  <section><h2>Streams</h2><table><thead><tr><th>stream</th><th>owner</th><th>since</th><th></th></tr></thead><tbody id="streams"></tbody></table></section>
  <section id="player"><h2>Player <span id="playing"></span></h2><video id="video" muted autoplay playsinline controls></video><div id="events"></div></section>
</main>
<script src="/console/hls.min.js"></script>
<script src="/console/mpegts.js"></script>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const HIGH_WATER = 0.85;
let origins = [];
let streams = [];
let player = null;
window.consoleState = { playing: null, errors: [] };

async function refresh() {
  const [o, s] = await Promise.all([fetch('/v1/origins').then((r) => r.json()), fetch('/v1/streams').then((r) => r.json())]);
  origins = o.origins || [];
  streams = s.streams || [];
  render();
}

function render() {
  $('origins').innerHTML = origins.map((o) => {
    const load = o.load || {};
    const cap = o.capacity || 24;
    const util = Math.min(1, (load.weight || 0) / cap);
    return '<tr><td>' + esc(o.id) + '</td><td class="' + esc(o.state) + '">' + esc(o.state) + '</td>' +
      '<td><div class="bar" title="' + Math.round(util * 100) + '% of ' + cap + ' weight"><span style="width:' + (util * 100) + '%"></span><i style="left:' + (HIGH_WATER * 100) + '%"></i></div></td>' +
      '<td>' + (load.publishers || 0) + '</td><td>' + (load.viewers || 0) + '</td></tr>';
  }).join('');
  $('streams').innerHTML = streams.map((s, i) =>
    '<tr data-stream="' + esc(s.app + '/' + s.name) + '"><td>' + esc(s.app + '/' + s.name) + '</td><td>' + esc(s.origin.id) + '</td>' +
    '<td>' + new Date(s.since).toLocaleTimeString() + '</td>' +
    '<td><button data-i="' + i + '" data-kind="hls">HLS</button> <button data-i="' + i + '" data-kind="flv">FLV</button></td></tr>').join('');
}

$('streams').addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (b) play(streams[Number(b.dataset.i)], b.dataset.kind);
});

function play(s, kind) {
  if (player) { player.destroy(); player = null; }
  const base = s.origin.http + '/' + encodeURIComponent(s.app) + '/' + encodeURIComponent(s.name);
  const video = $('video');
  const onError = (what) => window.consoleState.errors.push(what);
  if (kind === 'hls') {
    player = new Hls({ liveSyncDurationCount: 2 });
    player.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) onError('hls:' + d.details); });
    player.loadSource(base + '.m3u8');
    player.attachMedia(video);
  } else {
    player = mpegts.createPlayer({ type: 'flv', isLive: true, url: base + '.flv' });
    player.on(mpegts.Events.ERROR, (t, d) => onError('flv:' + t + ':' + d));
    player.attachMediaElement(video);
    player.load();
  }
  video.play().catch(() => {});
  window.consoleState.playing = s.app + '/' + s.name + ' (' + kind + ')';
  $('playing').textContent = '— ' + window.consoleState.playing;
}

function listen() {
  const es = new EventSource('/v1/events');
  es.onopen = () => { $('status').textContent = 'live'; };
  es.onerror = () => { $('status').textContent = 'reconnecting…'; };
  const onEvent = (e) => {
    const line = document.createElement('div');
    line.textContent = new Date().toLocaleTimeString() + ' ' + e.type + ' ' + e.data;
    $('events').prepend(line);
    refresh().catch(() => {});
  };
  for (const t of ['stream.claimed', 'stream.released', 'stream.moved', 'origin.up', 'origin.draining', 'origin.down']) es.addEventListener(t, onEvent);
}

refresh().catch(() => {});
setInterval(() => refresh().catch(() => {}), 2000);
listen();
</script>
</body>
</html>
`;
