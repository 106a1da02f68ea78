#!/usr/bin/env node
// Drains one origin before it stops: POST /api/v1/drain, then waits until its publishers have
// left (GET /api/v1/streams is empty) or the deadline passes. Used as the Kubernetes preStop hook,
// by the systemd unit (ExecStop) and by hand for a rolling upgrade (deploy/README.md).
//
//   node deploy/bin/drain.js [--url http://127.0.0.1:8081] [--token T] [--deadline-ms 30000]
//
// Defaults come from the origin's own environment: CASCADE_HTTP_PORT (8081), the token from
// CASCADE_DRAIN_TOKEN or else the first of CASCADE_API_TOKENS (comma-separated or a JSON array),
// the deadline from CASCADE_DRAIN_DEADLINE_MS (30000). The drain endpoint itself belongs to the
// origin (docs/design.md section 5); an origin without it (404/405) is left to drain on SIGTERM.
// Exit 0: drained, deadline reached, or no drain endpoint; 1: refused (401/403) or unreachable.
'use strict';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) out[arg.slice(2, eq)] = arg.slice(eq + 1);
    else out[arg.slice(2)] = argv[++i];
  }
  return out;
}

function firstToken(list) {
  if (!list) return '';
  const trimmed = list.trim();
  if (trimmed.startsWith('[')) {
    const arr = JSON.parse(trimmed);
    return Array.isArray(arr) && typeof arr[0] === 'string' ? arr[0] : '';
  }
  return trimmed.split(',')[0].trim();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const env = process.env;
  const url = (args.url || `http://127.0.0.1:${env.CASCADE_HTTP_PORT || 8081}`).replace(/\/+$/, '');
  const token = args.token || env.CASCADE_DRAIN_TOKEN || firstToken(env.CASCADE_API_TOKENS);
  const deadlineMs = Number(args['deadline-ms'] || env.CASCADE_DRAIN_DEADLINE_MS || 30000);
  const pollMs = Number(args['poll-ms'] || 1000);
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const started = Date.now();
  const log = (msg) => process.stdout.write(`drain ${url}: ${msg}\n`);

  let res;
  try {
    res = await fetch(`${url}/api/v1/drain`, { method: 'POST', headers, body: JSON.stringify({ deadlineMs }), signal: AbortSignal.timeout(5000) });
  } catch (err) {
    log(`origin unreachable (${err.cause?.code || err.message})`);
    return 1;
  }
  if (res.status === 404 || res.status === 405) {
    log(`no drain endpoint (${res.status}); SIGTERM will stop it`);
    return 0;
  }
  if (!res.ok) {
    log(`drain refused: ${res.status} ${await res.text()}`);
    return 1;
  }
  log(`draining (deadline ${deadlineMs} ms)`);
  while (Date.now() - started < deadlineMs) {
    try {
      const r = await fetch(`${url}/api/v1/streams`, { headers, signal: AbortSignal.timeout(2000) });
      if (r.ok) {
        const body = await r.json();
        const left = Array.isArray(body.streams) ? body.streams.length : 0;
        if (left === 0) {
          log(`drained in ${Date.now() - started} ms`);
          return 0;
        }
      }
    } catch {
      // the origin went away: nothing left to wait for
      log('origin stopped answering; done');
      return 0;
    }
    await sleep(pollMs);
  }
  log(`deadline reached after ${deadlineMs} ms with publishers left; stopping anyway`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`drain: ${err.message}\n`);
    process.exit(1);
  },
);
