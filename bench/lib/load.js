'use strict';
/**
 * Parent side of the load tool: starts the publisher (ffmpeg → `cli.js publish`) and player pools
 * (`cli.js play`, sharded over processes) as tracked child processes, and runs one measurement:
 * players start, warm up, then a window [ws, we] in which server CPU/RSS (from /proc), published
 * bytes and received bytes are snapshotted at both ends.
 */
const path = require('node:path');
const { sleep, waitFor, log } = require('./util');
const { loopFileArgs } = require('./publisher');
const { summarize } = require('./stats');

const CLI = path.join(__dirname, 'cli.js');

/**
 * @typedef {object} Ctx
 * @property {import('./procs').ProcessRegistry} reg
 * @property {import('./procstat').ProcSampler} sampler
 */

class IpcChild {
  /** @param {import('./procs').Proc} proc */
  constructor(proc) {
    this.proc = proc;
    /** @type {Array<{ t: number } & Record<string, any>>} */
    this.events = [];
    /** @type {Set<(m: any) => void>} */
    this.waiters = new Set();
    proc.child.on('message', (m) => {
      this.events.push({ t: Date.now(), ...m });
      for (const w of [...this.waiters]) w(m);
    });
  }

  send(m) {
    if (this.proc.running && this.proc.child.connected) this.proc.child.send(m);
  }

