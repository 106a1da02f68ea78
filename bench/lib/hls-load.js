'use strict';
/**
 * HLS clients for the hls-edge scenario, one child process per shard (IPC with the bench), many
 * clients per process. Each client is what a plain (not low-latency) HLS player does on a live
 * stream: its own keep-alive connection (an http.Agent with one socket), the playlist every target
 * duration (measured from the previous reload's start; RFC 8216 section 6.3.4), each EXTINF segment it
 * has not fetched yet, starting at the newest one. The reload interval is the first
 * EXT-X-TARGETDURATION the client saw (RFC 8216 section 4.3.3.1: it MUST NOT change), or `reloadMs`
 * when the start command gives one (hls-edge does, so two servers get the same request rate); the
 * values the playlists carried are counted (`targets`). LL-HLS tags (parts, preload hints) are ignored, as RFC 8216 section 4.1 lets a client.
 *
 * Per request it records time to first byte and time to the last byte (ms), body bytes and status.
 *
 * IPC in:  { cmd: 'start', url, clients, rampMs, reloadMs? } · { cmd: 'mark', label } · { cmd: 'stop', from, to }
 * IPC out: { event: 'ready' } · { event: 'marked', label, snapshot } · { event: 'results', ... }
 */
const http = require('node:http');

/** @typedef {{ t: number, kind: 'playlist' | 'segment', ttfbMs: number, totalMs: number, bytes: number, status: number }} Req */

/** @type {Req[]} */
const reqs = [];
const totals = { bytes: 0, requests: 0, errors: 0, segments: 0 };
/** EXT-X-TARGETDURATION values seen, with how many playlists said each. */
const targets = /** @type {Record<string, number>} */ ({});
/** @type {Record<string, { t: number, bytes: number, requests: number, errors: number, segments: number }>} */
const marks = {};
/** @type {Client[]} */
const clients = [];
let stopped = false;
/** @type {number | undefined} a fixed reload interval (ms) instead of the target duration */
let reloadMs;

/**
 * @param {http.Agent} agent @param {string} url @param {'playlist' | 'segment'} kind
 * @returns {Promise<{ status: number, body: Buffer }>}
 */
function get(agent, url, kind) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = 0;
    const req = http.get(url, { agent, timeout: 15000 }, (res) => {
      ttfb = performance.now() - t0;
      const parts = [];
      let n = 0;
      res.on('data', (c) => {
        parts.push(c);
        n += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        reqs.push({ t: Date.now(), kind, ttfbMs: ttfb, totalMs: performance.now() - t0, bytes: n, status });
        totals.requests++;
        totals.bytes += n;
        if (status !== 200) totals.errors++;
        else if (kind === 'segment') totals.segments++;
        resolve({ status, body: Buffer.concat(parts, n) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', (err) => {
      totals.errors++;
      reject(err);
    });
  });
}

/**
 * Segments of a media playlist: [{ seq, uri }] and the target duration (s).
 * @param {string} text @param {string} base
 */
function parsePlaylist(text, base) {
  let seq = 0;
  let target = 2;
  let inf = false;
  /** @type {Array<{ seq: number, uri: string }>} */
  const segs = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) target = Number(line.slice(22));
    else if (line.startsWith('#EXTINF:')) inf = true;
    else if (!line.startsWith('#') && inf) {
      segs.push({ seq: seq++, uri: new URL(line, base).toString() });
      inf = false;
    }
  }
  return { segs, target };
}

class Client {
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.next = -1;
    this.started = false;
    /** @type {number | undefined} the first EXT-X-TARGETDURATION seen (s): the reload interval */
    this.targetS = undefined;
    /** @type {NodeJS.Timeout | null} */ this.timer = null;
  }

  async tick() {
    if (stopped) return;
    const t0 = Date.now();
    let waitMs = 1000;
    try {
      const pl = await get(this.agent, this.url, 'playlist');
      if (pl.status === 200) {
        const { segs, target } = parsePlaylist(pl.body.toString('utf8'), this.url);
        this.targetS ??= target;
        waitMs = reloadMs ?? this.targetS * 1000;
        targets[target] = (targets[target] ?? 0) + 1;
        if (this.next < 0 && segs.length) this.next = segs[segs.length - 1].seq; // the newest segment
        for (const s of segs) {
          if (stopped) return;
          if (s.seq < this.next) continue;
          const r = await get(this.agent, s.uri, 'segment');
          if (r.status === 200) {
            this.next = s.seq + 1;
            this.started = true;
          } else break;
        }
      }
    } catch {
      /* counted in totals.errors; try again at the next reload */
    }
    if (!stopped) this.timer = setTimeout(() => void this.tick(), Math.max(0, waitMs - (Date.now() - t0)));
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
  }
}

/** @param {number[]} xs @param {number} p */
function pct(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10;
}

/** @param {Req[]} rs */
function lat(rs) {
  return {
    count: rs.length,
    ttfb: { p50: pct(rs.map((r) => r.ttfbMs), 50), p99: pct(rs.map((r) => r.ttfbMs), 99) },
    total: { p50: pct(rs.map((r) => r.totalMs), 50), p95: pct(rs.map((r) => r.totalMs), 95), p99: pct(rs.map((r) => r.totalMs), 99), max: pct(rs.map((r) => r.totalMs), 100) },
  };
}

const send = (m) => process.send && process.send(m);
process.on('message', (m) => {
  if (m.cmd === 'start') {
    reloadMs = m.reloadMs ?? undefined;
    for (let i = 0; i < m.clients; i++) {
      const c = new Client(m.url);
      clients.push(c);
      setTimeout(() => void c.tick(), Math.round((i * m.rampMs) / Math.max(1, m.clients)));
    }
  } else if (m.cmd === 'status') {
    send({ event: 'status', started: clients.filter((c) => c.started).length, total: clients.length });
  } else if (m.cmd === 'mark') {
    marks[m.label] = { t: Date.now(), ...totals };
    send({ event: 'marked', label: m.label, snapshot: marks[m.label] });
  } else if (m.cmd === 'stop') {
    stopped = true;
    for (const c of clients) c.stop();
    const a = marks[m.from];
    const b = marks[m.to];
    const inWin = a && b ? reqs.filter((r) => r.t > a.t && r.t <= b.t) : [];
    send({
      event: 'results',
      clients: clients.length,
      started: clients.filter((c) => c.started).length,
      targets,
      playlist: lat(inWin.filter((r) => r.kind === 'playlist')),
      segment: lat(inWin.filter((r) => r.kind === 'segment')),
      ttfbAll: inWin.map((r) => Math.round(r.ttfbMs * 10) / 10),
      totalPlaylist: inWin.filter((r) => r.kind === 'playlist').map((r) => Math.round(r.totalMs * 10) / 10),
      totalSegment: inWin.filter((r) => r.kind === 'segment').map((r) => Math.round(r.totalMs * 10) / 10),
    });
  }
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the bench went away
send({ event: 'ready' });

module.exports = { parsePlaylist };
