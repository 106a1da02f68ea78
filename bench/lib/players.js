'use strict';
/**
 * Players for the load tool: RTMP (the product's RtmpClient via playWithRedirects, which follows
 * the SRS RTMP 302), HTTP-FLV (node:http, follows 3xx, parses FLV tags) and HLS (polls the playlist,
 * downloads new segments, follows 3xx). Each measures:
 *   - TTFF: start → first video keyframe carrying picture data (HLS: first segment downloaded);
 *   - latency samples: receive time − `sentAt` of each mark (SEI in a video frame or `onCascadeMark`
 *     data message, lib/marks.js) received after the first keyframe;
 *   - bytes: wire bytes and audio/video payload bytes, snapshotted on `mark(label)`;
 *   - disconnects (the server ended a session we did not stop) and, with `replay`, the gap from the
 *     last frame before a disconnect to the first keyframe after playing again.
 */
const http = require('node:http');
const dist = require('./dist');
const { FlvTagStream, isVideoKeyframe } = require('./flv-stream');
const { decodeAmfMark, decodeSeiMark } = require('./marks');
const { nowMs } = require('./util');

const MAX_HTTP_HOPS = 3;

/** `live/name` for rtmp://h:p/live/name?q, http://h:p/live/name.flv, .../live/name.m3u8 */
function streamKey(url) {
  const u = new URL(url);
  return u.pathname.replace(/^\/+/, '').replace(/\.(flv|m3u8)$/, '');
}

/**
 * @typedef {object} PlayerSpec
 * @property {'rtmp'|'flv'|'hls'} proto
 * @property {string} url
 * @property {boolean} [replay] play again after a disconnect (failover measurements)
 * @property {number} [timeoutMs] limit for the first frame of each attempt (default 10000)
 */

class Player {
  /** @param {number} id @param {PlayerSpec} spec */
  constructor(id, spec) {
    this.id = id;
    this.proto = spec.proto;
    this.url = spec.url;
    this.stream = streamKey(spec.url);
    this.replay = !!spec.replay;
    this.timeoutMs = spec.timeoutMs ?? 10000;
    this.finalUrl = null;
    this.hops = 0;
    this.startPerf = 0;
    this.startedAt = 0;
    /** @type {number | null} */ this.ttffMs = null;
    /** @type {number | null} */ this.firstFrameAt = null;
    this.frames = 0;
    this.keyframes = 0;
    this.mediaBytes = 0;
    this.wireBytesClosed = 0;
    this.marks = 0;
    /** @type {number[]} */ this.latT = [];
    /** @type {number[]} */ this.latV = [];
    this.lastFrameAt = 0;
    this.maxFrameGapMs = 0;
    this.disconnects = 0;
    /** @type {Array<{ at: number, lastFrameAt: number, resumedAt: number | null, gapMs: number | null }>} */
    this.outages = [];
    /** @type {string | null} */ this.error = null;
    this.stopped = false;
    /** @type {Record<string, { t: number, mediaBytes: number, wireBytes: number, frames: number }>} */
    this.snapshots = {};
    this.waitingResume = false;
  }

  start() {
    this.startPerf = performance.now();
    this.startedAt = Date.now();
    void this.attempt();
  }

  /** Current wire bytes (subclasses add the open session's). */
  get wireBytes() {
    return this.wireBytesClosed;
  }

  /** @param {string} label */
  mark(label) {
    this.snapshots[label] = { t: Date.now(), mediaBytes: this.mediaBytes, wireBytes: this.wireBytes, frames: this.frames };
  }

