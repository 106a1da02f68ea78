import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { run, waitFor } from './processes';
import { freePort } from './wait';

/**
 * Private redis-server processes for tests (the shared Redis at 6379 is never
 * stopped or reconfigured). Everything lives in one temp dir, listens on 127.0.0.1 on free ports,
 * keeps no data on disk (`--save "" --appendonly no`), and `stop()` kills every process by PID, awaits
 * its exit and removes the dir. A setup that fails half-way stops what it started before throwing.
 */

const REDIS_SERVER = process.env.CASCADE_TEST_REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.CASCADE_TEST_REDIS_CLI ?? 'redis-cli';

/** One redis-server (or sentinel) process. */
export class RedisProcess {
  readonly output: string[] = [];
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly proc: ChildProcess,
  ) {
    proc.stdout?.on('data', (d: Buffer) => this.output.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Kills by PID and waits for the exit (SIGKILL after 3 s if a gentler signal is ignored). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return this.exited;
    this.proc.kill(signal);
    const force = signal === 'SIGKILL' ? undefined : setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    if (force) clearTimeout(force);
  }

  /** The last lines it printed (for failure messages). */
  tail(lines = 20): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }
}

export { freePort };

/** One command on a short-lived connection (no retries); rejects when the server does not answer. */
export async function redisCommand(port: number, command: string, ...args: Array<string | number>): Promise<unknown> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 5000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await redis.call(command, ...args);
  } finally {
    redis.disconnect();
  }
}

/** `INFO section` as key → value. */
export async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  const text = String(await redisCommand(port, 'INFO', section));
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, 'PING')) === 'PONG';
  } catch {
    return false;
  }
}

/** A temp dir and the redis processes started in it. */
export class RedisServers {
  readonly processes: RedisProcess[] = [];
  private stopped = false;
  private constructor(readonly dir: string) {}

  static async create(): Promise<RedisServers> {
    return new RedisServers(await mkdtemp(path.join(os.tmpdir(), 'cascade-redis-')));
  }

  /**
   * Starts `redis-server [conf] --port P ...args` on a free port and waits until it answers PING.
   * `ports` is called with the chosen port to add port-dependent arguments (retried on another port
   * if the one picked was taken in between).
   */
  async start(name: string, args: (port: number) => string[], conf?: (port: number) => string): Promise<RedisProcess> {
    if (this.stopped) throw new Error('RedisServers already stopped');
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const argv: string[] = [];
      if (conf) {
        const file = path.join(this.dir, `${name}-${port}.conf`);
        await writeFile(file, conf(port));
        argv.push(file);
      }
      argv.push('--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice', ...args(port));
      const p = new RedisProcess(name, port, spawn(REDIS_SERVER, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
      this.processes.push(p);
      try {
        await waitFor(
          async () => {
            if (!p.running) throw new Error(`${name} exited during start:\n${p.tail()}`);
            return answers(port);
          },
          15_000,
          `${name} answering on ${port}`,
        );
        return p;
      } catch (err) {
        lastError = err as Error;
        await p.kill();
        if (!/in use/i.test(p.output.join(''))) break;
      }
    }
    throw lastError ?? new Error(`${name} did not start`);
  }

  /** Kills every process by PID, waits for the exits, removes the dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.processes.map((p) => p.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- Sentinel

export interface SentinelSetupOptions {
  /** Master group name (default `cascade-test`). */
  name?: string;
  /** Number of redis-sentinel processes (default 1). */
  sentinels?: number;
  /** `sentinel monitor … QUORUM` (default 1). */
  quorum?: number;
  /**
   * `down-after-milliseconds` (default 5000). A master busy in a long script (a 10,000-lease
   * heartbeat takes seconds on a loaded box) answers no PING meanwhile: keep this above that.
   */
  downAfterMs?: number;
  /** `failover-timeout` (default 5000). */
  failoverTimeoutMs?: number;
}

export interface SentinelSetup {
  servers: RedisServers;
  name: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** `redis-sentinel://127.0.0.1:S1,…/NAME` */
  url: string;
  /** The port of the master the sentinels report now. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** One master, one replica (`--replicaof`), N sentinels; resolves once the sentinels know both and the replica is in sync. */
export async function startSentinelSetup(opts: SentinelSetupOptions = {}): Promise<SentinelSetup> {
  const name = opts.name ?? 'cascade-test';
  const servers = await RedisServers.create();
  try {
    const master = await servers.start('master', () => []);
    const replica = await servers.start('replica', () => ['--replicaof', '127.0.0.1', String(master.port)]);
    const conf = (port: number): string =>
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${servers.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} ${opts.quorum ?? 1}`,
        `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 5000}`,
        `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 5000}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n');
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < (opts.sentinels ?? 1); i++) {
      // `redis-server sentinel.conf --sentinel` (Debian ships no redis-sentinel binary by default).
      sentinels.push(await servers.start(`sentinel-${i + 1}`, () => ['--sentinel'], conf));
    }
    const currentMasterPort = async (port = sentinels[0].port): Promise<number> => {
      const addr = (await redisCommand(port, 'SENTINEL', 'get-master-addr-by-name', name)) as string[] | null;
      return addr ? Number(addr[1]) : 0;
    };
    await waitFor(
      async () => {
        const link = await redisInfo(replica.port, 'replication');
        if (link.master_link_status !== 'up') return false;
        for (const s of sentinels) {
          if ((await currentMasterPort(s.port)) !== master.port) return false;
          const replicas = (await redisCommand(s.port, 'SENTINEL', 'replicas', name)) as string[][];
          const known = replicas.map(pairs).find((r) => Number(r.port) === replica.port);
          if (!known || known.flags !== 'slave' || known['master-link-status'] !== 'ok') return false;
          const m = pairs((await redisCommand(s.port, 'SENTINEL', 'master', name)) as string[]);
          if (Number(m['num-other-sentinels']) !== sentinels.length - 1) return false;
        }
        return true;
      },
      30_000,
      'sentinels to report the master, the replica in sync and each other',
      100,
    );
    return {
      servers,
      name,
      master,
      replica,
      sentinels,
      url: `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`,
      currentMasterPort: () => currentMasterPort(),
      stop: () => servers.stop(),
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}

/** `SENTINEL FAILOVER NAME` through redis-cli, as an operator would. */
export async function sentinelFailover(setup: SentinelSetup): Promise<void> {
  const r = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(setup.sentinels[0].port), 'SENTINEL', 'FAILOVER', setup.name], 10_000);
  if (r.code !== 0 || !/OK/.test(r.stdout)) throw new Error(`SENTINEL FAILOVER failed: ${r.stdout}${r.stderr}`);
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

