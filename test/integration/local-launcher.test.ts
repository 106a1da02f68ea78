import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { TestProcess, run, startCommand, waitFor } from '../helpers/processes';
import { ffmpegPublishArgs } from '../helpers/media';
import { analyse, rtmpViewer, type ViewerRecord } from '../helpers/viewers';
import { canListen } from '../../local/ports';

jest.setTimeout(180_000);

const DEFAULTS = [1935, 1936, 1937, 8080, 8081, 8082, 8090];

/** A port offset at which every default port of the cluster is free on this machine right now. */
async function freeOffset(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const offset = 20000 + Math.floor(Math.random() * 20000);
    const free = await Promise.all(DEFAULTS.map((p) => canListen(p + offset, '127.0.0.1')));
    if (free.every(Boolean)) return offset;
  }
  throw new Error('no free port offset found');
}

const ENTRY = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'cascade.js');

const stateDirs: string[] = [];
afterAll(() => {
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

/** `cascade local` with its admin token in a fresh directory (`stateDir`). */
function startLauncher(offset: number, env: NodeJS.ProcessEnv = process.env): TestProcess & { stateDir: string } {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'cascade-local-'));
  stateDirs.push(stateDir);
  const args = [ENTRY, 'local', '--port-offset', String(offset), '--state-dir', path.join(stateDir, 'state')];
  return Object.assign(new TestProcess('local', spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })), { stateDir: path.join(stateDir, 'state') });
}

/** The launcher's children by member name (`--id NAME`, or the role: discovery), from `ps`. */
async function members(launcherPid: number): Promise<Map<string, number>> {
  const { stdout } = await run('ps', ['--ppid', String(launcherPid), '-o', 'pid=,args=']);
  const found = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+)\s.*cascade\.js (\w+)(?: --id (\S+))?/.exec(line);
    if (m) found.set(m[3] ?? m[2], Number(m[1]));
  }
  return found;
}

/** PIDs of every process of the cluster at this offset, whoever its parent is now. */
async function clusterProcesses(offset: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  const discovery = `127.0.0.1:${8090 + offset}`;
  return stdout
    .split('\n')
    .filter((l) => l.includes('cascade.js') && (l.includes(`--discovery-url http://${discovery}`) || l.includes(`--port ${8090 + offset}`)))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls these /healthz URLs back to back until stopped; every miss is recorded. */
function watchHealth(urls: string[]): { misses: string[]; rounds: () => number; stop: () => Promise<void> } {
  const misses: string[] = [];
  let rounds = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const url of urls) {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => err);
        if (res instanceof Error || res.status !== 200) misses.push(`${url}: ${res instanceof Error ? res.message : res.status}`);
        else await res.arrayBuffer();
      }
      rounds++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    misses,
    rounds: () => rounds,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

test('`cascade local --port-offset N` starts discovery, two origins and an edge, prints URLs, and SIGTERM stops all with exit 0', async () => {
  const offset = await freeOffset();
  const launcher = startLauncher(offset);
  try {
    await waitFor(() => launcher.text.includes('Cascade local cluster is up'), 60_000, 'the banner');
    expect(launcher.text).toContain(`rtmp://127.0.0.1:${1935 + offset}/live/demo`);
    expect(launcher.text).toContain(`http://127.0.0.1:${8080 + offset}/live/demo.flv`);
    expect(launcher.text).toContain(`http://127.0.0.1:${8080 + offset}/live/demo.m3u8`);
    expect(launcher.text).toContain(`console    http://127.0.0.1:${8090 + offset}/ `);
    expect(launcher.text).toContain(`rtmp://127.0.0.1:${1937 + offset}/live/demo`);
    for (const port of [8080, 8081, 8082, 8090]) {
      const res = await fetch(`http://127.0.0.1:${port + offset}/healthz`);
      expect(res.status).toBe(200);
    }
    const origins = (await (await fetch(`http://127.0.0.1:${8090 + offset}/v1/origins`)).json()) as { origins: Array<{ id: string }> };
    expect(origins.origins.map((o) => o.id).sort()).toEqual(['origin-1', 'origin-2']);
    expect(await launcher.stop('SIGTERM', 15_000)).toBe(0);
    // Every child is gone: all ports can be bound again.
    const free = await Promise.all(DEFAULTS.map((p) => canListen(p + offset, '127.0.0.1')));
    expect(free.every(Boolean)).toBe(true);
  } finally {
    await launcher.stop('SIGKILL');
  }
});