  /** @param {number} type @param {Buffer} body */
  onMedia(type, body) {
    const now = nowMs();
    if (type === 18) {
      const m = decodeAmfMark(body);
      // The first mark may be a server's cached copy (NMS caches data messages as metadata): only
      // marks after the first keyframe are live samples.
      if (m && this.firstFrameAt !== null) this.sample(now, m.sentAt);
      return;
    }
    if (type !== 8 && type !== 9) return;
    this.mediaBytes += body.length;
    if (type !== 9) return;
    const key = isVideoKeyframe(type, body);
    if (this.firstFrameAt === null) {
      if (!key) return;
      this.firstFrameAt = now;
      this.ttffMs = performance.now() - this.startPerf;
    }
    // Frames a GOP cache replays at start carry old marks (their age is real: the player is that far
    // behind live); the bench only counts samples inside its window, after the warm-up.
    const mark = decodeSeiMark(body);
    if (mark && !this.waitingResume) this.sample(now, mark.sentAt);
    if (this.waitingResume) {
      if (!key) return;
      this.waitingResume = false;
      const o = this.outages[this.outages.length - 1];
      if (o) {
        o.resumedAt = now;
        o.gapMs = Math.round((now - o.lastFrameAt) * 10) / 10;
      }
    } else if (this.lastFrameAt > 0) {
      this.maxFrameGapMs = Math.max(this.maxFrameGapMs, now - this.lastFrameAt);
    }
    this.frames++;
    if (key) this.keyframes++;
    this.lastFrameAt = now;
  }

  /** @param {number} now @param {number} sentAt */
  sample(now, sentAt) {
    this.marks++;
    this.latT.push(now);
    this.latV.push(now - sentAt);
  }

  /** The session ended without us stopping it. @param {string} why */
  onEnded(why) {
    if (this.stopped) return;
    if (this.firstFrameAt === null && !this.replay) {
      this.error ??= why;
      return;
    }
    this.disconnects++;
    if (!this.waitingResume) this.outages.push({ at: nowMs(), lastFrameAt: this.lastFrameAt, resumedAt: null, gapMs: null });
    if (this.replay) {
      this.waitingResume = true;
      setTimeout(() => {
        if (!this.stopped) void this.attempt();
      }, 100);
    } else {
      this.error ??= why;
    }
  }

  /** @abstract */
  async attempt() {}

  /** @param {unknown} err */
  onAttemptFailed(err) {
    const msg = String(err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err);
    if (this.stopped) return;
    if (this.replay && (this.waitingResume || this.firstFrameAt === null)) {
      this.error = msg;
      setTimeout(() => {
        if (!this.stopped) void this.attempt();
      }, 200);
      return;
    }
    this.error ??= msg;
  }

  stop() {
    this.stopped = true;
  }

  /** Serializable result; latency samples only inside [from, to] when given. */
  result(from = -Infinity, to = Infinity) {
    const latencies = [];
    for (let i = 0; i < this.latT.length; i++) if (this.latT[i] >= from && this.latT[i] <= to) latencies.push(Math.round(this.latV[i] * 100) / 100);
    return {
      id: this.id,
      proto: this.proto,
      url: this.url,
      stream: this.stream,
      finalUrl: this.finalUrl,
      hops: this.hops,
      ttffMs: this.ttffMs === null ? null : Math.round(this.ttffMs * 10) / 10,
      startedAt: this.startedAt,
      firstFrameAt: this.firstFrameAt,
      frames: this.frames,
      keyframes: this.keyframes,
      mediaBytes: this.mediaBytes,
      wireBytes: this.wireBytes,
      marks: this.marks,
      latencies,
      maxFrameGapMs: this.maxFrameGapMs,
      disconnects: this.disconnects,
      outages: this.outages,
      error: this.error,
      snapshots: this.snapshots,
    };
  }
}

class RtmpPlayer extends Player {
  constructor(id, spec) {
    super(id, spec);
    /** @type {any} */ this.client = null;
  }

  get wireBytes() {
    return this.wireBytesClosed + (this.client ? this.client.bytesIn : 0);
  }

  async attempt() {
    const { playWithRedirects } = dist.redirect();
    let result;
    try {
      result = await playWithRedirects(this.url, { timeoutMs: this.timeoutMs });
    } catch (err) {
      this.onAttemptFailed(err);
      return;
    }
    const client = result.client;
    if (this.stopped) {
      client.close();
      return;
    }
    this.client = client;
    this.finalUrl = result.url;
    this.hops = result.hops;
    for (const m of result.firstMessages) this.onMedia(m.type, m.payload);
    client.on('media', (m) => this.onMedia(m.type, m.payload));
    client.on('close', (err) => {
      this.wireBytesClosed += client.bytesIn;
      if (this.client === client) this.client = null;
      this.onEnded(err ? String(err.message ?? err) : 'server closed the session');
    });
  }

