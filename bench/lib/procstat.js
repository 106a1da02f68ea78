'use strict';
/**
 * CPU and memory of processes from /proc: utime + stime (fields 14 and 15 of /proc/PID/stat, in
 * clock ticks → seconds via CLK_TCK) and VmRSS from /proc/PID/status. Snapshots at named instants
 * (window start / end) give CPU-seconds over a window; a 1 s sampler records each process's peak
 * CPU share (the load tool warns when its own processes run above 90 % of a core).
 */
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 on every Linux we know */
}

/** @param {number} pid @returns {{ cpuS: number, rssKb: number } | null} */
function readProc(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm (field 2) may contain spaces and parens: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuS: (utime + stime) / clkTck, rssKb: m ? Number(m[1]) : 0 };
  } catch {
    return null;
  }
}

/**
 * CPU time of every live thread of a process in seconds, at nanosecond resolution: the sum of the
 * first field of /proc/PID/task/TID/schedstat. For short windows (tens of ms) where whole clock ticks
 * of /proc/PID/stat are too coarse; a thread that exits inside the window takes its time with it.
 * @param {number} pid @returns {number | null}
 */
function readSchedCpuS(pid) {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        /* thread gone */
      }
    }
    return ns / 1e9;
  } catch {
    return null;
  }
}

/**
 * @typedef {{ name: string, pid: number, role: 'server'|'load' }} Watched
 */
class ProcSampler {
  constructor(intervalMs = 1000) {
    this.intervalMs = intervalMs;
    /** @type {Map<string, Watched & { last: { t: number, cpuS: number } | null, peakShare: number, peakRssKb: number, samples: Array<[number, number, number]> }>} */
    this.procs = new Map();
    /** @type {Record<string, { t: number, procs: Record<string, { cpuS: number, rssKb: number } | null> }>} */
    this.marks = {};
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** @param {string} name @param {number} pid @param {'server'|'load'} role */
  watch(name, pid, role) {
    this.procs.set(name, { name, pid, role, last: null, peakShare: 0, peakRssKb: 0, samples: [] });
    this.sampleOne(this.procs.get(name), Date.now());
  }

  /** @param {string} name */
  unwatch(name) {
    this.procs.delete(name);
  }

  sample() {
    const now = Date.now();
    for (const p of this.procs.values()) this.sampleOne(p, now);
  }

  sampleOne(p, now) {
    const r = readProc(p.pid);
    if (!r) return;
    if (p.last && now > p.last.t) {
      const share = (r.cpuS - p.last.cpuS) / ((now - p.last.t) / 1000);
      p.peakShare = Math.max(p.peakShare, share);
      p.samples.push([now, Math.round(share * 1000) / 1000, r.rssKb]);
    }
    p.peakRssKb = Math.max(p.peakRssKb, r.rssKb);
    p.last = { t: now, cpuS: r.cpuS };
  }

  /** Snapshot every watched process now. @param {string} label */
  mark(label) {
    const procs = {};
    for (const p of this.procs.values()) procs[p.name] = readProc(p.pid);
    this.marks[label] = { t: Date.now(), procs };
    return this.marks[label];
  }

  /**
   * CPU-seconds, average share of a core, RSS at both ends and peak share per process between two marks.
   * @param {string} from @param {string} to
   */
  window(from, to) {
    const a = this.marks[from];
    const b = this.marks[to];
    if (!a || !b) throw new Error(`no marks ${from}/${to}`);
    const secs = (b.t - a.t) / 1000;
    /** @type {Record<string, { role: string, cpuS: number, avgShare: number, peakShare: number, rssStartMB: number, rssEndMB: number, rssGrowthMB: number }>} */
    const out = {};
    for (const p of this.procs.values()) {
      const x = a.procs[p.name];
      const y = b.procs[p.name];
      if (!x || !y) continue;
      const inWin = p.samples.filter(([t]) => t > a.t && t <= b.t).map(([, s]) => s);
      out[p.name] = {
        role: p.role,
        cpuS: round3(y.cpuS - x.cpuS),
        avgShare: round3((y.cpuS - x.cpuS) / secs),
        peakShare: round3(inWin.length ? Math.max(...inWin) : (y.cpuS - x.cpuS) / secs),
        rssStartMB: round1(x.rssKb / 1024),
        rssEndMB: round1(y.rssKb / 1024),
        rssGrowthMB: round1((y.rssKb - x.rssKb) / 1024),
      };
    }
    return { seconds: secs, procs: out };
  }

  stop() {
    clearInterval(this.timer);
  }
}

const round3 = (x) => Math.round(x * 1000) / 1000;
const round1 = (x) => Math.round(x * 10) / 10;

module.exports = { ProcSampler, readProc, readSchedCpuS, clkTck };