test('a busy port is reported clearly and the launcher exits non-zero', async () => {
  const offset = await freeOffset();
  const blocker = net.createServer().listen(8081 + offset, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const launcher = startLauncher(offset);
  try {
    expect(await launcher.waitExit()).toBe(1);
    expect(launcher.text).toContain(`${8081 + offset}`);
    expect(launcher.text).toContain('already in use');
  } finally {
    blocker.close();
    await launcher.stop('SIGKILL');
  }
});

test('a member that fails during the start stops the cluster: exit 1, one clear line, nothing left running', async () => {
  const offset = await freeOffset();
  // Only the origins read this key: discovery starts and is healthy, then both origins refuse their config.
  const launcher = startLauncher(offset, { ...process.env, CASCADE_DRAIN_DEADLINE_MS: '-1' });
  try {
    expect(await launcher.waitExit()).toBe(1);
    expect(launcher.text).toMatch(/cascade local: origin-[12] exited during start \(code 2\); stopping the cluster\n/);
    expect(launcher.text).not.toContain('Cascade local cluster is up');
    expect(launcher.text).not.toContain('restarting');
    expect(await clusterProcesses(offset)).toEqual([]);
    const free = await Promise.all(DEFAULTS.map((p) => canListen(p + offset, '127.0.0.1')));
    expect(free.every(Boolean)).toBe(true);
  } finally {
    await launcher.stop('SIGKILL');
    for (const p of await clusterProcesses(offset)) process.kill(p, 'SIGKILL');
  }
});

test('a member that exits is restarted alone while the others keep answering; a crash loop is given up alone; SIGTERM still stops all', async () => {
  const offset = await freeOffset();
  const launcher = startLauncher(offset);
  const pid = launcher.proc.pid as number;
  const seen = new Set<number>();
  let blocker: net.Server | undefined;
  let watch: ReturnType<typeof watchHealth> | undefined;
  const url = (port: number): string => `http://127.0.0.1:${port + offset}/healthz`;
  const healthy = async (port: number): Promise<boolean> => (await fetch(url(port), { signal: AbortSignal.timeout(5000) }).catch(() => null))?.status === 200;
  try {
    await waitFor(() => launcher.text.includes('Cascade local cluster is up'), 60_000, 'the banner');
    const before = await members(pid);
    expect([...before.keys()].sort()).toEqual(['discovery', 'edge-1', 'origin-1', 'origin-2']);
    before.forEach((p) => seen.add(p));

    // discovery, origin-1 and edge-1 answer throughout; origin-2 is killed, reported and restarted.
    watch = watchHealth([url(8090), url(8081), url(8080)]);
    process.kill(before.get('origin-2') as number, 'SIGKILL');
    await waitFor(() => launcher.text.includes('cascade local: origin-2 exited (SIGKILL); restarting in 0.25 s (restart 1)\n'), 30_000, 'the exit line');
    await waitFor(() => launcher.text.includes('cascade local: origin-2 is back (restart 1)\n'), 60_000, 'the back line');
    expect(await healthy(8082)).toBe(true);
    const after = await members(pid);
    expect(after.get('origin-2')).not.toBe(before.get('origin-2'));
    for (const name of ['discovery', 'origin-1', 'edge-1']) expect(after.get(name)).toBe(before.get(name));
    after.forEach((p) => seen.add(p));
    await waitFor(
      async () => {
        const body = (await (await fetch(`http://127.0.0.1:${8090 + offset}/v1/origins`)).json()) as { origins: Array<{ id: string }> };
        return body.origins.some((o) => o.id === 'origin-2');
      },
      30_000,
      'origin-2 registered with discovery again',
    );

    // Kill it again and hold its RTMP port: every restart fails at once, and the 5th exit in 60 s gives it up.
    process.kill(after.get('origin-2') as number, 'SIGKILL');
    const port = 1937 + offset;
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const srv = net.createServer();
          srv.once('error', () => resolve(false));
          srv.listen(port, '127.0.0.1', () => {
            blocker = srv;
            resolve(true);
          });
        }),
      10_000,
      `origin-2's RTMP port ${port} to be ours`,
      10,
    );
    await waitFor(() => launcher.text.includes('origin-2 exited (code 1) and keeps crashing'), 60_000, 'the give-up line');
    expect(launcher.text).toContain('cascade local: origin-2 exited (code 1) and keeps crashing (5 exits in 60 s); giving up on it, the rest keep running\n');
    for (const n of [2, 3, 4]) expect(launcher.text).toMatch(new RegExp(`cascade local: origin-2 exited \\((SIGKILL|code 1)\\); restarting in [0-9.]+ s \\(restart ${n}\\)\n`));
    const left = await members(pid);
    expect([...left.keys()].sort()).toEqual(['discovery', 'edge-1', 'origin-1']);

    await watch.stop();
    expect(watch.misses).toEqual([]);
    expect(watch.rounds()).toBeGreaterThan(0);
    expect(launcher.running).toBe(true);

    // origin-1 dies and SIGTERM follows at once: the pending restart is cancelled, everything stops, exit 0.
    process.kill(left.get('origin-1') as number, 'SIGKILL');
    expect(await launcher.stop('SIGTERM', 20_000)).toBe(0);
    expect(launcher.text).not.toContain('origin-1 is back');
    expect([...seen].filter(alive)).toEqual([]);
    expect(await clusterProcesses(offset)).toEqual([]);
    blocker?.close();
    blocker = undefined;
    const free = await Promise.all(DEFAULTS.map((p) => canListen(p + offset, '127.0.0.1')));
    expect(free.every(Boolean)).toBe(true);
  } finally {
    await watch?.stop();
    blocker?.close();
    await launcher.stop('SIGKILL');
    for (const p of await clusterProcesses(offset)) process.kill(p, 'SIGKILL');
  }
});