  stop() {
    super.stop();
    this.client?.close();
  }
}

/**
 * GET following 3xx (at most 3 hops); resolves with the final response (body not consumed).
 * @param {string} url
 * @returns {Promise<{ res: import('node:http').IncomingMessage, req: import('node:http').ClientRequest, url: string, hops: number }>}
 */
function httpGetFollow(url, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    let hops = 0;
    const seen = new Set();
    const go = (u) => {
      seen.add(u);
      const req = http.get(u, { agent: false, timeout: timeoutMs }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          const next = new URL(res.headers.location, u).toString();
          if (seen.has(next)) return reject(new Error(`HTTP redirect loop at ${next}`));
          if (++hops > MAX_HTTP_HOPS) return reject(new Error(`more than ${MAX_HTTP_HOPS} HTTP redirects`));
          return go(next);
        }
        if (status !== 200) {
          res.resume();
          return reject(new Error(`HTTP ${status} from ${u}`));
        }
        resolve({ res, req, url: u, hops });
      });
      req.on('timeout', () => req.destroy(new Error(`HTTP timeout after ${timeoutMs} ms: ${u}`)));
      req.on('error', reject);
    };
    go(url);
  });
}

/** @param {string} url @returns {Promise<{ status: number, body: Buffer, url: string, hops: number }>} */
async function httpGetBody(url, timeoutMs = 10000) {
  const { res, url: finalUrl, hops } = await httpGetFollow(url, timeoutMs);
  const parts = [];
  for await (const chunk of res) parts.push(chunk);
  return { status: res.statusCode ?? 0, body: Buffer.concat(parts), url: finalUrl, hops };
}

class FlvPlayer extends Player {
  constructor(id, spec) {
    super(id, spec);
    this.openBytes = 0;
    /** @type {import('node:http').ClientRequest | null} */ this.req = null;
  }

  get wireBytes() {
    return this.wireBytesClosed + this.openBytes;
  }

  async attempt() {
    let got;
    try {
      got = await httpGetFollow(this.url, this.timeoutMs);
    } catch (err) {
      this.onAttemptFailed(err);
      return;
    }
    const { res, req } = got;
    if (this.stopped) {
      req.destroy();
      return;
    }
    this.req = req;
    this.finalUrl = got.url;
    this.hops = got.hops;
    const parser = new FlvTagStream((type, _ts, body) => this.onMedia(type, body));
    let ended = false;
    const end = (why) => {
      if (ended) return;
      ended = true;
      this.wireBytesClosed += this.openBytes;
      this.openBytes = 0;
      if (this.req === req) this.req = null;
      this.onEnded(why);
    };
    res.on('data', (chunk) => {
      this.openBytes += chunk.length;
      try {
        parser.push(chunk);
      } catch (err) {
        req.destroy();
        end(`bad FLV: ${err.message}`);
      }
    });
    res.on('end', () => end('server ended the response'));
    res.on('close', () => end('connection closed'));
    res.on('error', (err) => end(String(err.message)));
  }

  stop() {
    super.stop();
    this.req?.destroy();
  }
}

/**
 * RFC 8216 media playlist, just what a live player needs.
 * @param {string} text @param {string} base
 */
function parsePlaylist(text, base) {
  const lines = text.split(/\r?\n/);
  let mediaSequence = 0;
  let targetDuration = 2;
  let endList = false;
  /** @type {Array<{ seq: number, uri: string, duration: number, pdt: number | null }>} */
  const segments = [];
  let duration = 0;
  /** @type {number | null} */
  let pdt = null;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line === '#EXT-X-ENDLIST') endList = true;
    else if (line && !line.startsWith('#')) {
      segments.push({ seq: mediaSequence + segments.length, uri: new URL(line, base).toString(), duration, pdt });
      pdt = null;
      duration = 0;
    }
  }
  return { mediaSequence, targetDuration, endList, segments };
}

class HlsPlayer extends Player {
  constructor(id, spec) {
    super(id, spec);
    this.nextSeq = -1;
    this.segments = 0;
    this.failures = 0;
    /** @type {NodeJS.Timeout | null} */ this.timer = null;
  }

