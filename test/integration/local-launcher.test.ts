import path from 'node:path';
import { spawn } from 'node:child_process';
import { TestProcess, waitFor } from '../helpers/processes';
import { canListen } from '../../local/ports';

jest.setTimeout(60_000);

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

test('`cascade local --port-offset N` starts discovery, two origins and an edge, prints URLs, and SIGTERM stops all with exit 0', async () => {
  const offset = await freeOffset();
  const entry = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'cascade.js');
  const launcher = new TestProcess('local', spawn(process.execPath, [entry, 'local', '--port-offset', String(offset)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await waitFor(() => launcher.text.includes('Cascade local cluster is up'), 30_000, 'the banner');
    expect(launcher.text).toContain(`rtmp://127.0.0.1:${1935 + offset}/live/demo`);
    expect(launcher.text).toContain(`http://127.0.0.1:${8080 + offset}/live/demo.flv`);
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
  const net = await import('node:net');
  const blocker = net.createServer().listen(8081 + offset, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const entry = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'cascade.js');
  const launcher = new TestProcess('local', spawn(process.execPath, [entry, 'local', '--port-offset', String(offset)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    expect(await launcher.waitExit()).toBe(1);
    expect(launcher.text).toContain(`${8081 + offset}`);
    expect(launcher.text).toContain('already in use');
  } finally {
    blocker.close();
    await launcher.stop('SIGKILL');
  }
});
