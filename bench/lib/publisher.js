'use strict';
/**
 * The real-time publisher: FLV tags from a source (ffmpeg `-re -stream_loop -1 -c copy -f flv pipe:1`
 * paces them) pushed with the product's RtmpClient to one or more RTMP targets, with a latency mark
 * (lib/marks.js) about every 100 ms: an SEI NAL unit in the next video frame (default) and/or an
 * `onCascadeMark {seq, sentAt}` AMF0 data message (amfMarks).
 *
 * A target that joins mid-stream (start, re-publish after a failover) gets the cached metadata and
 * sequence headers, then media from the next video keyframe, timestamps rebased to start at 0.
 * Counts the audio/video payload bytes sent per target (the "published" side of kept-up).
 */
const { EventEmitter } = require('node:events');
const { spawn } = require('node:child_process');
const dist = require('./dist');
const { FlvTagStream, isVideoKeyframe, isSequenceHeader } = require('./flv-stream');
const { encodeAmfMark, withSeiMark } = require('./marks');
const { nowMs } = require('./util');

const SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame', 'latin1')]);

/** @param {Buffer} body */
function isOnMetaData(body) {
  return body.length > 13 && body[0] === 0x02 && body.toString('latin1', 3, 3 + body.readUInt16BE(1)) === 'onMetaData';
}

/**
 * @typedef {object} Target
 * @property {string} url
 * @property {'connecting'|'waiting-key'|'live'|'closed'} state
 * @property {any} client RtmpClient
 * @property {number} bytes audio/video payload bytes sent
 * @property {number} base timestamp subtracted from source timestamps
 * @property {boolean} retry
 * @property {number} attempts
 * @property {number | null} liveAt Date.now() of the last Publish.Start
 * @property {number} congested sendMedia calls that found the socket buffer full
 * @property {string | null} lastError
 */

class Publisher extends EventEmitter {
  /**
   * @param {{ markIntervalMs?: number, retryMs?: number, timeoutMs?: number, seiMarks?: boolean, amfMarks?: boolean }} [opts]
   */
  constructor(opts = {}) {
    super();
    this.markIntervalMs = opts.markIntervalMs ?? 100;
    this.seiMarks = opts.seiMarks ?? true;
    this.amfMarks = opts.amfMarks ?? false;
    this.lastSeiAt = 0;
    this.retryMs = opts.retryMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    /** @type {Map<string, Target>} */
    this.targets = new Map();
    /** @type {Buffer | null} */ this.meta = null;
    /** @type {Buffer | null} */ this.videoHeader = null;
    /** @type {Buffer | null} */ this.audioHeader = null;
    this.lastTs = 0;
    this.seq = 0;
    this.sourceBytes = 0;
    this.sourceTags = 0;
    this.closed = false;
    /** @type {import('node:child_process').ChildProcess | null} */
    this.ffmpeg = null;
    this.markTimer = this.amfMarks ? setInterval(() => this.sendMarks(), this.markIntervalMs) : null;
  }

  /**
   * Starts publishing to `url` (rtmp://host:port/app/stream). With `retry`, a refused or dropped
   * publish is retried every retryMs until removeTarget/close.
   * @param {string} url @param {{ retry?: boolean }} [opts]
   */
  addTarget(url, opts = {}) {
    if (this.targets.has(url)) return;
    /** @type {Target} */
    const t = { url, state: 'connecting', client: null, bytes: 0, base: 0, retry: !!opts.retry, attempts: 0, liveAt: null, congested: 0, lastError: null };
    this.targets.set(url, t);
    void this.connect(t);
  }

  /** @param {string} url */
  removeTarget(url) {
    const t = this.targets.get(url);
    if (!t) return;
    t.retry = false;
    t.state = 'closed';
    t.client?.close();
    this.targets.delete(url);
  }