test('a stream live under `npm start`: discovery SIGKILLed is brought back and lists the stream again; the owner SIGKILLed, the re-push to origin-1 is accepted at once; publisher and edge viewer stay', async () => {
  const offset = await freeOffset();
  const launcher = startLauncher(offset);
  const pid = launcher.proc.pid as number;
  const encoders: TestProcess[] = [];
  const discovery = `http://127.0.0.1:${8090 + offset}`;
  const ownerOf = async (name: string): Promise<string | null> => {
    const res = await fetch(`${discovery}/v1/streams/live/${name}`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    return res?.status === 200 ? ((await res.json()) as { origin: { id: string } }).origin.id : null;
  };
  const publish = (port: number, name: string): TestProcess => {
    const p = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`rtmp://127.0.0.1:${port + offset}/live/${name}`)], 'encoder');
    encoders.push(p);
    return p;
  };
  let viewer: ViewerRecord | undefined;
  try {
    await waitFor(() => launcher.text.includes('Cascade local cluster is up'), 60_000, 'the banner');
    const name = `ls${process.pid}`;
    const encoder = publish(1937, name);
    await waitFor(async () => (await ownerOf(name)) === 'origin-2', 30_000, 'origin-2 to own the stream');
    viewer = await rtmpViewer(`rtmp://127.0.0.1:${1935 + offset}/live/${name}`);
    const v = viewer;
    await waitFor(() => analyse(v).videoFrames > 30, 20_000, 'video at the edge viewer');

    // Discovery (memory store) dies: the launcher restarts it, the origins' heartbeats rebuild its state.
    process.kill((await members(pid)).get('discovery') as number, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => launcher.text.includes('cascade local: discovery is back'), 60_000, 'discovery back');
    await waitFor(async () => (await ownerOf(name)) === 'origin-2', 30_000, 'the stream listed on origin-2 again');
    console.log(`npm start, discovery SIGKILL: stream listed on its owner again ${Date.now() - killedAt} ms after the kill`);
    expect(encoder.running).toBe(true);
    expect(v.closed).toBe(false);

    // The owner dies: its encoder re-pushes to origin-1, which is accepted at once (the dead owner's lease is broken).
    process.kill((await members(pid)).get('origin-2') as number, 'SIGKILL');
    await encoder.waitExit();
    const repushAt = Date.now();
    publish(1936, name);
    await waitFor(async () => (await ownerOf(name)) === 'origin-1', 30_000, 'origin-1 to own the stream');
    console.log(`npm start, owner SIGKILL: the re-push owned by origin-1 ${Date.now() - repushAt} ms after it started`);
    const frames = analyse(v).videoFrames;
    await waitFor(() => analyse(v).videoFrames > frames + 30, 30_000, 'video to resume at the edge viewer');
    expect(v.closed).toBe(false);
    expect(analyse(v).monotonic).toBe(true);
    await waitFor(() => launcher.text.includes('cascade local: origin-2 is back'), 60_000, 'origin-2 back');
    expect(await launcher.stop('SIGTERM', 20_000)).toBe(0);
  } finally {
    viewer?.stop();
    await Promise.all(encoders.map((e) => e.stop('SIGKILL')));
    await launcher.stop('SIGKILL');
    for (const p of await clusterProcesses(offset)) process.kill(p, 'SIGKILL');
  }
});

