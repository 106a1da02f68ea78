'use strict';
/**
 * Control-plane load: simulated origins talking to discovery with the product's own client
 * (`HttpDiscoveryClient` from ../dist, one per origin, so one keep-alive connection each, as real
 * origins have).
 *
 *   - SimOrigin: an origin holding `streams` leases that sends the leases v2 heartbeat
 *     (`POST /v1/origins/:id/heartbeat`, registration + every lease). Its first heartbeat lists every
 *     lease with a token discovery does not hold (as after a discovery state loss), so discovery
 *     re-claims them (`reclaimed`, new token); later ones carry the returned tokens (`renewed`).
 *   - LegacyOrigin: the per-stream API the origin used before: `PUT /v1/origins/:id`, then one
 *     `POST /v1/streams/:app/:name/renew` per lease, one after the other (origin/service.ts tick()).
 *   - HeartbeatFleet: N simulated origins, each sending one request every `intervalMs`, staggered
 *     evenly over the interval; `kind: 'healthz'` sends `GET /healthz` on the same schedule instead
 *     (the trivial-request baseline). With `rampMs`, origins join over that time (origin i's first
 *     request in round ⌊i × ramp rounds / N⌋, in its own slot). A tick that finds the origin's previous
 *     request still in flight is skipped and counted (`skipped`): a real origin would be late with
 *     that heartbeat.
 *
 * Every request is recorded (start time, latency, outcome, per-lease statuses); `summary(from, to)`
 * gives the figures of the requests started in [from, to).
 */
const { randomBytes } = require('node:crypto');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const dist = require('./dist');
const { percentile, round } = require('./util');

/** @typedef {'renewed'|'reclaimed'|'fenced'|'absent'} LeaseStatus */

const LOOP_RESOLUTION_MS = 10;

/**
 * @param {unknown} err
 * @returns {'timeout'|'http5xx'|'http4xx'|'leaseLost'|'staleIncarnation'|'other'}
 */
function errorKind(err) {
  const e = /** @type {{ message?: string, code?: string, details?: { status?: number } }} */ (err ?? {});
  const msg = String(e.message ?? err);
  if (e.code === 'LEASE_LOST') return 'leaseLost';
  if (e.code === 'STALE_INCARNATION') return 'staleIncarnation';
  if (/timeout/i.test(msg)) return 'timeout';
  const status = e.details?.status;
  if (typeof status === 'number' && status >= 500) return 'http5xx';
  if (typeof status === 'number' && status >= 400) return 'http4xx';
  return 'other';
}

/** @param {number} n @param {string} id @param {string} app */
function makeLeases(n, id, app) {
  const since = Date.now() - 60_000;
  // token 1: the origin "holds" a token discovery does not know (its store lost its state), so the
  // first heartbeat re-claims every lease above it.
  return Array.from({ length: n }, (_, j) => ({ app, name: `${id}-s${j}`, token: 1, since }));
}

/** @param {string} baseUrl @param {number} timeoutMs */
function newClient(baseUrl, timeoutMs) {
  const { HttpDiscoveryClient } = dist.discoveryClient();
  return new HttpDiscoveryClient(baseUrl, { timeoutMs });
}

/** @param {number} i */
function registrationOf(i, streams) {
  return {
    rtmp: `rtmp://127.0.0.1:${20000 + i}`,
    http: `http://127.0.0.1:${30000 + i}`,
    state: /** @type {const} */ ('active'),
    capacity: 48,
    load: { weight: 0, publishers: streams, viewers: 0 },
  };
}

