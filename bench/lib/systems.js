'use strict';
/**
 * The systems under test, each on free ports, each process tracked and watched by the sampler:
 *   - Cascade: discovery + origins + edges from ../dist (`cascade <role> --flags`)
 *   - node-media-server 4.4.3 standalone (peers/nms.js)
 *   - nginx with the RTMP module (generated config in a temp dir, `daemon off; master_process off;`)
 *   - a private redis-server (discovery's store in the control-plane scenario; never the shared one)
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const dist = require('./dist');
const { freePort, waitFor, httpOk, canConnect, log } = require('./util');
const { redisCall } = require('./redis');

const NMS_SCRIPT = path.join(__dirname, '..', 'peers', 'nms.js');
const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/**
 * Every player of the bench connects from 127.0.0.1: the per-IP connection cap (default 200, meant for
 * real clients) would refuse players beyond 200 of one N, as it would behind a NAT. Raised to the
 * total cap for origins and edges.
 */
const LOOPBACK_CLIENTS = ['--max-connections-per-ip', '5000'];

/**
 * @typedef {import('./load').Ctx & { tmp: string }} SysCtx
 * @typedef {{ id: string, proc: import('./procs').Proc, rtmp: string, http: string }} Node
 */

/**
 * @param {SysCtx} ctx @param {string} name @param {string} role @param {string[]} flags @param {string} health
 * @param {Record<string, string>} [env]
 */
