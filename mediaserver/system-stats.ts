/**
 * System and process figures for the node API's `/api/v1/summaries` (SRS's `srs_api_dump_summaries`):
 * Linux `/proc` readers (best effort: '' and zeros elsewhere), CPU times, the package version.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Idle and total CPU time of all cores since boot (ms). */
export function systemCpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/** A /proc file's text, or '' when it cannot be read (not Linux, no permission). */
export function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** RAM and swap as SRS reports them (RealInUse = MemTotal - MemFree - Buffers - Cached). */
export function memInfo(): { totalKb: number; ramPercent: number; swapKb: number; swapPercent: number } {
  const fields: Record<string, number> = {};
  for (const line of readProc('/proc/meminfo').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) fields[m[1]] = Number(m[2]);
  }
  const totalKb = fields.MemTotal ?? Math.round(os.totalmem() / 1024);
  const freeKb = fields.MemFree ?? Math.round(os.freemem() / 1024);
  // SRS: RealInUse = MemTotal - MemFree - Buffers - Cached.
  const inUse = totalKb - freeKb - (fields.Buffers ?? 0) - (fields.Cached ?? 0);
  const swapKb = fields.SwapTotal ?? 0;
  return {
    totalKb,
    ramPercent: totalKb > 0 ? round(inUse / totalKb, 4) : 0,
    swapKb,
    swapPercent: swapKb > 0 ? round((swapKb - (fields.SwapFree ?? swapKb)) / swapKb, 4) : 0,
  };
}

/** Bytes through the network interfaces; loopback counted as intranet ("i") bytes, as SRS does. */
export function netDevices(): { recv: number; send: number; recvi: number; sendi: number } {
  const out = { recv: 0, send: 0, recvi: 0, sendi: 0 };
  for (const line of readProc('/proc/net/dev').split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const cols = m[2].trim().split(/\s+/).map(Number);
    if (cols.length < 9) continue;
    // SRS counts loopback (and private interfaces) as intranet ("i") bytes.
    if (m[1] === 'lo') {
      out.recvi += cols[0];
      out.sendi += cols[8];
    } else {
      out.recv += cols[0];
      out.send += cols[8];
    }
  }
  return out;
}

/** TCP connections by state and UDP sockets (SRS's conn_sys*). */
export function tcpConnections(): { all: number; established: number; timeWait: number; udp: number } {
  const out = { all: 0, established: 0, timeWait: 0, udp: 0 };
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readProc(file).split('\n').slice(1)) {
      const state = line.trim().split(/\s+/)[3];
      if (!state) continue;
      out.all++;
      if (state === '01') out.established++;
      else if (state === '06') out.timeWait++;
    }
  }
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) out.udp += Math.max(0, readProc(file).split('\n').filter((l) => l.trim()).length - 1);
  return out;
}

/** Seconds the CPUs were idle since boot (SRS's `ilde_time`), from /proc/uptime. */
export function idleSeconds(): number {
  return Number(readProc('/proc/uptime').trim().split(/\s+/)[1] ?? 0) || 0;
}

let versionCache: string | undefined;
/** The version in Cascade's package.json (0.0.0 when it cannot be found). */
export function cascadeVersion(): string {
  if (versionCache) return versionCache;
  versionCache = '0.0.0';
  // package.json sits at the repo root: two levels up from dist/mediaserver, one from mediaserver.
  for (const dir of [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cascade' && pkg.version) {
        versionCache = pkg.version;
        break;
      }
    } catch {
      // not here
    }
  }
  return versionCache;
}
