'use strict';
/**
 * Idle cost: an `npm start` cluster (`cascade local`: the launcher + discovery + 2 origins + 1 edge,
 * memory store, random cluster secret) with no streams and no clients, against a standalone
 * node-media-server 4.4.3 idle in the same run. Per process: CPU over the window (user + system, at
 * ns resolution from /proc/PID/task/TID/schedstat), as % of one core, and wake-ups per second
 * (voluntary + involuntary context switches of every thread, /proc/PID/task/TID/status).
 * Goal (issue 15): the whole cluster < 1 % of one core.
 */
const fs = require('node:fs');
const path = require('node:path');
const dist = require('../lib/dist');
const { startNms } = require('../lib/systems');
const { canConnect, waitFor, httpOk, log, round, sleep } = require('../lib/util');
const { ratio } = require('../lib/stats');

/** Default ports of `cascade local` (local/ports.ts DEFAULT_PORTS), moved by --port-offset. */
const LOCAL_PORTS = [1935, 8080, 1936, 1937, 8081, 8082, 8090];

/** CPU-seconds (ns resolution) and context switches of every thread of a process. */
function readThreads(pid) {
  let ns = 0;
  let switches = 0;
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
      switches += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
    } catch {
      /* thread gone */
    }
  }
  return { cpuS: ns / 1e9, switches, threads: tids.length };
}

/** Children of a process (from /proc/PID/task/TID/children). */
function childPids(pid) {
  const out = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const c = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (c) out.push(...c.split(' ').map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** The member name (discovery, origin-1, …) from a child's argv: `… cascade.js <role> --id <id>`. */
function memberName(pid) {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    const id = argv.indexOf('--id');
    if (id >= 0) return argv[id + 1];
    return argv.includes('discovery') ? 'discovery' : `pid-${pid}`;
  } catch {
    return `pid-${pid}`;
  }
}

const rssMB = (pid) => {
  try {
    return round(Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0) / 1024, 1);
  } catch {
    return null;
  }
};

async function freeOffset() {
  for (let i = 0; i < 50; i++) {
    const offset = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (const p of LOCAL_PORTS) if (await canConnect('127.0.0.1', p + offset)) ok = false;
    if (ok) return offset;
  }
  throw new Error('no free port offset for cascade local');
}

