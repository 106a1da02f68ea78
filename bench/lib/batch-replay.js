#!/usr/bin/env node
'use strict';
/**
 * How many writes per viewer each fan-out batching setting makes, and how long a video frame waits in
 * the hub: the bench's test media replayed in real time (by its timestamps) into one edge StreamHub
 * (dist/) per setting, each with one counting viewer. No sockets, so no CPU figure — the count of
 * writes is what the edge's CPU per viewer follows (bench/README.md "Edge fan-out").
 *   node lib/batch-replay.js [seconds=10]   (after `npm run build` in the repo and one bench run for the media)
 */
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..', '..');
const { readFlvTags } = require(path.join(root, 'dist/protocol/flv'));
const { StreamHub } = require(path.join(root, 'dist/edge/fanout/hub'));

const media = path.join(__dirname, '..', '.cache', 'test-720p30-2500k-gop2s-aac128k-30s.flv');
const tags = readFlvTags(fs.readFileSync(media));
const settings = [['window', 0], ['window', 10], ['window', 20], ['window', 40], ['frame', 50]];
const seconds = Number(process.argv[2] ?? 10);

const hubs = settings.map(([mode, ms]) => {
  const st = { mode, ms, writes: 0, bytes: 0, waits: [], pending: [] };
  st.hub = new StreamHub({ batchMs: ms, batchMode: mode, maxBacklogBytes: 1 << 30, maxLagMs: 1e9 });
  st.hub.add({
    kind: 'rtmp',
    backlog: 0,
    write(b) {
      st.writes++;
      st.bytes += b.length;
      const now = performance.now();
      while (st.pending.length) st.waits.push(now - st.pending.shift());
    },
    end() {},
    kick() {},
  });
  return st;
});

const t0 = performance.now();
const ts0 = tags[0].timestamp;
let i = 0;
function tick() {
  const now = performance.now() - t0;
  while (i < tags.length && tags[i].timestamp - ts0 <= now) {
    const t = tags[i++];
    const msg = { type: t.type, streamId: 1, timestamp: t.timestamp, payload: t.payload };
    for (const s of hubs) {
      if (t.type === 9) s.pending.push(performance.now());
      s.hub.push(msg);
    }
  }
  if (now < seconds * 1000 && i < tags.length) return void setTimeout(tick, Math.max(0, tags[i].timestamp - ts0 - now));
  for (const s of hubs) {
    s.hub.end('done');
    s.waits.sort((a, b) => a - b);
    const q = (p) => s.waits[Math.floor(p * (s.waits.length - 1))].toFixed(1);
    console.log(`${s.mode} ${s.ms} ms: ${(s.writes / seconds).toFixed(1)} writes/s per viewer, ${(s.bytes / s.writes / 1024).toFixed(1)} KiB per write, video frame wait in the hub p50 / p99 ${q(0.5)} / ${q(0.99)} ms`);
  }
}
tick();