test('secure by default: a random cluster secret in the members\' environment only; a stranger\'s five takeover requests are refused while the stream stays on its owner and plays; the admin token works', async () => {
  const offset = await freeOffset();
  const launcher = startLauncher(offset);
  const pid = launcher.proc.pid as number;
  const discovery = `http://127.0.0.1:${8090 + offset}`;
  let encoder: TestProcess | undefined;
  let viewer: ViewerRecord | undefined;
  try {
    await waitFor(() => launcher.text.includes('Cascade local cluster is up'), 60_000, 'the banner');
    const tokenFile = path.join(launcher.stateDir, 'admin-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(launcher.stateDir).mode & 0o777).toBe(0o700);
    const admin = readFileSync(tokenFile, 'utf8').trim();
    expect(launcher.text).toContain(tokenFile);

    // One secret, in every member's environment and nowhere else: not in any argv, not in the launcher's output.
    const secrets = new Set<string>();
    const { stdout: ps } = await run('ps', ['-eo', 'args=']);
    for (const [, memberPid] of await members(pid)) {
      const environ = readFileSync(`/proc/${memberPid}/environ`, 'utf8').split('\0');
      const secret = environ.find((e) => e.startsWith('CASCADE_CLUSTER_SECRET='))?.slice('CASCADE_CLUSTER_SECRET='.length);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      secrets.add(secret as string);
    }
    expect(secrets.size).toBe(1);
    const [secret] = [...secrets];
    for (const text of [ps, launcher.text]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(admin);
    }

    const name = `sec${process.pid}`;
    encoder = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`rtmp://127.0.0.1:${1937 + offset}/live/${name}`)], 'encoder');
    const lookup = async (headers: Record<string, string> = {}) => {
      const res = await fetch(`${discovery}/v1/streams/live/${name}`, { headers, signal: AbortSignal.timeout(5000) });
      return res.status === 200 ? ((await res.json()) as { origin: { id: string; rtmp: string }; token?: number }) : null;
    };
    await waitFor(async () => (await lookup())?.origin.id === 'origin-2', 30_000, 'origin-2 to own the stream');
    viewer = await rtmpViewer(`rtmp://127.0.0.1:${1935 + offset}/live/${name}`);
    const v = viewer;
    await waitFor(() => analyse(v).videoFrames > 30, 30_000, 'video at the edge viewer');

    // A stranger reads no fencing token; an admin does.
    expect(await lookup()).not.toHaveProperty('token');
    const held = await lookup({ authorization: `Bearer ${admin}` });
    expect(typeof held?.token).toBe('number');

    const send = (method: string, url: string, body?: unknown) =>
      fetch(`${discovery}${url}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(5000) });
    const attempts: Array<[string, Response]> = [
      ['release', await send('POST', `/v1/streams/live/${name}/release`, { originId: 'origin-2', token: held?.token })],
      ['re-register', await send('PUT', '/v1/origins/origin-2', { rtmp: 'rtmp://127.0.0.1:1', http: 'http://127.0.0.1:2' })],
      ['register an intruder', await send('PUT', '/v1/origins/intruder', { rtmp: 'rtmp://127.0.0.1:1', http: 'http://127.0.0.1:2' })],
      ['claim as the owner', await send('POST', `/v1/streams/live/${name}/claim`, { originId: 'origin-2' })],
      ['deregister', await send('DELETE', '/v1/origins/origin-2')],
    ];
    expect(attempts.map(([what, res]) => [what, res.status])).toEqual(attempts.map(([what]) => [what, 401]));
    const frames = analyse(v).videoFrames;
    await waitFor(() => analyse(v).videoFrames > frames + 60, 30_000, 'video to keep flowing at the edge viewer');
    expect(await lookup({ authorization: `Bearer ${admin}` })).toMatchObject({ origin: { id: 'origin-2' }, token: held?.token });
    expect(encoder.running).toBe(true);
    expect(v.closed).toBe(false);
    const origins = (await (await fetch(`${discovery}/v1/origins`)).json()) as { origins: Array<{ id: string }> };
    expect(origins.origins.map((o) => o.id).sort()).toEqual(['origin-1', 'origin-2']);

    // The node APIs show no command line (nor the secret) on any member.
    for (const port of [8080, 8081, 8082]) {
      const summaries = await (await fetch(`http://127.0.0.1:${port + offset}/api/v1/summaries`)).text();
      expect(summaries).not.toMatch(/argv|cascade\.js|--discovery-url/);
      expect(summaries).not.toContain(secret);
      expect(summaries).not.toContain(admin);
    }

    // The admin token opens administrative routes (discovery and the origins' node API).
    expect((await fetch(`${discovery}/v1/origins/nobody`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status).toBe(204);
    expect(await launcher.stop('SIGTERM', 20_000)).toBe(0);
  } finally {
    viewer?.stop();
    await encoder?.stop('SIGKILL');
    await launcher.stop('SIGKILL');
    for (const p of await clusterProcesses(offset)) process.kill(p, 'SIGKILL');
  }
});
