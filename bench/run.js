#!/usr/bin/env node
'use strict';
/**
 * `npm run bench [-- --quick] [--only fanout,cold-edge] [--n 50,100] [--window-s 10] [--warm-s 3]
 *                 [--origins 10,50] [--streams 2000] [--no-nginx] [--no-readme] [--out DIR] [--merge] [--report-only]`
 *
 * Builds the root project when dist/ is missing, generates the test media once (bench/.cache),
 * starts the peers and the Cascade cluster on free ports, runs each scenario, stops every process by
 * PID (awaiting its exit), writes bench/results/<date>-<scenario>.json and bench/results/<date>.md,
 * and prints the ratio table.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const dist = require('./lib/dist');
const { ProcessRegistry } = require('./lib/procs');
const { ProcSampler } = require('./lib/procstat');
const { ensureMedia, describeMedia } = require('./lib/media');
const { ensureNginx, makeTmp, nmsVersion } = require('./lib/systems');
const { writeResults, updateReadme, updateReadmeScenario, ratioTable, RESULTS } = require('./lib/report');
const { log } = require('./lib/util');

const SCENARIOS = ['fanout', 'cluster', 'cold-edge', 'discovery-lookup', 'control-plane', 'failover', 'shed', 'drain', 'idle', 'fanout-batch', 'ingest', 'hls-edge'];
/** Scenarios that play no media: a run of only these neither generates the test media nor looks for nginx. */
const NO_MEDIA = new Set(['discovery-lookup', 'control-plane', 'idle']);
const USAGE = `usage: npm run bench -- [--quick] [--only ${SCENARIOS.join(',')}] [--n 50,100]
                      [--window-s S] [--warm-s S] [--origins N] [--streams N] [--no-nginx] [--no-readme]
                      [--out DIR] [--merge]
  --quick     N = 50 and 100, 10 s windows (about 5 minutes); without it the full run (fanout N = 50 … 1,200, ≈ 30 min)
  --only      run these scenarios only       --n        player counts (fanout; cluster takes the last)
  --origins, --streams  control-plane: fleet sizes in simulated origins (default 10,50; --quick 10)
              and leases per origin (2000); its windows are --window-s (default 60 s, --quick 20 s)
  --out DIR   write results there instead of bench/results (the README table is then left alone)
  --merge     with --only: keep today's results of the other scenarios in results/<date>.md (and README)
  --report-only  run nothing: rebuild results/<date>.md (and the README table) from today's JSON files
`;

function parseArgs(argv) {
  /** @type {Record<string, any>} */
  const o = { quick: false, only: null, n: null, windowS: null, warmS: null, origins: null, streams: null, nginx: true, readme: true, out: null, merge: false, reportOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--full') o.quick = false;
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--n') o.n = next().split(',').map(Number);
    else if (a === '--window-s') o.windowS = Number(next());
    else if (a === '--warm-s') o.warmS = Number(next());
    else if (a === '--origins') o.origins = next().split(',').map((x) => positiveInt(a, x));
    else if (a === '--streams') o.streams = positiveInt(a, next());
    else if (a === '--no-nginx') o.nginx = false;
    else if (a === '--no-readme') o.readme = false;
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--merge') o.merge = true;
    else if (a === '--report-only') o.reportOnly = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const s of o.only ?? []) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
  return o;
}