// ---------------------------------------------------------------- Cluster

export interface ClusterSetupOptions {
  /** Masters (default 3, the minimum redis-cli accepts). */
  masters?: number;
  /** Replicas per master (default 0). */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout` (default 3000). A node busy in a long script answers no cluster-bus ping
   * meanwhile; below a few seconds a 10,000-lease heartbeat made its replica take over mid-test.
   */
  nodeTimeoutMs?: number;
}

export interface ClusterSetup {
  servers: RedisServers;
  nodes: RedisProcess[];
  /** `redis-cluster://127.0.0.1:P1,…` (every node). */
  url: string;
  /** The port of the master serving the slot of `key`, as `node` (default: any live node) sees it. */
  slotOwnerPort(key: string): Promise<number>;
  /** The `role` of a node (`master` / `slave`). */
  role(node: RedisProcess): Promise<string>;
  stop(): Promise<void>;
}

/**
 * N masters (and optional replicas) created with `redis-cli --cluster create`; each node gets a free
 * cluster bus port (`cluster-port`), so nothing assumes port + 10000 is free. Resolves once every
 * node reports `cluster_state:ok` and knows every other node.
 */
export async function startClusterSetup(opts: ClusterSetupOptions = {}): Promise<ClusterSetup> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const servers = await RedisServers.create();
  try {
    const nodes: RedisProcess[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const bus = await freePort();
      nodes.push(
        await servers.start(`node-${i + 1}`, (port) => [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(servers.dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(opts.nodeTimeoutMs ?? 3000),
          '--cluster-port',
          String(bus),
          // A replica may take over whatever its last contact with the master was (tests kill masters).
          '--cluster-replica-validity-factor',
          '0',
        ]),
      );
    }
    const create = await run(
      REDIS_CLI,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      60_000,
    );
    if (create.code !== 0 || !/All 16384 slots covered/.test(create.stdout)) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    await waitFor(
      async () => {
        for (const n of nodes) {
          const info = String(await redisCommand(n.port, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
        }
        for (const n of nodes) {
          const repl = await redisInfo(n.port, 'replication');
          if (repl.role === 'slave' && repl.master_link_status !== 'up') return false;
        }
        return true;
      },
      30_000,
      'every cluster node to report cluster_state:ok and its replicas in sync',
      100,
    );
    const live = (): RedisProcess => {
      const n = nodes.find((x) => x.running);
      if (!n) throw new Error('no cluster node is running');
      return n;
    };
    return {
      servers,
      nodes,
      url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
      async slotOwnerPort(key: string): Promise<number> {
        const port = live().port;
        const slot = Number(await redisCommand(port, 'CLUSTER', 'KEYSLOT', key));
        const ranges = (await redisCommand(port, 'CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        return range ? Number(range[2][1]) : 0;
      },
      async role(node: RedisProcess): Promise<string> {
        return (await redisInfo(node.port, 'replication')).role;
      },
      stop: () => servers.stop(),
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}
