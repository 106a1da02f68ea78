'use strict';
/**
 * Results: bench/results/<date>-<scenario>.json per scenario, bench/results/<date>.md with every
 * table, the ratio table on stdout, and (for --quick runs) the latest table in bench/README.md.
 */
const fs = require('node:fs');
const path = require('node:path');

const RESULTS = path.join(__dirname, '..', 'results');
const README = path.join(__dirname, '..', 'README.md');

const v = (x) => (x === null || x === undefined ? '–' : String(x));

/** @param {any[]} comparisons rows of the ratio table */
function ratioTable(comparisons) {
  const lines = ['| scenario | case | metric | Cascade | peer | peer value | ratio Cascade/peer |', '| --- | --- | --- | ---: | --- | ---: | ---: |'];
  for (const c of comparisons) {
    const better = c.better === 'lower' ? ' (lower is better)' : c.better === 'higher' ? ' (higher is better)' : '';
    lines.push(`| ${c.scenario} | ${c.case} | ${c.metric}${better} | ${v(c.cascade)} | ${v(c.peer)} | ${v(c.peerValue)} | ${v(c.ratio)} |`);
  }
  return lines.join('\n');
}

/** Detailed table of load measurements. */
function loadTable(rows) {
  const lines = [
    '| system | proto | N | playing | Mbit/s delivered | server cores | CPU-s/Gbit | edge-only CPU-s/Gbit | latency p50 / p95 / p99 ms | TTFF p50 / p95 ms | kept-up mean (min) | RSS growth MB | disconnects | load tool peak core |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.system} | ${r.proto} | ${r.n} | ${r.started}/${r.players} | ${v(r.deliveredMbitPerS)} | ${v(r.serverCores)} | ${v(r.cpuPerGbit)} | ${v(r.edgeCpuPerGbit)} | ${v(r.latencyMs.p50)} / ${v(r.latencyMs.p95)} / ${v(r.latencyMs.p99)} | ${v(r.ttffMs.p50)} / ${v(r.ttffMs.p95)} | ${v(r.keptUp.mean)} (${v(r.keptUp.min)}) | ${v(r.rssGrowthMB)} | ${r.disconnects} | ${v(r.loadToolPeakCore)}${r.warnings.length ? ' ⚠' : ''} |`,
    );
  }
  return lines.join('\n');
}

/** A scenario's own table (rows with `table` given as columns) or the load table. */
function scenarioMarkdown(s) {
  const out = [`## ${s.title} (\`${s.id}\`)`, ''];
  if (s.skipped) {
    out.push(`Skipped: ${s.skipped}`, '');
    return out.join('\n');
  }
  if (s.error) out.push(`**Failed:** ${s.error}`, '');
  out.push(...scenarioBody(s));
  out.push('');
  return out.join('\n');
}

/**
 * A scenario's tables and notes: its own `tables` (each with a title), or its `table`, or the load
 * table of its rows; then its notes and the rows' warnings.
 * @returns {string[]} lines
 */
function scenarioBody(s) {
  const out = [];
  const own = (t) => {
    out.push(`| ${t.columns.join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`);
    for (const row of t.rows) out.push(`| ${row.map(v).join(' | ')} |`);
    out.push('');
  };
  if (s.tables) {
    for (const t of s.tables) {
      if (t.title) out.push(`${t.title}:`, '');
      own(t);
    }
  } else if (s.table) {
    own(s.table);
  } else if (s.rows && s.rows.length) {
    out.push(loadTable(s.rows), '');
  }
  for (const n of s.notes ?? []) out.push(`- ${n}`);
  const warns = (s.rows ?? []).flatMap((r) => (r.warnings ?? []).map((w) => `${r.system} ${r.proto ?? ''} N=${r.n ?? ''}: ${w}`));
  for (const w of warns) out.push(`- ⚠ ${w}`);
  return out;
}

function machineMarkdown(m) {
  return `Machine: ${m.nproc} × ${m.cpuModel}, ${m.memGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, ffmpeg ${m.ffmpeg}. Peers: node-media-server ${m.nms}, ${m.nginx}.`;
}

/**
 * One line per bench invocation whose scenarios are in the report: when it started, what it ran,
 * the load average then (the machine is shared), and which Cascade build it measured.
 * @param {any[]} scenarios
 */
function runsMarkdown(scenarios) {
  /** @type {Map<string, { ids: string[], machine: any, durationS: number }>} */
  const runs = new Map();
  for (const s of scenarios) {
    const r = runs.get(s.startedAt) ?? { ids: [], machine: s.machine, durationS: 0 };
    r.ids.push(s.id);
    r.durationS += s.durationS ?? 0;
    runs.set(s.startedAt, r);
  }
  return [...runs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([startedAt, r]) => {
      const m = r.machine ?? {};
      const p = m.product ?? {};
      const build = p.commit ? `Cascade ${p.commit}${p.uncommittedChanges ? ` + ${p.uncommittedChanges} uncommitted changed files` : ''}, dist built ${p.distBuiltAt}${p.rebuiltDuringRun ? ` and rebuilt during the run at ${p.rebuiltDuringRun}` : ''}` : 'Cascade build unknown';
      return `- Run started ${startedAt}: ${r.ids.join(', ')} (${Math.round(r.durationS)} s); load average at start ${(m.loadAvgAtStart ?? []).join(' / ')}; ${build}.`;
    })
    .join('\n');
}