/** @param {string} flag @param {string} x */
function positiveInt(flag, x) {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, not ${x}`);
  return n;
}

/** Whether a run used every scenario's default sizes (only then may it refresh the README's figures). */
const defaultSizes = (opts) => !opts.n && !opts.windowS && !opts.warmS && !opts.origins && !opts.streams;

/** Scenario sections of the README (`<!-- scenario:<id>:start -->` blocks) from these results. */
function updateReadmeScenarios(run, scenarios) {
  for (const s of scenarios) if (!s.merged && updateReadmeScenario(run, s)) log(`README: ${s.id} section updated`);
}

/** Which product build was measured: commit, uncommitted changes, dist/ build time (read-only git). */
function productInfo() {
  const git = (args) => spawnSync('git', args, { cwd: dist.ROOT, encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  let distBuiltAt = null;
  try {
    distBuiltAt = fs.statSync(dist.ENTRY).mtime.toISOString();
  } catch {
    /* not built */
  }
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    uncommittedChanges: status.status === 0 ? status.stdout.split('\n').filter(Boolean).length : null,
    distBuiltAt,
  };
}

function machineInfo(nginx) {
  const ff = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.split(' ')[2] ?? '?';
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    ffmpeg: ff,
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    nms: nmsVersion(),
    nginx: nginx.available ? `nginx-rtmp (${nginx.version})` : 'nginx-rtmp not available',
    product: productInfo(),
  };
}

/** --report-only: the Markdown and the README table again, from today's JSON results. */
function reportOnly(opts) {
  const date = new Date().toISOString().slice(0, 10);
  const dir = opts.out ?? RESULTS;
  const first = SCENARIOS.map((id) => path.join(dir, `${date}-${id}.json`)).find((f) => fs.existsSync(f));
  if (!first) throw new Error(`no results of ${date} in ${dir}`);
  const prev = JSON.parse(fs.readFileSync(first, 'utf8'));
  const run = { date, mode: prev.mode, startedAt: prev.startedAt, machine: prev.machine, media: prev.media, scenarios: [], durationS: 0 };
  const { files, comparisons, scenarios } = writeResults(run, dir, { mergeWith: SCENARIOS });
  if (prev.mode === 'quick' && opts.readme && !opts.out) updateReadme(run, comparisons, scenarios);
  if (opts.readme && !opts.out) updateReadmeScenarios(run, scenarios.map((s) => ({ ...s, merged: false })));
  process.stdout.write(`\n${ratioTable(comparisons)}\n\nwrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.reportOnly) return reportOnly(opts);
  const started = Date.now();
  const mode = opts.quick ? 'quick' : 'full';

  if (!dist.isBuilt()) {
    log(`dist/ missing: npm run build in ${dist.ROOT}`);
    const r = spawnSync('npm', ['run', 'build'], { cwd: dist.ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('root build failed');
  }
  if (!fs.existsSync(path.join(__dirname, 'node_modules', 'node-media-server'))) {
    log('bench/node_modules missing: npm ci');
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: __dirname, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm ci in bench/ failed');
  }
  const mediaNeeded = (opts.only ?? SCENARIOS).some((id) => !NO_MEDIA.has(id));
  const media = mediaNeeded ? ensureMedia() : null;
  const nginx = !mediaNeeded
    ? { available: false, note: 'nginx-rtmp not needed by these scenarios' }
    : opts.nginx
      ? ensureNginx()
      : { available: false, note: 'nginx-rtmp skipped (--no-nginx)' };
  if (!nginx.available) log(nginx.note);

  const reg = new ProcessRegistry();
  const sampler = new ProcSampler(1000);
  const tmp = makeTmp();
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    sampler.stop();
    await reg.stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', () => reg.killAllSync());
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`${sig}: stopping every process`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const ctx = {
    reg,
    sampler,
    tmp,
    quick: opts.quick,
    opts,
    media,
    nginx,
    warmMs: (opts.warmS ?? (opts.quick ? 3 : 5)) * 1000,
    windowMs: (opts.windowS ?? (opts.quick ? 10 : 20)) * 1000,
    /** player processes for N players: one per 250 */
    playerProcs: (n) => Math.max(1, Math.ceil(n / 250)),
  };
  const machine = machineInfo(nginx);
  log(`${mode} run on ${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}; load average ${machine.loadAvgAtStart.join(' ')}`);

  const results = [];
  try {
    for (const id of opts.only ?? SCENARIOS) {
      const mod = require(`./scenarios/${id}`);
      const t0 = Date.now();
      log(`scenario ${id}: ${mod.title}`);
      try {
        const r = mod.skip ? { skipped: mod.skip } : await mod.run(ctx);
        results.push({ id, title: mod.title, durationS: Math.round((Date.now() - t0) / 100) / 10, ...r });
      } catch (err) {
        log(`scenario ${id} failed: ${err && err.stack ? err.stack : err}`);
        results.push({ id, title: mod.title, error: String(err && err.message ? err.message : err), rows: [], comparisons: [], notes: [] });
      }
      await reg.stopAll(); // a failed scenario may leave processes behind
    }
  } finally {
    await cleanup();
  }

  const after = productInfo();
  if (after.distBuiltAt !== machine.product.distBuiltAt) {
    machine.product.rebuiltDuringRun = after.distBuiltAt;
    log(`warning: dist/ was rebuilt during the run (${after.distBuiltAt}); later scenarios may have run newer code`);
  }
  const date = new Date().toISOString().slice(0, 10);
  const run = { date, mode, startedAt: new Date(started).toISOString(), machine, media: media ? describeMedia(media) : null, scenarios: results, durationS: (Date.now() - started) / 1000 };
  const { files, comparisons, scenarios } = writeResults(run, opts.out ?? undefined, opts.merge ? { mergeWith: SCENARIOS } : {});
  if (opts.quick && opts.readme && (!opts.only || opts.merge) && !opts.n && !opts.out) updateReadme(run, comparisons, scenarios);
  if (opts.readme && !opts.out && defaultSizes(opts)) updateReadmeScenarios(run, scenarios);
  process.stdout.write(`\n${ratioTable(comparisons)}\n\n`);
  for (const s of results) {
    if (s.skipped) process.stdout.write(`- ${s.id}: skipped — ${s.skipped}\n`);
    if (s.error) process.stdout.write(`- ${s.id}: FAILED — ${s.error}\n`);
  }
  process.stdout.write(`\nwrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')} in ${Math.round(run.durationS)} s\n`);
  if (results.some((s) => s.error)) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