class SimOrigin {
  /**
   * @param {string} baseUrl discovery
   * @param {string} id origin id
   * @param {{ index?: number, streams: number, app?: string, timeoutMs?: number }} opts
   */
  constructor(baseUrl, id, opts) {
    this.id = id;
    this.index = opts.index ?? 0;
    this.streams = opts.streams;
    // The product's client: 2 s for ordinary calls, heartbeat() allows max(2 s, 5 s) by default.
    this.client = newClient(baseUrl, opts.timeoutMs ?? 2000);
    this.incarnation = randomBytes(6).toString('hex');
    this.startedAt = Date.now();
    this.registration = registrationOf(this.index, opts.streams);
    this.leases = makeLeases(opts.streams, id, opts.app ?? 'live');
    /** requests sent so far (0 while the first is in flight) */
    this.sent = 0;
    /** @type {Promise<void> | null} */
    this.inFlight = null;
    /** when the request in flight started (epoch ms) */
    this.inFlightT = 0;
  }

  /**
   * One leases v2 heartbeat; tokens of renewed / re-claimed leases are taken from the answer.
   * @returns {Promise<{ statuses: Record<LeaseStatus, number>, tokenAhead: number, released: number, restarted: boolean, mismatched: number }>}
   */
  async heartbeat() {
    const res = await this.client.heartbeat(this.id, { incarnation: this.incarnation, startedAt: this.startedAt, registration: this.registration, leases: this.leases });
    /** @type {Record<LeaseStatus, number>} */
    const statuses = { renewed: 0, reclaimed: 0, fenced: 0, absent: 0 };
    let mismatched = 0;
    let tokenAhead = 0;
    for (let i = 0; i < res.leases.length; i++) {
      const r = res.leases[i];
      const mine = this.leases[i];
      statuses[r.status]++;
      if (r.note === 'TOKEN_AHEAD') tokenAhead++;
      if (!mine || mine.name !== r.name || mine.app !== r.app) {
        mismatched++;
        continue;
      }
      if ((r.status === 'renewed' || r.status === 'reclaimed') && r.token !== undefined) mine.token = r.token;
    }
    mismatched += Math.abs(res.leases.length - this.leases.length);
    return { statuses, tokenAhead, released: res.released, restarted: res.restarted, mismatched };
  }

  /** `GET /healthz` (the baseline request). */
  async healthz() {
    await this.client.health();
  }

  close() {
    return this.client.close();
  }
}

class LegacyOrigin {
  /** @param {string} baseUrl @param {string} id @param {{ streams: number, app?: string, index?: number }} opts */
  constructor(baseUrl, id, opts) {
    this.id = id;
    this.client = newClient(baseUrl, 2000);
    this.registration = registrationOf(opts.index ?? 0, opts.streams);
    this.leases = makeLeases(opts.streams, id, opts.app ?? 'live');
    this.lastRegister = 0;
    /** registrations sent by the keep-alive timer (not by round()) */
    this.extraRegisters = 0;
    /** @type {NodeJS.Timeout | null} */
    this.keepTimer = null;
  }

  async register() {
    this.lastRegister = Date.now();
    await this.client.registerOrigin(this.id, this.registration);
  }

  /**
   * The old origin re-registered every 2 s whatever its renew loop was doing (`setInterval(tick)`,
   * ticks overlapping when one took longer): keep that up in the background, so the origin (and with
   * it every lease) does not expire during a long setup or round. Registrations it sends are counted.
   */
  keepRegistered(everyMs = 2000) {
    this.keepTimer ??= setInterval(() => {
      if (Date.now() - this.lastRegister < everyMs) return;
      this.extraRegisters++;
      this.register().catch(() => undefined);
    }, 250);
  }