async function startCascadeProcess(ctx, name, role, flags, health, env = {}) {
  // BENCH_NODE_ARGS: extra node flags for the Cascade processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = ctx.reg.spawn(name, process.execPath, [...nodeArgs, dist.ENTRY, role, ...flags], {
    env: { ...process.env, CASCADE_LOG_LEVEL: process.env.BENCH_CASCADE_LOG_LEVEL ?? 'info', ...env },
  });
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output.slice(-3000)}`);
    return httpOk(health);
  }, 20000, `${name} healthy at ${health}`);
  ctx.sampler.watch(name, proc.pid, 'server');
  return proc;
}

/**
 * Discovery (memory store) + `origins` origins + `edges` edges.
 * @param {SysCtx} ctx
 * @param {{ origins?: number, edges?: number, heartbeatMs?: number, discoveryFlags?: string[],
 *           originFlags?: string[], edgeFlags?: string[], edgeOrigins?: (edgeIndex: number, origins: Node[]) => Node[] }} [opts]
 */
async function startCascade(ctx, opts = {}) {
  /** @type {import('./procs').Proc[]} */
  const procs = [];
  const stop = async () => {
    for (const p of procs) ctx.sampler.unwatch(p.name);
    await Promise.all([...procs].reverse().map((p) => ctx.reg.stop(p)));
  };
  try {
    const dport = await freePort();
    const discoveryUrl = `http://127.0.0.1:${dport}`;
    procs.push(await startCascadeProcess(ctx, 'discovery', 'discovery', ['--port', String(dport), ...(opts.discoveryFlags ?? [])], `${discoveryUrl}/healthz`));
    /** @type {Node[]} */
    const origins = [];
    for (let i = 1; i <= (opts.origins ?? 1); i++) {
      const [rp, hp] = [await freePort(), await freePort()];
      const id = `origin-${i}`;
      const flags = ['--id', id, '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl, ...LOOPBACK_CLIENTS];
      if (opts.heartbeatMs) flags.push('--heartbeat-ms', String(opts.heartbeatMs)); // default: the product's
      flags.push(...(opts.originFlags ?? []));
      const proc = await startCascadeProcess(ctx, id, 'origin', flags, `http://127.0.0.1:${hp}/healthz`);
      procs.push(proc);
      origins.push({ id, proc, rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` });
    }
    // Wait until every origin registered (a 302 needs the owner in discovery).
    await waitFor(async () => {
      try {
        const r = await fetch(`${discoveryUrl}/v1/origins`);
        const body = /** @type {{ origins: unknown[] }} */ (await r.json());
        return body.origins.length >= origins.length;
      } catch {
        return false;
      }
    }, 10000, 'origins registered in discovery');
    /** @type {Node[]} */
    const edges = [];
    for (let i = 1; i <= (opts.edges ?? 1); i++) {
      const [rp, hp] = [await freePort(), await freePort()];
      const id = `edge-${i}`;
      const list = (opts.edgeOrigins ? opts.edgeOrigins(i - 1, origins) : origins).map((o) => o.rtmp).join(',');
      const flags = ['--id', id, '--rtmp-port', String(rp), '--http-port', String(hp), '--origins', list, '--discovery-url', discoveryUrl, ...LOOPBACK_CLIENTS, ...(opts.edgeFlags ?? [])];
      const proc = await startCascadeProcess(ctx, id, 'edge', flags, `http://127.0.0.1:${hp}/healthz`);
      procs.push(proc);
      edges.push({ id, proc, rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` });
    }
    return { discoveryUrl, discovery: procs[0], origins, edges, serverNames: procs.map((p) => p.name), procs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The part every started peer shares: sampled as a server while it runs, stopped (and unwatched) by `stop()`. */
function watchedServer(ctx, name, proc, signal) {
  ctx.sampler.watch(name, proc.pid, 'server');
  return {
    proc,
    serverNames: [name],
    stop: async () => {
      ctx.sampler.unwatch(name);
      await ctx.reg.stop(proc, ...(signal ? [signal] : []));
    },
  };
}

/**
 * Standalone node-media-server 4.4.3 (needs bench/node_modules).
 * @param {SysCtx} ctx
 */
async function startNms(ctx, name = 'nms') {
  const [rp, hp] = [await freePort(), await freePort()];
  const store = fs.mkdtempSync(path.join(ctx.tmp, 'nms-store-'));
  const proc = ctx.reg.spawn(name, process.execPath, [NMS_SCRIPT, String(rp), String(hp), store], { cwd: store });
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output.slice(-3000)}`);
    return (await canConnect('127.0.0.1', rp)) && (await canConnect('127.0.0.1', hp));
  }, 20000, `${name} listening`);
  return {
    rtmp: `rtmp://127.0.0.1:${rp}`,
    http: `http://127.0.0.1:${hp}`,
    ...watchedServer(ctx, name, proc),
  };
}

let nginxState = /** @type {{ available: boolean, note: string, version?: string } | null} */ (null);

/**
 * nginx + libnginx-mod-rtmp: present, or installed with apt-get (root, Debian), or skipped with a note.
 * @returns {{ available: boolean, note: string, version?: string }}
 */
function ensureNginx() {
  if (nginxState) return nginxState;
  const have = () => spawnSync('nginx', ['-v'], { encoding: 'utf8' }).status === 0 && fs.existsSync(NGINX_RTMP_MODULE);
  if (!have()) {
    if (process.env.BENCH_NO_APT) {
      nginxState = { available: false, note: 'nginx-rtmp skipped: nginx / libnginx-mod-rtmp missing and BENCH_NO_APT set' };
      return nginxState;
    }
    log('nginx-rtmp missing: apt-get install nginx libnginx-mod-rtmp');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx', 'libnginx-mod-rtmp'], { env, encoding: 'utf8', timeout: 300000 });
    let r = install();
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8', timeout: 300000 });
      r = install();
    }
    if (!have()) {
      nginxState = { available: false, note: `nginx-rtmp skipped: could not install nginx + libnginx-mod-rtmp (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
      return nginxState;
    }
  }
  const v = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-rtmp'], { encoding: 'utf8' });
  nginxState = { available: true, note: '', version: `${(v.stderr || v.stdout).trim().replace('nginx version: ', '')}, rtmp module ${dpkg.stdout || '?'}` };
  return nginxState;
}

/** The main-context lines both nginx peers share: one foreground process, files under `dir`. */
function nginxMain(dir) {
  return `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }`;
}

/** Writes `conf` to `dir`, starts nginx with it and waits until `port` accepts connections. @param {SysCtx} ctx */
async function spawnNginx(ctx, name, dir, conf, port) {
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = ctx.reg.spawn(name, 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]);
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output}\n${safeRead(path.join(dir, 'error.log'))}`);
    return canConnect('127.0.0.1', port);
  }, 10000, `${name} listening`);
  return proc;
}

/**
 * nginx-rtmp with a generated config: one process (`master_process off`) so its PID is the one doing
 * the work, `daemon off`, live application `live`, no recording.
 * @param {SysCtx} ctx
 */
async function startNginx(ctx, name = 'nginx-rtmp') {
  const state = ensureNginx();
  if (!state.available) return null;
  const rp = await freePort();
  const dir = fs.mkdtempSync(path.join(ctx.tmp, 'nginx-'));
  const conf = `load_module ${NGINX_RTMP_MODULE};
${nginxMain(dir)}
rtmp {
  server {
    listen 127.0.0.1:${rp};
    chunk_size 4096;
    application live {
      live on;
      record off;
    }
  }
}
`;
  const proc = await spawnNginx(ctx, name, dir, conf, rp);
  return {
    rtmp: `rtmp://127.0.0.1:${rp}`,
    http: null,
    ...watchedServer(ctx, name, proc, 'SIGQUIT'),
  };
}

