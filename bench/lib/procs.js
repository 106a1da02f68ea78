'use strict';
/**
 * Every process the bench starts goes through here: spawned, remembered by PID, stopped by PID
 * (SIGTERM, then SIGKILL after a grace period) and awaited until it has exited. `stopAll()` runs at
 * the end of the run and on SIGINT / SIGTERM / uncaught errors, so nothing outlives the bench.
 */
const { spawn } = require('node:child_process');

class Proc {
  /** @param {string} name @param {import('node:child_process').ChildProcess} child @param {boolean} captureStdout */
  constructor(name, child, captureStdout = true) {
    this.name = name;
    this.child = child;
    this.pid = /** @type {number} */ (child.pid);
    /** @type {string[]} */
    this.tail = [];
    this.tailBytes = 0;
    const keep = (d) => {
      const s = d.toString();
      this.tail.push(s);
      this.tailBytes += s.length;
      while (this.tailBytes > 64 * 1024 && this.tail.length > 1) this.tailBytes -= /** @type {string} */ (this.tail.shift()).length;
    };
    if (captureStdout) child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exitCode = /** @type {number | null} */ (null);
    this.exitSignal = /** @type {string | null} */ (null);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve(code);
      });
      child.once('error', (err) => {
        this.tail.push(String(err));
        resolve(null);
      });
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get output() {
    return this.tail.join('');
  }
}

class ProcessRegistry {
  constructor() {
    /** @type {Set<Proc>} */
    this.procs = new Set();
  }

  /**
   * @param {string} name @param {string} cmd @param {string[]} args
   * @param {import('node:child_process').SpawnOptions & { captureStdout?: boolean }} [opts]
   *   captureStdout: false leaves stdout unread (to hand it to another process)
   */
  spawn(name, cmd, args, opts = {}) {
    const { captureStdout = true, ...spawnOpts } = opts;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    const p = new Proc(name, child, captureStdout);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** @param {Proc} p @param {NodeJS.Signals} [signal] */
  async stop(p, signal = 'SIGTERM', graceMs = 5000) {
    if (p.running) {
      try {
        process.kill(p.pid, signal);
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await p.exited;
      clearTimeout(t);
    } else {
      await p.exited;
    }
    this.procs.delete(p);
  }

  /** Stops everything still running (reverse start order) and waits for every exit. */
  async stopAll(graceMs = 5000) {
    const all = [...this.procs].reverse();
    await Promise.all(all.map((p) => this.stop(p, 'SIGTERM', graceMs)));
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL by PID. */
  killAllSync() {
    for (const p of this.procs) {
      if (!p.running) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

module.exports = { ProcessRegistry, Proc };