  /** Registers and claims every lease (bounded concurrency); returns the time it took in ms. */
  async setup(concurrency = 32) {
    const t0 = performance.now();
    await this.register();
    this.keepRegistered();
    let next = 0;
    const worker = async () => {
      while (next < this.leases.length) {
        const lease = this.leases[next++];
        const view = await this.client.claimStream(lease.app, lease.name, this.id);
        lease.token = view.token;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return performance.now() - t0;
  }

  /**
   * One heartbeat of the old origin: register, then renew each lease in turn.
   * @returns {Promise<{ ms: number, requests: number, errors: Record<string, number> }>}
   */
  async round() {
    /** @type {Record<string, number>} */
    const errors = {};
    const t0 = performance.now();
    const extra0 = this.extraRegisters;
    let requests = 1;
    await this.register();
    for (const lease of this.leases) {
      requests++;
      try {
        await this.client.renewStream(lease.app, lease.name, this.id, lease.token);
      } catch (err) {
        const k = errorKind(err);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    }
    return { ms: performance.now() - t0, requests: requests + this.extraRegisters - extra0, errors };
  }

  close() {
    if (this.keepTimer) clearInterval(this.keepTimer);
    this.keepTimer = null;
    return this.client.close();
  }
}

/**
 * @typedef {{ origin: number, seq: number, t: number, end: number, ms: number, ok: boolean, skipped?: boolean, error?: string,
 *   statuses?: Record<LeaseStatus, number>, tokenAhead?: number, released?: number, restarted?: boolean, mismatched?: number }} RequestRecord
 */

class HeartbeatFleet {
  /**
   * @param {{ baseUrl: string, origins: number, streams: number, intervalMs?: number, kind?: 'heartbeat'|'healthz',
   *           rampMs?: number, idPrefix?: string, app?: string, timeoutMs?: number }} opts
   */
  constructor(opts) {
    this.opts = { intervalMs: 2000, kind: 'heartbeat', idPrefix: 'sim', app: 'live', rampMs: 0, ...opts };
    this.rampRounds = Math.max(0, Math.round(this.opts.rampMs / this.opts.intervalMs));
    /** @type {SimOrigin[]} */
    this.origins = Array.from(
      { length: opts.origins },
      (_, i) => new SimOrigin(opts.baseUrl, `${this.opts.idPrefix}-${i + 1}`, { index: i, streams: opts.streams, app: this.opts.app, timeoutMs: opts.timeoutMs }),
    );
    /** @type {RequestRecord[]} */
    this.records = [];
    /** @type {Set<NodeJS.Timeout>} */
    this.timers = new Set();
    this.stopped = false;
    this.t0 = 0;
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  }

  /**
   * Starts every origin's schedule: origin i at t0 + i × interval / N + k × interval, from round
   * ⌊i × ramp rounds / N⌋ on (round 0 for all without a ramp).
   */
  start() {
    this.t0 = Date.now() + 20;
    this.loop.enable();
    this.origins.forEach((o, i) => this.schedule(o, i, Math.floor((i * this.rampRounds) / this.origins.length)));
  }

  /** @param {SimOrigin} o @param {number} i @param {number} k */
  schedule(o, i, k) {
    if (this.stopped) return;
    const at = this.roundStart(k) + (i * this.opts.intervalMs) / this.origins.length;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.tick(o, i, k);
    }, Math.max(0, at - Date.now()));
    this.timers.add(timer);
  }

  /** Start of round k (round 0 is each origin's first request). @param {number} k */
  roundStart(k) {
    return this.t0 + k * this.opts.intervalMs;
  }

  /** @param {SimOrigin} o @param {number} i @param {number} k */
  tick(o, i, k) {
    if (this.stopped) return;
    this.schedule(o, i, k + 1);
    if (o.inFlight) {
      this.records.push({ origin: i, seq: o.sent, t: Date.now(), end: Date.now(), ms: 0, ok: false, skipped: true });
      return;
    }
    o.inFlightT = Date.now();
    o.inFlight = this.send(o, i).finally(() => {
      o.inFlight = null;
    });
  }

  /** @param {SimOrigin} o @param {number} i */
  async send(o, i) {
    const seq = o.sent++;
    const t = Date.now();
    const p0 = performance.now();
    try {
      if (this.opts.kind === 'healthz') {
        await o.healthz();
        this.records.push({ origin: i, seq, t, end: Date.now(), ms: performance.now() - p0, ok: true });
      } else {
        const r = await o.heartbeat();
        this.records.push({ origin: i, seq, t, end: Date.now(), ms: performance.now() - p0, ok: r.mismatched === 0, ...r, ...(r.mismatched ? { error: 'mismatch' } : {}) });
      }
    } catch (err) {
      this.records.push({ origin: i, seq, t, end: Date.now(), ms: performance.now() - p0, ok: false, error: errorKind(err) });
    }
  }

  /** @param {RequestRecord} r whether it is a complete answer: ok and (heartbeats) every lease renewed */
  fullyRenewed(r) {
    return r.ok && !r.skipped && (this.opts.kind === 'healthz' || r.statuses?.renewed === this.opts.streams);
  }

  /**
   * When every origin has had a complete answer (every lease renewed) to a request started at or
   * after `since`: the epoch ms of the last of those answers; null while some origin has none.
   * @param {number} since
   */
  convergedAfter(since) {
    /** @type {Array<number | null>} */
    const firstEnd = this.origins.map(() => null);
    for (const r of this.records) {
      if (r.t < since || !this.fullyRenewed(r)) continue;
      const e = firstEnd[r.origin];
      if (e === null || r.end < e) firstEnd[r.origin] = r.end;
    }
    if (firstEnd.some((e) => e === null)) return null;
    return Math.max(.../** @type {number[]} */ (firstEnd));
  }

  /** Whether every origin has had an answer (or an error) to its first request. */
  firstRoundDone() {
    const seen = new Set(this.records.filter((r) => r.seq === 0 && !r.skipped).map((r) => r.origin));
    return seen.size === this.origins.length;
  }

  /** Whether some origin still waits for an answer to a request it started before `t` (epoch ms). @param {number} t */
  inFlightBefore(t) {
    return this.origins.some((o) => o.inFlight !== null && o.inFlightT < t);
  }

  /** Resets the event-loop delay histogram of this (client) process, e.g. at a window start. */
  resetLoopDelay() {
    this.loop.reset();
  }

  /**
   * Event-loop delay of this process since the last reset, in ms (a busy client inflates latencies):
   * the histogram's 10 ms sampling interval is taken off, so an idle loop reads ~0.
   */
  loopDelay() {
    const ms = (/** @type {number} */ ns) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS), 1);
    return { p50: ms(this.loop.percentile(50)), p99: ms(this.loop.percentile(99)), max: ms(this.loop.max) };
  }

  /** Stops scheduling, waits for the requests in flight, closes every client. */
  async stop() {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.origins.map((o) => o.inFlight));
    this.loop.disable();
    await Promise.all(this.origins.map((o) => o.close()));
  }

  /**
   * Figures of the requests started (`by: 'end'`: answered) in [from, to) (epoch ms; default: all).
   * @param {number} [from] @param {number} [to] @param {'t'|'end'} [by]
   */
  summary(from = -Infinity, to = Infinity, by = 't') {
    const recs = this.records.filter((r) => r[by] >= from && r[by] < to);
    const sent = recs.filter((r) => !r.skipped);
    return {
      requests: sent.length,
      ok: sent.filter((r) => r.ok).length,
      skippedTicks: recs.length - sent.length,
      errors: countBy(sent.filter((r) => !r.ok).map((r) => r.error ?? 'other')),
      latencyMs: latency(sent.filter((r) => r.ok).map((r) => r.ms)),
      first: statusSummary(sent.filter((r) => r.seq === 0)),
      later: statusSummary(sent.filter((r) => r.seq > 0), this.opts.kind === 'heartbeat' ? this.opts.streams : null),
      all: statusSummary(sent, this.opts.kind === 'heartbeat' ? this.opts.streams : null),
    };
  }
}