async function run(ctx) {
  const windowS = ctx.opts.windowS ?? 60;
  const settleS = ctx.opts.warmS ?? 10;
  const offset = await freeOffset();
  const stateDir = fs.mkdtempSync(path.join(ctx.tmp, 'idle-state-'));
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const launcher = ctx.reg.spawn('launcher', process.execPath, [...nodeArgs, dist.ENTRY, 'local', '--port-offset', String(offset), '--state-dir', stateDir], {
    env: { ...process.env, CASCADE_LOG_LEVEL: process.env.BENCH_CASCADE_LOG_LEVEL ?? 'info' },
  });
  const health = [8090, 8081, 8082, 8080].map((p) => `http://127.0.0.1:${p + offset}/healthz`);
  const nms = await startNms(ctx, 'nms');
  try {
    await waitFor(async () => {
      if (!launcher.running) throw new Error(`cascade local exited during start:\n${launcher.output.slice(-3000)}`);
      for (const h of health) if (!(await httpOk(h))) return false;
      return launcher.output.includes('Cascade local cluster is up');
    }, 60000, 'cascade local up');
    const members = childPids(launcher.pid).map((pid) => ({ name: memberName(pid), pid }));
    if (members.length < 4) throw new Error(`cascade local has ${members.length} members, expected 4`);
    const procs = [{ name: 'launcher', pid: launcher.pid, system: 'cascade' }, ...members.map((m) => ({ ...m, system: 'cascade' })), { name: 'nms', pid: nms.proc.pid, system: 'nms' }];
    log(`idle: cascade local (port offset ${offset}) up: ${procs.map((p) => `${p.name}=${p.pid}`).join(' ')}; settling ${settleS} s, then ${windowS} s window`);
    await sleep(settleS * 1000);
    const a = new Map(procs.map((p) => [p.name, readThreads(p.pid)]));
    const t0 = process.hrtime.bigint();
    await sleep(windowS * 1000);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const b = new Map(procs.map((p) => [p.name, readThreads(p.pid)]));
    const rows = [];
    for (const p of procs) {
      const x = a.get(p.name);
      const y = b.get(p.name);
      if (!x || !y) throw new Error(`${p.name} (pid ${p.pid}) exited during the window`);
      rows.push({
        system: p.system,
        process: p.name,
        pctOfCore: round(((y.cpuS - x.cpuS) / secs) * 100, 3),
        cpuMs: round((y.cpuS - x.cpuS) * 1000, 1),
        wakeupsPerS: round((y.switches - x.switches) / secs, 1),
        threads: y.threads,
        rssMB: rssMB(p.pid),
      });
    }
    const sum = (sys, k) => round(rows.filter((r) => r.system === sys).reduce((s, r) => s + r[k], 0), 3);
    const total = { pct: sum('cascade', 'pctOfCore'), wake: sum('cascade', 'wakeupsPerS'), rss: sum('cascade', 'rssMB') };
    const peer = rows.find((r) => r.system === 'nms');
    const perMember = round(rows.filter((r) => r.system === 'cascade' && r.process !== 'launcher').reduce((s, r) => s + r.pctOfCore, 0) / members.length, 3);
    for (const r of rows) log(`  → ${r.process}: ${r.pctOfCore} % of a core, ${r.wakeupsPerS} wake-ups/s, ${r.rssMB} MB`);
    log(`  → cascade total ${total.pct} % (${total.wake} wake-ups/s), nms ${peer.pctOfCore} %`);
    const comparisons = [
      { case: 'npm start cluster (launcher + discovery + 2 origins + edge), no streams, whole cluster', metric: '% of one core', cascade: total.pct, peer: 'node-media-server idle', peerValue: peer.pctOfCore, ratio: ratio(total.pct, peer.pctOfCore), better: 'lower' },
      { case: 'npm start cluster, no streams, per member process (mean of 4)', metric: '% of one core', cascade: perMember, peer: 'node-media-server idle', peerValue: peer.pctOfCore, ratio: ratio(perMember, peer.pctOfCore), better: 'lower' },
      { case: 'npm start cluster, no streams, whole cluster', metric: 'wake-ups / s', cascade: total.wake, peer: 'node-media-server idle', peerValue: peer.wakeupsPerS, ratio: ratio(total.wake, peer.wakeupsPerS), better: 'lower' },
    ];
    const table = {
      columns: ['system', 'process', '% of one core', 'CPU-ms in window', 'wake-ups / s', 'threads', 'RSS MB'],
      rows: [...rows.map((r) => [r.system, r.process, r.pctOfCore, r.cpuMs, r.wakeupsPerS, r.threads, r.rssMB]), ['cascade', 'total', total.pct, round(rows.filter((r) => r.system === 'cascade').reduce((s, r) => s + r.cpuMs, 0), 1), total.wake, '', total.rss]],
    };
    const notes = [
      `Window ${round(secs, 1)} s after ${settleS} s of settling; \`cascade local --port-offset ${offset}\` (memory store, product defaults: origin heartbeat 2 s, discovery sweep 500 ms), no publisher, no viewer, no scrape. Goal: the whole cluster < 1 % of one core (${total.pct < 1 ? 'met' : 'not met'}).`,
      'CPU from /proc/PID/task/*/schedstat (ns); wake-ups = voluntary + involuntary context switches of all threads (libuv worker threads included) per second.',
      'The peer is node-media-server 4.4.3 alone (bench/peers/nms.js), RTMP + HTTP listening, nothing else: the floor a Node media server costs idle.',
    ];
    return { params: { windowS, settleS }, rows, table, comparisons, notes };
  } finally {
    await ctx.reg.stop(launcher);
    await nms.stop();
  }
}

module.exports = { id: 'idle', title: 'Idle cluster cost', run };