  async attempt() {
    let playlistUrl = this.url;
    try {
      const first = await httpGetBody(this.url, this.timeoutMs);
      this.finalUrl = playlistUrl = first.url;
      this.hops = first.hops;
      await this.handlePlaylist(first.body.toString('utf8'), playlistUrl);
    } catch (err) {
      this.error ??= String(err.message ?? err);
      return;
    }
    const poll = async () => {
      if (this.stopped) return;
      let wait = 1000;
      try {
        const got = await httpGetBody(playlistUrl, this.timeoutMs);
        this.wireBytesClosed += got.body.length;
        wait = await this.handlePlaylist(got.body.toString('utf8'), playlistUrl);
        this.failures = 0;
      } catch (err) {
        if (++this.failures === 3) this.onEnded(String(err.message ?? err));
      }
      if (!this.stopped) this.timer = setTimeout(poll, wait);
    };
    this.timer = setTimeout(poll, 500);
  }

  /** Downloads segments not seen yet; returns the next poll delay. */
  async handlePlaylist(text, base) {
    const pl = parsePlaylist(text, base);
    // Live start: three segments from the end, like hls.js's default liveSyncDurationCount.
    if (this.nextSeq < 0) this.nextSeq = pl.segments.length ? pl.segments[Math.max(0, pl.segments.length - 3)].seq : 0;
    for (const seg of pl.segments) {
      if (seg.seq < this.nextSeq || this.stopped) continue;
      const got = await httpGetBody(seg.uri, this.timeoutMs);
      const now = Date.now();
      this.nextSeq = seg.seq + 1;
      this.segments++;
      this.frames++;
      this.mediaBytes += got.body.length;
      this.wireBytesClosed += got.body.length;
      if (this.firstFrameAt === null) {
        this.firstFrameAt = now;
        this.ttffMs = performance.now() - this.startPerf;
      }
      if (seg.pdt !== null && Number.isFinite(seg.pdt)) {
        this.marks++;
        this.latT.push(now);
        this.latV.push(now - (seg.pdt + seg.duration * 1000));
      }
    }
    return Math.max(250, (pl.targetDuration * 1000) / 2);
  }

  stop() {
    super.stop();
    if (this.timer) clearTimeout(this.timer);
  }
}

/** @param {number} id @param {PlayerSpec} spec */
function createPlayer(id, spec) {
  switch (spec.proto) {
    case 'rtmp':
      return new RtmpPlayer(id, spec);
    case 'flv':
      return new FlvPlayer(id, spec);
    case 'hls':
      return new HlsPlayer(id, spec);
    default:
      throw new Error(`unknown protocol ${spec.proto}`);
  }
}

/**
 * N players started `rampMs` apart, with marks (byte snapshots) and a summary.
 */
class PlayerPool {
  /** @param {PlayerSpec[]} specs @param {{ rampMs?: number }} [opts] */
  constructor(specs, opts = {}) {
    this.players = specs.map((s, i) => createPlayer(i, s));
    this.rampMs = opts.rampMs ?? 10;
    /** @type {NodeJS.Timeout[]} */
    this.timers = [];
  }

  start() {
    this.players.forEach((p, i) => {
      if (i === 0 || this.rampMs === 0) p.start();
      else this.timers.push(setTimeout(() => p.start(), i * this.rampMs));
    });
  }

  /** Players with a first frame / failed ones / total. */
  status() {
    let started = 0;
    let failed = 0;
    for (const p of this.players) {
      if (p.firstFrameAt !== null) started++;
      else if (p.error !== null && !p.replay) failed++;
    }
    return { started, failed, total: this.players.length };
  }

  /** @param {string} label */
  mark(label) {
    for (const p of this.players) p.mark(label);
  }

  stop() {
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.players) p.stop();
  }

  /** @param {number} [from] @param {number} [to] */
  results(from, to) {
    return this.players.map((p) => p.result(from, to));
  }
}

module.exports = { PlayerPool, createPlayer, RtmpPlayer, FlvPlayer, HlsPlayer, parsePlaylist, streamKey, httpGetFollow, httpGetBody };