/** @param {string[]} keys */
function countBy(keys) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** @param {number[]} ms */
function latency(ms) {
  const p = (/** @type {number} */ q) => round(percentile(ms, q), 1);
  return { n: ms.length, p50: p(50), p95: p(95), p99: p(99), max: ms.length ? round(Math.max(...ms), 1) : null, mean: ms.length ? round(ms.reduce((a, b) => a + b, 0) / ms.length, 1) : null };
}

/**
 * Statuses summed over heartbeats; with `streams`, whether every answered heartbeat renewed all of them.
 * @param {RequestRecord[]} recs @param {number | null} [streams]
 */
function statusSummary(recs, streams = null) {
  /** @type {Record<LeaseStatus, number>} */
  const statuses = { renewed: 0, reclaimed: 0, fenced: 0, absent: 0 };
  let released = 0;
  let restarted = 0;
  let tokenAhead = 0;
  for (const r of recs) {
    if (!r.statuses) continue;
    for (const k of /** @type {LeaseStatus[]} */ (Object.keys(statuses))) statuses[k] += r.statuses[k];
    released += r.released ?? 0;
    tokenAhead += r.tokenAhead ?? 0;
    if (r.restarted) restarted++;
  }
  const ok = recs.filter((r) => r.ok);
  return {
    requests: recs.length,
    ok: ok.length,
    errors: countBy(recs.filter((r) => !r.ok).map((r) => r.error ?? 'other')),
    statuses,
    tokenAhead,
    released,
    restarted,
    latencyMs: latency(ok.map((r) => r.ms)),
    ...(streams !== null ? { allRenewed: ok.length > 0 && ok.every((r) => r.statuses?.renewed === streams) } : {}),
  };
}