/**
 * Plain nginx (HTTP only, no module) serving the files under `root` as static files: the HLS peer.
 * One process (`master_process off`), `daemon off`, keep-alive, sendfile as Debian's default config
 * has it, no access log. Needs only the `nginx` binary (nginx-light is enough).
 * @param {SysCtx} ctx @param {string} root
 */
async function startNginxHttp(ctx, root, name = 'nginx') {
  if (spawnSync('nginx', ['-v'], { encoding: 'utf8' }).status !== 0) return null;
  const hp = await freePort();
  const dir = fs.mkdtempSync(path.join(ctx.tmp, 'nginx-http-'));
  const conf = `${nginxMain(dir)}
http {
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${hp};
    root ${root};
    location ~ \\.m3u8$ { add_header Cache-Control no-cache; }
  }
}
`;
  const proc = await spawnNginx(ctx, name, dir, conf, hp);
  const v = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return {
    http: `http://127.0.0.1:${hp}`,
    version: (v.stderr || v.stdout).trim().replace('nginx version: ', ''),
    ...watchedServer(ctx, name, proc, 'SIGQUIT'),
  };
}

/**
 * SRS 6 built from source (bench/README.md "SRS 6"): the binary at BENCH_SRS_BIN or
 * bench/.cache/srs/srs; null (skipped with a note) when there is none.
 */
function srsBinary() {
  const bin = process.env.BENCH_SRS_BIN ?? path.join(__dirname, '..', '.cache', 'srs', 'srs');
  return fs.existsSync(bin) ? bin : null;
}

/**
 * SRS with a generated config: RTMP and HTTP-FLV on loopback free ports, in the foreground, logs to a
 * file at warn, default play settings (GOP cache on, merged writes: mw_latency 350 ms).
 * @param {SysCtx} ctx
 */
async function startSrs(ctx, name = 'srs') {
  const bin = srsBinary();
  if (!bin) return null;
  const [rp, hp] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(ctx.tmp, 'srs-'));
  const conf = `listen 127.0.0.1:${rp};
max_connections 5000;
daemon off;
pid ${dir}/srs.pid;
srs_log_tank file;
srs_log_file ${dir}/srs.log;
srs_log_level warn;
http_api { enabled off; }
http_server { enabled on; listen 127.0.0.1:${hp}; dir ${dir}; }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;
  fs.writeFileSync(path.join(dir, 'srs.conf'), conf);
  const proc = ctx.reg.spawn(name, bin, ['-c', path.join(dir, 'srs.conf')], { cwd: dir });
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output}\n${safeRead(path.join(dir, 'srs.log'))}`);
    return (await canConnect('127.0.0.1', rp)) && (await canConnect('127.0.0.1', hp));
  }, 10000, `${name} listening`);
  return {
    rtmp: `rtmp://127.0.0.1:${rp}`,
    http: `http://127.0.0.1:${hp}`,
    ...watchedServer(ctx, name, proc),
  };
}

function safeRead(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function nmsVersion() {
  try {
    return require('node-media-server/package.json').version;
  } catch {
    return null;
  }
}

/** The redis-server version, or null when there is none on PATH. */
function redisServerVersion() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return /v=(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

/**
 * A private redis-server on a free port: no persistence (`--save "" --appendonly no`), its own dir
 * under the run's temp dir, bound to 127.0.0.1, stopped by PID with the rest. The shared Redis at
 * 127.0.0.1:6379 is never touched.
 * @param {SysCtx} ctx
 */
async function startRedis(ctx, name = 'redis-server') {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(ctx.tmp, 'redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
  const proc = ctx.reg.spawn(name, 'redis-server', args);
  await waitFor(async () => {
    if (!proc.running) throw new Error(`${name} exited during start:\n${proc.output.slice(-3000)}`);
    try {
      return (await redisCall(port, ['PING'], 500)) === 'PONG';
    } catch {
      return false;
    }
  }, 10000, `${name} answering PING on ${port}`);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    ...watchedServer(ctx, name, proc),
  };
}

/** A temp dir for this run (removed at the end). */
function makeTmp() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cascade-bench-'));
}

module.exports = { startCascade, startCascadeProcess, startNms, startNginx, startNginxHttp, startSrs, srsBinary, startRedis, redisServerVersion, ensureNginx, nmsVersion, makeTmp };