  /** @param {Target} t */
  async connect(t) {
    const { RtmpClient } = dist.rtmpClient();
    const { parseRtmpUrl } = dist.rtmpUrl();
    while (!this.closed && this.targets.get(t.url) === t) {
      t.attempts++;
      t.state = 'connecting';
      let client = null;
      try {
        client = await RtmpClient.connect(t.url, { timeoutMs: this.timeoutMs });
        if (this.closed || this.targets.get(t.url) !== t) {
          client.close();
          return;
        }
        await client.publish(parseRtmpUrl(t.url).streamWithQuery);
        const done = new Promise((resolve) => client.once('close', (err) => resolve(err)));
        client.on('status', (info) => {
          if (info && info.level === 'error') t.lastError = `${info.code}: ${info.description ?? ''}`;
        });
        t.client = client;
        t.state = 'waiting-key';
        t.liveAt = Date.now();
        this.emit('live', t.url, t.attempts);
        const err = await done;
        t.client = null;
        if (t.state !== 'closed') t.state = 'connecting';
        if (!this.closed) this.emit('dropped', t.url, t.lastError ?? (err ? String(err) : 'closed by server'));
      } catch (err) {
        client?.close();
        t.lastError = String(err && err.message ? err.message : err);
        if (!t.retry) this.emit('failed', t.url, t.lastError);
      }
      if (!t.retry) {
        t.state = 'closed';
        return;
      }
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  /**
   * Reads FLV from `source` (a readable stream) and publishes it.
   * @param {NodeJS.ReadableStream} source
   */
  feed(source) {
    const parser = new FlvTagStream((type, ts, body) => this.onTag(type, ts, body));
    source.on('data', (chunk) => {
      this.sourceBytes += chunk.length;
      try {
        parser.push(chunk);
      } catch (err) {
        this.emit('error', err);
      }
    });
    source.on('end', () => this.emit('sourceEnd'));
  }

  /**
   * Spawns ffmpeg with `inputArgs` and `-c copy -f flv pipe:1` (or the encode args given) and feeds
   * its output. Used in-process (smoke test); the bench CLI is given ffmpeg's stdout as stdin instead.
   * @param {string[]} args full ffmpeg argument list ending in `-f flv pipe:1`
   */
  spawnSource(args) {
    const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.ffmpeg = ff;
    this.feed(/** @type {NodeJS.ReadableStream} */ (ff.stdout));
    return ff;
  }

  /** @param {number} type @param {number} ts @param {Buffer} body */
  onTag(type, ts, body) {
    this.sourceTags++;
    if (type === 18) {
      if (isOnMetaData(body)) this.meta = Buffer.concat([SET_DATA_FRAME, body]);
      return;
    }
    if (type !== 8 && type !== 9) return;
    if (isSequenceHeader(type, body)) {
      if (type === 9) this.videoHeader = body;
      else this.audioHeader = body;
    }
    this.lastTs = ts;
    const key = isVideoKeyframe(type, body);
    if (this.seiMarks && type === 9 && !isSequenceHeader(type, body)) {
      const now = nowMs();
      if (now - this.lastSeiAt >= this.markIntervalMs - 5) {
        this.lastSeiAt = now;
        body = withSeiMark(body, { seq: ++this.seq, sentAt: Math.round(now * 100) / 100 });
      }
    }
    for (const t of this.targets.values()) {
      if (t.state === 'waiting-key') {
        if (!key) continue;
        t.base = ts;
        t.state = 'live';
        if (this.meta) this.send(t, { type: 18, timestamp: 0, payload: this.meta }, false);
        if (this.videoHeader) this.send(t, { type: 9, timestamp: 0, payload: this.videoHeader }, true);
        if (this.audioHeader) this.send(t, { type: 8, timestamp: 0, payload: this.audioHeader }, true);
        this.emit('flowing', t.url);
      }
      if (t.state === 'live' && !isSequenceHeader(type, body)) this.send(t, { type, timestamp: ts - t.base, payload: body }, true);
    }
  }

  /** @param {Target} t @param {{type:number,timestamp:number,payload:Buffer}} msg @param {boolean} media */
  send(t, msg, media) {
    const client = t.client;
    if (!client || !client.connected) return;
    try {
      if (!client.sendMedia({ type: msg.type, streamId: 0, timestamp: Math.max(0, msg.timestamp) >>> 0, payload: msg.payload })) t.congested++;
      if (media) t.bytes += msg.payload.length;
    } catch {
      /* closed meanwhile */
    }
  }

  sendMarks() {
    if (this.closed) return;
    let any = false;
    for (const t of this.targets.values()) if (t.state === 'live') any = true;
    if (!any) return;
    const payload = encodeAmfMark({ seq: ++this.seq, sentAt: nowMs() });
    for (const t of this.targets.values()) {
      if (t.state === 'live') this.send(t, { type: 18, timestamp: this.lastTs - t.base, payload }, false);
    }
  }

  /** Bytes published so far per target URL, at this instant. */
  snapshot() {
    /** @type {Record<string, { bytes: number, state: string, attempts: number, congested: number }>} */
    const targets = {};
    for (const t of this.targets.values()) targets[t.url] = { bytes: t.bytes, state: t.state, attempts: t.attempts, congested: t.congested };
    return { t: Date.now(), seq: this.seq, sourceBytes: this.sourceBytes, targets };
  }

  /** Whether every target has media flowing. */
  allFlowing() {
    for (const t of this.targets.values()) if (t.state !== 'live') return false;
    return this.targets.size > 0;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.markTimer) clearInterval(this.markTimer);
    for (const t of this.targets.values()) {
      t.retry = false;
      t.state = 'closed';
      t.client?.close();
    }
    if (this.ffmpeg && this.ffmpeg.exitCode === null && this.ffmpeg.signalCode === null) this.ffmpeg.kill('SIGKILL');
  }
}

/**
 * ffmpeg arguments that publish the cached test file looped in real time, stream copy, as FLV on stdout.
 * @param {string} file
 */
function loopFileArgs(file) {
  return ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv', '-flvflags', 'no_duration_filesize', '-flush_packets', '1', 'pipe:1'];
}

/**
 * ffmpeg arguments that encode a live test pattern (smaller, for the smoke test) as FLV on stdout.
 * @param {{ size?: string, gop?: number, seconds?: number }} [opts]
 */
function liveEncodeArgs(opts = {}) {
  return [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '640x360'}:rate=30`,
    '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(opts.gop ?? 30),
    '-c:a', 'aac',
    ...(opts.seconds !== undefined ? ['-t', String(opts.seconds)] : []),
    '-f', 'flv', '-flvflags', 'no_duration_filesize', '-flush_packets', '1', 'pipe:1',
  ];
}

module.exports = { Publisher, loopFileArgs, liveEncodeArgs };