/**
 * What an edge does while the origins heartbeat: `GET /v1/streams/:app/:name` every `everyMs` (one at a
 * time, on one keep-alive connection; a tick with the previous lookup in flight is skipped). Each
 * lookup is one Redis script call on discovery's ordinary connection, so it waits whenever Redis runs
 * a heartbeat script; an answer from discovery's stale cache (store unreachable) carries
 * `x-cascade-stale`.
 */
class LookupProbe {
  /** @param {string} baseUrl @param {() => string} path @param {{ everyMs?: number, timeoutMs?: number }} [opts] */
  constructor(baseUrl, path, opts = {}) {
    this.baseUrl = baseUrl;
    this.path = path;
    this.everyMs = opts.everyMs ?? 50;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    /** @type {Array<{ t: number, ms: number, status: number | null, stale: boolean, error?: string }>} */
    this.records = [];
    /** @type {NodeJS.Timeout | null} */
    this.timer = null;
    /** @type {Promise<void> | null} */
    this.inFlight = null;
  }

  start() {
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = this.once().finally(() => {
        this.inFlight = null;
      });
    }, this.everyMs);
  }

  async once() {
    const t = Date.now();
    const p0 = performance.now();
    try {
      const res = await fetch(this.baseUrl + this.path(), { signal: AbortSignal.timeout(this.timeoutMs) });
      await res.arrayBuffer();
      this.records.push({ t, ms: performance.now() - p0, status: res.status, stale: res.headers.get('x-cascade-stale') !== null });
    } catch (err) {
      this.records.push({ t, ms: performance.now() - p0, status: null, stale: false, error: errorKind(err) });
    }
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  /** Lookups started in [from, to): latency of the answered ones, statuses, stale answers, errors. @param {number} [from] @param {number} [to] */
  summary(from = -Infinity, to = Infinity) {
    const recs = this.records.filter((r) => r.t >= from && r.t < to);
    const answered = recs.filter((r) => r.status !== null);
    return {
      lookups: recs.length,
      latencyMs: latency(answered.map((r) => r.ms)),
      statuses: countBy(answered.map((r) => String(r.status))),
      stale: answered.filter((r) => r.stale).length,
      errors: countBy(recs.filter((r) => r.status === null).map((r) => r.error ?? 'other')),
    };
  }
}

module.exports = { HeartbeatFleet, SimOrigin, LegacyOrigin, LookupProbe, errorKind };
