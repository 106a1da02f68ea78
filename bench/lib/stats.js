'use strict';
/**
 * Turns one measurement (player results, publisher and /proc snapshots at the window ends) into
 * the figures the bench reports:
 *   cpuPerGbit   server CPU-seconds in the window / Gbit delivered to players in the window (wire bytes)
 *   latency      p50/p95/p99/max of receive time − sentAt of every onCascadeMark in the window (ms)
 *   ttff         p50/p95/max of start → first video keyframe, per player (ms)
 *   keptUp       per player: audio/video payload bytes received in the window / bytes the publisher
 *                sent on that stream in the same window; reported as the mean, the minimum and the
 *                share of players at ≥ 0.95
 *   rssGrowthMB  RSS at window end − at window start, summed over the server processes
 */
const { percentile, round } = require('./util');
const { streamKey } = require('./players');

/**
 * @param {{ players: any[], pubWs: any, pubWe: any, cpu: ReturnType<import('./procstat').ProcSampler['window']>,
 *           servers: string[], startStatus?: any }} m
 */
function summarize(m) {
  const published = {};
  for (const [url, t] of Object.entries(m.pubWe.targets)) {
    const before = m.pubWs.targets[url]?.bytes ?? 0;
    const key = streamKey(url);
    published[key] = (published[key] ?? 0) + (t.bytes - before);
  }
  const latencies = [];
  const ttffs = [];
  const kept = [];
  let delivered = 0;
  let disconnects = 0;
  let failed = 0;
  const errors = {};
  for (const p of m.players) {
    for (const l of p.latencies) latencies.push(l);
    if (p.ttffMs !== null) ttffs.push(p.ttffMs);
    else failed++;
    disconnects += p.disconnects;
    if (p.error) errors[p.error] = (errors[p.error] ?? 0) + 1;
    const a = p.snapshots.ws;
    const b = p.snapshots.we;
    if (a && b) {
      delivered += b.wireBytes - a.wireBytes;
      const pub = published[p.stream];
      if (pub > 0) kept.push((b.mediaBytes - a.mediaBytes) / pub);
    }
  }
  let serverCpuS = 0;
  let rssGrowthMB = 0;
  let rssEndMB = 0;
  const loadProcs = [];
  for (const [name, pr] of Object.entries(m.cpu.procs)) {
    if (m.servers.includes(name)) {
      serverCpuS += pr.cpuS;
      rssGrowthMB += pr.rssGrowthMB;
      rssEndMB += pr.rssEndMB;
    } else if (pr.role === 'load') loadProcs.push({ name, ...pr });
  }
  const gbit = (delivered * 8) / 1e9;
  const loadPeak = loadProcs.reduce((x, p) => Math.max(x, p.peakShare), 0);
  const warnings = [];
  for (const p of loadProcs) {
    if (p.peakShare > 0.9) warnings.push(`load tool process ${p.name} peaked at ${Math.round(p.peakShare * 100)} % of a core (avg ${Math.round(p.avgShare * 100)} %): figures may be limited by the load tool`);
  }
  const keptMean = kept.length ? kept.reduce((a, b) => a + b, 0) / kept.length : null;
  return {
    players: m.players.length,
    started: ttffs.length,
    failed,
    disconnects,
    errors,
    windowS: round(m.cpu.seconds, 2),
    deliveredGbit: round(gbit, 3),
    deliveredMbitPerS: round((delivered * 8) / 1e6 / m.cpu.seconds, 1),
    serverCpuS: round(serverCpuS, 2),
    serverCores: round(serverCpuS / m.cpu.seconds, 3),
    cpuPerGbit: gbit > 0 ? round(serverCpuS / gbit, 3) : null,
    latencyMs: {
      samples: latencies.length,
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(percentile(latencies, 100)),
    },
    ttffMs: { p50: round(percentile(ttffs, 50)), p95: round(percentile(ttffs, 95)), max: round(percentile(ttffs, 100)) },
    keptUp: {
      mean: round(keptMean, 3),
      min: round(kept.length ? Math.min(...kept) : null, 3),
      shareAtLeast95: round(kept.length ? kept.filter((k) => k >= 0.95).length / kept.length : null, 3),
    },
    rssGrowthMB: round(rssGrowthMB, 1),
    rssEndMB: round(rssEndMB, 1),
    loadToolPeakCore: round(loadPeak, 2),
    procs: m.cpu.procs,
    warnings,
  };
}

/** a / b rounded, null when either is missing. */
function ratio(a, b, digits = 2) {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return round(a / b, digits);
}

module.exports = { summarize, ratio };