  /**
   * @param {(m: any) => boolean} pred @param {number} timeoutMs @param {string} what
   * @returns {Promise<any>}
   */
  wait(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const done = (fn, v) => {
        clearTimeout(timer);
        this.waiters.delete(onMsg);
        fn(v);
      };
      const onMsg = (m) => {
        if (pred(m)) done(resolve, m);
      };
      const timer = setTimeout(() => done(reject, new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${this.proc.name}\n${this.proc.output.slice(-2000)}`)), timeoutMs);
      this.waiters.add(onMsg);
      void this.proc.exited.then(() => {
        if (this.waiters.has(onMsg)) done(reject, new Error(`${this.proc.name} exited while waiting for ${what}\n${this.proc.output.slice(-2000)}`));
      });
    });
  }
}

/**
 * The publisher: ffmpeg (`-re -stream_loop -1 -c copy -f flv pipe:1` of the cached file, or any
 * ffmpeg args ending in `-f flv pipe:1`) piped straight into `cli.js publish`, which pushes to the targets.
 * @param {Ctx} ctx
 * @param {{ file?: string, ffmpegArgs?: string[], targets: Array<{ url: string, retry?: boolean }>, name?: string, timeoutMs?: number }} opts
 */
async function startPublisher(ctx, opts) {
  const name = opts.name ?? 'publisher';
  const args = opts.ffmpegArgs ?? loopFileArgs(/** @type {string} */ (opts.file));
  const ff = ctx.reg.spawn(`${name}-ffmpeg`, 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'], captureStdout: false });
  const node = ctx.reg.spawn(name, process.execPath, [CLI, 'publish'], { stdio: [ff.child.stdout, 'ignore', 'pipe', 'ipc'] });
  ff.child.stdout?.destroy(); // the publisher process holds the pipe now
  ctx.sampler.watch(`${name}-ffmpeg`, ff.pid, 'load');
  ctx.sampler.watch(name, node.pid, 'load');
  const ipc = new IpcChild(node);
  const api = {
    ipc,
    ffmpeg: ff,
    node,
    /** @param {string} url @param {boolean} [retry] */
    add(url, retry = false) {
      ipc.send({ cmd: 'add', url, retry });
    },
    /** @param {string} url */
    remove(url) {
      ipc.send({ cmd: 'remove', url });
    },
    /** @param {string} url */
    waitFlowing(url, timeoutMs = 20000) {
      if (ipc.events.some((e) => e.event === 'flowing' && e.url === url)) return Promise.resolve();
      return ipc.wait((m) => (m.event === 'flowing' && m.url === url) || (m.event === 'failed' && m.url === url), timeoutMs, `media flowing to ${url}`).then((m) => {
        if (m.event === 'failed') throw new Error(`publish to ${url} failed: ${m.detail}`);
      });
    },
    /** @param {string} label */
    async mark(label) {
      const p = ipc.wait((m) => m.event === 'marked' && m.label === label, 5000, `publisher mark ${label}`);
      ipc.send({ cmd: 'mark', label });
      return (await p).snapshot;
    },
    async stop() {
      ctx.sampler.unwatch(name);
      ctx.sampler.unwatch(`${name}-ffmpeg`);
      await ctx.reg.stop(ff, 'SIGKILL');
      await ctx.reg.stop(node, 'SIGTERM', 2000);
    },
  };
  await ipc.wait((m) => m.event === 'ready', 10000, 'publisher ready');
  for (const t of opts.targets) api.add(t.url, t.retry);
  try {
    for (const t of opts.targets) await api.waitFlowing(t.url, opts.timeoutMs ?? 20000);
  } catch (err) {
    await api.stop();
    throw err;
  }
  return api;
}

/**
 * Player pools in `procs` processes (specs dealt round-robin).
 * @param {Ctx} ctx
 * @param {{ specs: import('./players').PlayerSpec[], rampMs?: number, procs?: number, name?: string }} opts
 */
async function startPlayers(ctx, opts) {
  const n = Math.max(1, Math.min(opts.procs ?? Math.ceil(opts.specs.length / 250), opts.specs.length || 1));
  const name = opts.name ?? 'players';
  /** @type {Array<{ ipc: IpcChild, specs: import('./players').PlayerSpec[], name: string }>} */
  const shards = [];
  for (let i = 0; i < n; i++) {
    const pname = n === 1 ? name : `${name}-${i + 1}`;
    const proc = ctx.reg.spawn(pname, process.execPath, [CLI, 'play'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    ctx.sampler.watch(pname, proc.pid, 'load');
    shards.push({ ipc: new IpcChild(proc), specs: [], name: pname });
  }
  opts.specs.forEach((s, i) => shards[i % n].specs.push(s));
  await Promise.all(shards.map((s) => s.ipc.wait((m) => m.event === 'ready', 10000, 'player pool ready')));
  const rampMs = opts.rampMs ?? 10;
  // Each shard ramps its share; together players start every rampMs.
  for (const s of shards) s.ipc.send({ cmd: 'start', players: s.specs, rampMs: rampMs * n });

  const api = {
    total: opts.specs.length,
    async status() {
      const all = await Promise.all(
        shards.map((s) => {
          const p = s.ipc.wait((m) => m.event === 'status', 20000, 'status'); // a loaded shared box can starve a player process for seconds
          s.ipc.send({ cmd: 'status' });
          return p;
        }),
      );
      return all.reduce((acc, x) => ({ started: acc.started + x.started, failed: acc.failed + x.failed, total: acc.total + x.total }), { started: 0, failed: 0, total: 0 });
    },
    /** Resolves once every player has a first frame or failed (or the timeout passed). */
    async waitStarted(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let st = await api.status();
      while (st.started + st.failed < st.total && Date.now() < deadline) {
        await sleep(250);
        st = await api.status();
      }
      return st;
    },
    /** @param {string} label */
    async mark(label) {
      await Promise.all(
        shards.map((s) => {
          const p = s.ipc.wait((m) => m.event === 'marked' && m.label === label, 5000, `mark ${label}`);
          s.ipc.send({ cmd: 'mark', label });
          return p;
        }),
      );
    },
    /**
     * Stops the players and returns their results (latency samples between the two marks when given).
     * @param {{ from?: string, to?: string }} [win]
     */
    async stop(win = {}) {
      const results = await Promise.all(
        shards.map(async (s) => {
          try {
            const p = s.ipc.wait((m) => m.event === 'results', 15000, 'results');
            s.ipc.send({ cmd: 'stop', from: win.from, to: win.to });
            return (await p).players;
          } catch (err) {
            log(`${s.name}: no results (${String(err && /** @type {any} */ (err).message ? /** @type {any} */ (err).message : err).split('\n')[0]})${process.env.BENCH_DEBUG ? `\n${s.ipc.proc.output.slice(-3000)}` : ''}`);
            return [];
          } finally {
            ctx.sampler.unwatch(s.name);
            await ctx.reg.stop(s.ipc.proc, 'SIGTERM', 2000);
          }
        }),
      );
      return results.flat().map((r, i) => ({ ...r, id: i }));
    },
  };
  return api;
}

/**
 * One measurement of a running system: start players, wait for their first frames, warm up, then
 * measure a window. The publisher must already be flowing.
 * @param {Ctx} ctx
 * @param {{ publisher: Awaited<ReturnType<typeof startPublisher>>, specs: import('./players').PlayerSpec[], servers: string[],
 *           warmMs: number, windowMs: number, rampMs?: number, procs?: number, startTimeoutMs?: number }} opts
 */
async function measure(ctx, opts) {
  const players = await startPlayers(ctx, { specs: opts.specs, rampMs: opts.rampMs, procs: opts.procs });
  let results;
  let pubWs;
  let pubWe;
  let status;
  let cpu;
  try {
    status = await players.waitStarted(opts.startTimeoutMs ?? (opts.specs.length * (opts.rampMs ?? 10) + 15000));
    await sleep(opts.warmMs);
    [, pubWs] = await Promise.all([players.mark('ws'), opts.publisher.mark('ws'), Promise.resolve(ctx.sampler.mark('ws'))]);
    await sleep(opts.windowMs);
    [, pubWe] = await Promise.all([players.mark('we'), opts.publisher.mark('we'), Promise.resolve(ctx.sampler.mark('we'))]);
    cpu = ctx.sampler.window('ws', 'we'); // before the player processes are unwatched
  } finally {
    results = await players.stop({ from: 'ws', to: 'we' });
  }
  return summarize({ players: results, pubWs, pubWe, cpu, servers: opts.servers, startStatus: status });
}

/** Waits until `check` holds, for scenario code. */
const until = waitFor;

module.exports = { startPublisher, startPlayers, measure, IpcChild, until };
