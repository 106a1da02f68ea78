#!/usr/bin/env node
'use strict';
/**
 * Child-process entry of the load tool, driven over IPC by lib/load.js:
 *   node lib/cli.js publish   — FLV on stdin (ffmpeg's stdout) → RTMP targets, marks every ~100 ms
 *   node lib/cli.js play      — a pool of players
 * The publisher and the players live in separate processes so a busy player pool cannot delay
 * the publisher (which would inflate the measured latency). Both exit when the parent goes away.
 */
const { Publisher } = require('./publisher');
const { PlayerPool } = require('./players');

const mode = process.argv[2];
/** @param {any} msg @param {() => void} [then] called once the message is handed to the parent (or at once when disconnected) */
const send = (msg, then) => {
  if (process.connected) process.send(msg, then ? () => then() : undefined);
  else then?.();
};
/** Exits once `msg` is out: a large results message must not be cut by the exit. */
const sendAndExit = (msg) => {
  const t = setTimeout(() => process.exit(0), 10000);
  send(msg, () => {
    clearTimeout(t);
    setTimeout(() => process.exit(0), 50);
  });
};
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

if (mode === 'publish') {
  const pub = new Publisher({ markIntervalMs: Number(process.env.BENCH_MARK_MS ?? 100), amfMarks: process.env.BENCH_AMF_MARKS === '1' });
  pub.feed(process.stdin);
  for (const ev of ['live', 'flowing', 'dropped', 'failed']) pub.on(ev, (url, detail) => send({ event: ev, url, detail }));
  pub.on('sourceEnd', () => send({ event: 'sourceEnd' }));
  pub.on('error', (err) => send({ event: 'error', detail: String(err) }));
  process.on('message', (m) => {
    switch (m.cmd) {
      case 'add':
        pub.addTarget(m.url, { retry: !!m.retry });
        break;
      case 'remove':
        pub.removeTarget(m.url);
        break;
      case 'mark':
        send({ event: 'marked', label: m.label, snapshot: pub.snapshot() });
        break;
      case 'stop':
        pub.close();
        sendAndExit({ event: 'stopped', snapshot: pub.snapshot() });
        break;
    }
  });
  send({ event: 'ready' });
} else if (mode === 'play') {
  /** @type {PlayerPool | null} */
  let pool = null;
  /** @type {Record<string, number>} */
  const markTimes = {};
  process.on('message', (m) => {
    switch (m.cmd) {
      case 'start':
        pool = new PlayerPool(m.players, { rampMs: m.rampMs });
        pool.start();
        send({ event: 'starting', total: m.players.length });
        break;
      case 'status':
        send({ event: 'status', ...(pool ? pool.status() : { started: 0, failed: 0, total: 0 }) });
        break;
      case 'mark':
        pool?.mark(m.label);
        markTimes[m.label] = Date.now();
        send({ event: 'marked', label: m.label });
        break;
      case 'stop': {
        pool?.stop();
        const from = m.from ? markTimes[m.from] : undefined;
        const to = m.to ? markTimes[m.to] : undefined;
        sendAndExit({ event: 'results', players: pool ? pool.results(from, to) : [] });
        break;
      }
    }
  });
  send({ event: 'ready' });
} else {
  process.stderr.write('usage: node lib/cli.js publish|play (driven over IPC by lib/load.js)\n');
  process.exit(2);
}