/**
 * @param {{ date: string, mode: string, machine: any, media: any, scenarios: any[], startedAt: string, durationS: number }} run
 * @param {string} [dir] default bench/results
 * @param {{ mergeWith?: string[] }} [opts] mergeWith: every scenario id, to rebuild the Markdown from
 *   this run's scenarios plus today's earlier JSON results of the others
 */
function writeResults(run, dir = RESULTS, opts = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const files = [];
  const fresh = new Set(run.scenarios.map((s) => s.id));
  /** @type {string[]} */
  const merged = [];
  if (opts.mergeWith) {
    // Keep today's results of the scenarios this run did not repeat, in the usual order.
    const all = [];
    for (const id of opts.mergeWith) {
      if (fresh.has(id)) {
        all.push(run.scenarios.find((s) => s.id === id));
        continue;
      }
      const file = path.join(dir, `${run.date}-${id}.json`);
      if (!fs.existsSync(file)) continue;
      const prev = JSON.parse(fs.readFileSync(file, 'utf8'));
      merged.push(`${id} (run started ${prev.startedAt})`);
      all.push({ ...prev, merged: true });
    }
    run = { ...run, scenarios: all };
  }
  run = { ...run, scenarios: run.scenarios.map((s) => (s.merged ? s : { ...s, startedAt: run.startedAt, machine: run.machine })) };
  for (const s of run.scenarios) {
    if (s.merged) continue;
    const file = path.join(dir, `${run.date}-${s.id}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ date: run.date, mode: run.mode, media: run.media, ...s }, null, 2)}\n`);
    files.push(file);
  }
  const comparisons = run.scenarios.flatMap((s) => (s.comparisons ?? []).map((c) => ({ scenario: s.id, ...c })));
  const md = [
    `# Cascade benchmark — ${run.date} (${run.mode})`,
    '',
    machineMarkdown(run.machine),
    '',
    runsMarkdown(run.scenarios),
    '',
    ...(run.media
      ? [`Media: ${run.media.spec.size}@${run.media.spec.fps} H.264 ${run.media.spec.videoKbps} kbit/s CBR, GOP ${run.media.spec.gopFrames / run.media.spec.fps} s, AAC ${run.media.spec.audioKbps} kbit/s (${run.media.totalKbps ?? '?'} kbit/s total), looped in real time.`, '']
      : []),
    '## Ratio table',
    '',
    ratioTable(comparisons),
    '',
    ...run.scenarios.map(scenarioMarkdown),
  ].join('\n');
  const mdFile = path.join(dir, `${run.date}.md`);
  fs.writeFileSync(mdFile, md);
  files.push(mdFile);
  return { files, comparisons, md, merged, scenarios: run.scenarios };
}

/** Replaces the block between the markers in bench/README.md with the latest quick table. */
function updateReadme(run, comparisons, scenarios = run.scenarios) {
  if (!fs.existsSync(README)) return false;
  const text = fs.readFileSync(README, 'utf8');
  const start = '<!-- latest-quick:start -->';
  const end = '<!-- latest-quick:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return false;
  const block = [
    start,
    '',
    `\`npm run bench -- --quick\`, ${run.date}. ${machineMarkdown(run.machine)}`,
    '',
    runsMarkdown(scenarios),
    '',
    ratioTable(comparisons),
    '',
    `Full tables: [results/${run.date}.md](results/${run.date}.md).`,
    '',
  ].join('\n');
  fs.writeFileSync(README, text.slice(0, i) + block + text.slice(j));
  return true;
}

/**
 * Replaces the block between `<!-- scenario:<id>:start -->` and `<!-- scenario:<id>:end -->` in
 * bench/README.md (a scenario's own section) with that scenario's latest figures: its run, its ratio
 * rows, its tables and notes. Returns false when the README has no such block.
 * @param {{ date: string, mode: string }} run @param {any} s a scenario result (with startedAt and machine)
 */
function updateReadmeScenario(run, s) {
  if (!fs.existsSync(README) || s.skipped || s.error) return false;
  const text = fs.readFileSync(README, 'utf8');
  const start = `<!-- scenario:${s.id}:start -->`;
  const end = `<!-- scenario:${s.id}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return false;
  const comparisons = (s.comparisons ?? []).map((c) => ({ scenario: s.id, ...c }));
  const mode = s.mode ?? run.mode;
  const date = s.date ?? run.date;
  const block = [
    start,
    '',
    `${mode === 'quick' ? 'Quick' : 'Full'} run, ${date}. ${machineMarkdown(s.machine)}`,
    '',
    runsMarkdown([s]),
    '',
    ratioTable(comparisons),
    '',
    ...scenarioBody(s),
    '',
    `JSON: [results/${date}-${s.id}.json](results/${date}-${s.id}.json).`,
    '',
  ].join('\n');
  fs.writeFileSync(README, text.slice(0, i) + block + text.slice(j));
  return true;
}

module.exports = { writeResults, updateReadme, updateReadmeScenario, ratioTable, loadTable, RESULTS };
