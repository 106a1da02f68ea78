/**
 * `npm run chaos [-- --only owner-sigkill,redis-flushall] [--out DIR] [--heartbeat-ms N]
 * [--lease-ttl-ms N] [--origin-ttl-ms N] [--observe-ms N] [--list]`
 *
 * Runs every scenario (docs/chaos.md) one after the other against its own cluster, prints the
 * markdown table and writes `<out>/<timestamp>.json` and `<out>/<timestamp>.md`. Exits 1 when a
 * scenario could not be measured (an error of the harness or of a start), 0 otherwise: the numbers
 * are measurements, judged by the reader and by test/integration/chaos.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFlags } from '../common/config';
import { renderTable } from './analysis';
import type { ClusterTiming } from './cluster';
import { ProcessRegistry } from './registry';
import { runScenario, type ScenarioResult } from './runner';
import { SCENARIOS, selectScenarios } from './scenarios';

const ROOT = path.resolve(__dirname, '..', '..');

function intFlag(flags: Record<string, string>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${rev}+dirty` : rev;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags['--list']) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(26)} ${s.store.padEnd(8)} ${s.title}\n`);
    return 0;
  }
  const specs = selectScenarios(flags['--only']?.split(',').map((s) => s.trim()).filter(Boolean));
  const timing: ClusterTiming = {
    heartbeatMs: intFlag(flags, '--heartbeat-ms'),
    leaseTtlMs: intFlag(flags, '--lease-ttl-ms'),
    originTtlMs: intFlag(flags, '--origin-ttl-ms'),
  };
  const observeMs = intFlag(flags, '--observe-ms');
  const outDir = path.resolve(ROOT, flags['--out'] ?? 'chaos-results');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'bin', 'cascade.js'))) throw new Error('dist/bin/cascade.js is missing: run `npm run build` (npm run chaos does)');
  if (!has('ffmpeg', ['-version'])) throw new Error('ffmpeg is not on PATH: every scenario publishes with it');
  const redisOk = has('redis-server', ['--version']);

  const log = (line: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const results: ScenarioResult[] = [];
  const startedAt = new Date();
  for (const spec of specs) {
    if (spec.store !== 'memory' && !redisOk) {
      results.push({
        scenario: spec.name, title: spec.title, store: spec.store, status: 'skipped', startedAt: new Date().toISOString(), durationMs: 0,
        publishersLost: 0, publishers: 2, viewersDisconnected: 0, viewers: 2, maxViewerGapMs: null, relistedMs: null, observedMs: 0, dualServingMs: 0,
        notes: ['redis-server is not installed'], details: {},
      });
      continue;
    }
    const r = await runScenario(spec, { timing, observeMs, log });
    log(`${spec.name}: ${r.status}${r.notes.length ? ` — ${r.notes.join('; ')}` : ''}`);
    results.push(r);
  }

  const table = renderTable(results);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(outDir, { recursive: true });
  const meta = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    revision: gitRevision(),
    node: process.version,
    cpus: os.availableParallelism(),
    loadavg: os.loadavg(),
    timing: { ...timing, note: 'absent keys: the product defaults (origin heartbeat 2000 ms, discovery lease and origin TTL 6000 ms)' },
  };
  const logDir = path.join(outDir, `${stamp}-logs`);
  for (const r of results) {
    for (const [member, text] of Object.entries(r.logs ?? {})) {
      fs.mkdirSync(path.join(logDir, r.scenario), { recursive: true });
      fs.writeFileSync(path.join(logDir, r.scenario, `${member}.log`), text);
    }
  }
  const jsonFile = path.join(outDir, `${stamp}.json`);
  fs.writeFileSync(jsonFile, JSON.stringify({ ...meta, table, scenarios: results.map(({ logs: _logs, ...r }) => r) }, null, 2) + '\n');
  const md = [`# Chaos run ${meta.startedAt}`, '', `Revision ${meta.revision}, node ${meta.node}, ${meta.cpus} CPUs.`, '', table, ''].join('\n');
  fs.writeFileSync(path.join(outDir, `${stamp}.md`), md);
  process.stdout.write(`\n${table}\n\nResults: ${path.relative(process.cwd(), jsonFile)} (process logs in ${path.relative(process.cwd(), logDir)}/)\n`);
  return results.some((r) => r.status === 'error') ? 1 : 0;
}

const stopNow = (signal: string): void => {
  process.stderr.write(`\nchaos: ${signal}, stopping every process started...\n`);
  void ProcessRegistry.closeAll().finally(() => process.exit(130));
};
process.once('SIGINT', () => stopNow('SIGINT'));
process.once('SIGTERM', () => stopNow('SIGTERM'));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
    void ProcessRegistry.closeAll().finally(() => process.exit(2));
  },
);
