/**
 * Private Redis for the chaos scenarios: a `redis-server` on a free port, no persistence, its own
 * temp dir. The shared Redis at 127.0.0.1:6379 is never touched (it is shared by every test on the machine).
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startCommand, waitFor, type TestProcess } from '../test/helpers/processes';
import type { ProcessRegistry } from './registry';

/** Sends one command on a fresh connection and returns the reply (throws when Redis does not answer in time). */
export async function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<unknown> {
  const conn = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, commandTimeout: timeoutMs, enableOfflineQueue: false });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    return await conn.call(args[0], ...args.slice(1));
  } finally {
    conn.disconnect();
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, ['PING'], 500)) === 'PONG';
  } catch {
    return false;
  }
}

/** One redis-server process on a fixed port; `restart()` brings a fresh, empty one up on the same port. */
export class PrivateRedis {
  proc?: TestProcess;
  /** Every process this instance started (a restart adds one), for logs and cleanup. */
  readonly history: TestProcess[] = [];

  constructor(readonly port: number, readonly dir: string, private readonly opts: { extra?: string[]; registry?: ProcessRegistry } = {}) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...(this.opts.extra ?? [])];
    const proc = startCommand('redis-server', args, `redis-${this.port}`);
    this.opts.registry?.track(proc);
    this.proc = proc;
    this.history.push(proc);
    await waitFor(async () => {
      if (!proc.running) throw new Error(`redis-server on ${this.port} exited during start:\n${proc.text}`);
      return answers(this.port);
    }, 10_000, `redis-server answering on ${this.port}`);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    await this.proc?.stop('SIGKILL');
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.proc?.running) this.proc.proc.kill(sig);
  }

  command(...args: string[]): Promise<unknown> {
    return redisCommand(this.port, args);
  }

  async stop(): Promise<void> {
    for (const p of this.history) {
      if (p.running) p.proc.kill('SIGCONT');
      await p.stop('SIGKILL');
    }
  }
}

/**
 * A master, one replica and one sentinel (quorum 1), all private. `failover()` asks the sentinel
 * for `SENTINEL FAILOVER` and resolves once it names the replica as the master.
 */
export class PrivateSentinel {
  readonly master: PrivateRedis;
  readonly replica: PrivateRedis;
  readonly sentinelPort: number;
  proc?: TestProcess;

  constructor(
    ports: { master: number; replica: number; sentinel: number },
    private readonly dir: string,
    private readonly registry?: ProcessRegistry,
    readonly masterName = 'cascade',
  ) {
    this.master = new PrivateRedis(ports.master, path.join(dir, 'master'), { registry });
    this.replica = new PrivateRedis(ports.replica, path.join(dir, 'replica'), { registry, extra: ['--replicaof', '127.0.0.1', String(ports.master)] });
    this.sentinelPort = ports.sentinel;
  }

  /** The URL discovery is given (the forms of docs/discovery.md "Redis HA"). */
  get url(): string {
    return `redis-sentinel://127.0.0.1:${this.sentinelPort}/${this.masterName}`;
  }

  async start(): Promise<void> {
    await this.master.start();
    await this.replica.start();
    await waitFor(async () => {
      try {
        return /master_link_status:up/.test(String(await this.replica.command('INFO', 'replication')));
      } catch {
        return false;
      }
    }, 15_000, 'the replica to sync with the master');
    const conf = path.join(this.dir, 'sentinel.conf');
    fs.writeFileSync(
      conf,
      [
        `port ${this.sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${this.masterName} 127.0.0.1 ${this.master.port} 1`,
        `sentinel down-after-milliseconds ${this.masterName} 2000`,
        `sentinel failover-timeout ${this.masterName} 10000`,
        '',
      ].join('\n'),
    );
    this.proc = startCommand('redis-server', [conf, '--sentinel'], `sentinel-${this.sentinelPort}`);
    this.registry?.track(this.proc);
    // The sentinel learns the replica from the master's INFO (every 10 s at first): FAILOVER needs it.
    await waitFor(async () => {
      if (!this.proc?.running) throw new Error(`sentinel exited during start:\n${this.proc?.text}`);
      try {
        const replicas = (await redisCommand(this.sentinelPort, ['SENTINEL', 'REPLICAS', this.masterName])) as string[][];
        return replicas.some((r) => fieldOf(r, 'port') === String(this.replica.port) && !/s_down|disconnected/.test(fieldOf(r, 'flags') ?? ''));
      } catch {
        return false;
      }
    }, 30_000, 'the sentinel to know the replica');
  }

  /** The port the sentinel names as the master now. */
  async masterPort(): Promise<number | undefined> {
    const addr = (await redisCommand(this.sentinelPort, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName])) as [string, string] | null;
    return addr ? Number(addr[1]) : undefined;
  }

  async failover(): Promise<void> {
    await redisCommand(this.sentinelPort, ['SENTINEL', 'FAILOVER', this.masterName]);
    await waitFor(async () => (await this.masterPort().catch(() => undefined)) === this.replica.port, 30_000, 'the sentinel to promote the replica');
  }

  async stop(): Promise<void> {
    if (this.proc) await this.proc.stop('SIGKILL');
    await this.replica.stop();
    await this.master.stop();
  }
}

/** A field of a flat [key, value, key, value...] reply. */
function fieldOf(flat: readonly string[], key: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === key) return flat[i + 1];
  return undefined;
}
