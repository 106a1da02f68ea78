/**
 * The cluster one chaos scenario runs against: its own discovery (memory store, or Redis / Sentinel
 * on private redis-servers), origin-1, origin-2 and edge-1, each a process of dist/bin/cascade.js on
 * free ports, started with the flags local/cluster.ts uses. Members can be killed, frozen and
 * restarted on the same ports; `stop()` ends every process this cluster ever started.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/media';
import { startService, type TestProcess } from '../test/helpers/processes';
import { firstErrorLine } from './analysis';
import { PrivateRedis, PrivateSentinel } from './redis';
import { ProcessRegistry } from './registry';

export type StoreKind = 'memory' | 'redis' | 'sentinel';

export interface ClusterTiming {
  /** Origin `--heartbeat-ms`; absent: the product default. */
  heartbeatMs?: number;
  /** Discovery `--lease-ttl-ms`; absent: the product default. */
  leaseTtlMs?: number;
  /** Discovery `--origin-ttl-ms`; absent: the product default. */
  originTtlMs?: number;
}

export interface Member {
  name: string;
  role: 'discovery' | 'origin' | 'edge';
  flags: string[];
  health: string;
  http: string;
  rtmp?: string;
  proc?: TestProcess;
  /** Every process of this member (a restart adds one): logs, cleanup. */
  history: TestProcess[];
}

/** Discovery did not come up with the flags it was given (e.g. a store URL it does not support yet). */
export class DiscoveryStartError extends Error {
  constructor(readonly output: string) {
    super(`discovery refused to start: ${firstErrorLine(output)}`);
    this.name = 'DiscoveryStartError';
  }
}

export class ChaosCluster {
  readonly tmpDir: string;
  readonly prefix: string;
  /** In every member's environment, as under `npm start`: the faults are survived with per-origin auth on. */
  readonly clusterSecret = randomBytes(32).toString('hex');
  discovery!: Member;
  readonly origins: Member[] = [];
  edge!: Member;
  redis?: PrivateRedis;
  sentinel?: PrivateSentinel;

  constructor(
    readonly store: StoreKind,
    private readonly timing: ClusterTiming = {},
    readonly registry = new ProcessRegistry(),
  ) {
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cascade-chaos-'));
    this.prefix = `chaos-${path.basename(this.tmpDir).slice(-6)}:`;
  }

  get discoveryUrl(): string {
    return this.discovery.http;
  }

  /** Every member, discovery first. */
  members(): Member[] {
    return [this.discovery, ...this.origins, this.edge].filter(Boolean);
  }

  origin(id: string): Member {
    const m = this.origins.find((o) => o.name === id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** Starts the store, discovery, two origins and the edge; throws DiscoveryStartError when discovery will not start. */
  async boot(): Promise<void> {
    const storeFlags: string[] = [];
    if (this.store === 'redis') {
      this.redis = new PrivateRedis(await freePort(), path.join(this.tmpDir, 'redis'), { registry: this.registry });
      await this.redis.start();
      storeFlags.push('--store', 'redis', '--redis-url', this.redis.url, '--redis-prefix', this.prefix);
    } else if (this.store === 'sentinel') {
      this.sentinel = new PrivateSentinel({ master: await freePort(), replica: await freePort(), sentinel: await freePort() }, path.join(this.tmpDir, 'sentinel'), this.registry);
      await this.sentinel.start();
      storeFlags.push('--store', 'redis', '--redis-url', this.sentinel.url, '--redis-prefix', this.prefix);
    }
    const t = this.timing;
    const dport = await freePort();
    const discoveryUrl = `http://127.0.0.1:${dport}`;
    this.discovery = {
      name: 'discovery',
      role: 'discovery',
      flags: [
        '--host', '127.0.0.1', '--port', String(dport), ...storeFlags,
        ...(t.leaseTtlMs ? ['--lease-ttl-ms', String(t.leaseTtlMs)] : []),
        ...(t.originTtlMs ? ['--origin-ttl-ms', String(t.originTtlMs)] : []),
      ],
      health: `${discoveryUrl}/healthz`,
      http: discoveryUrl,
      history: [],
    };
    try {
      await this.start(this.discovery);
    } catch (err) {
      if (err instanceof Error && /exited during start/.test(err.message)) throw new DiscoveryStartError(err.message);
      throw err;
    }
    for (const id of ['origin-1', 'origin-2']) {
      const [rp, hp] = [await freePort(), await freePort()];
      this.origins.push({
        name: id,
        role: 'origin',
        flags: [
          '--id', id, '--host', '127.0.0.1', '--public-host', '127.0.0.1', '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl,
          ...(t.heartbeatMs ? ['--heartbeat-ms', String(t.heartbeatMs)] : []),
        ],
        health: `http://127.0.0.1:${hp}/healthz`,
        http: `http://127.0.0.1:${hp}`,
        rtmp: `rtmp://127.0.0.1:${rp}`,
        history: [],
      });
    }
    await Promise.all(this.origins.map((o) => this.start(o)));
    const [erp, ehp] = [await freePort(), await freePort()];
    this.edge = {
      name: 'edge-1',
      role: 'edge',
      flags: [
        '--id', 'edge-1', '--host', '127.0.0.1', '--rtmp-port', String(erp), '--http-port', String(ehp),
        '--origins', this.origins.map((o) => o.rtmp).join(','), '--discovery-url', discoveryUrl,
      ],
      health: `http://127.0.0.1:${ehp}/healthz`,
      http: `http://127.0.0.1:${ehp}`,
      rtmp: `rtmp://127.0.0.1:${erp}`,
      history: [],
    };
    await this.start(this.edge);
  }

  /** (Re)starts a member with its flags, on its ports, and waits for its health URL. */
  async start(m: Member): Promise<void> {
    const proc = this.registry.track(await startService(m.role, m.flags, m.health, m.name, { CASCADE_CLUSTER_SECRET: this.clusterSecret }));
    m.proc = proc;
    m.history.push(proc);
  }

  running(m: Member): boolean {
    return m.proc?.running ?? false;
  }

  /** Sends `signal` and, unless it only freezes or thaws, waits for the exit. */
  async kill(m: Member, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = m.proc;
    if (!p?.running) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      p.proc.kill(signal);
      return;
    }
    p.proc.kill(signal);
    await p.waitExit();
  }

  /** Log lines (pino JSON) of every process a member ran whose message matches. */
  logMatches(m: Member, pattern: RegExp): number {
    return m.history.reduce((n, p) => n + p.logs().filter((l) => typeof l.msg === 'string' && pattern.test(l.msg)).length, 0);
  }

  /** The output of every process, by member (and store) name; runs of a restarted member one after the other. */
  outputs(): Record<string, string> {
    const out: Record<string, string> = {};
    const add = (name: string, procs: readonly TestProcess[]): void => {
      if (procs.length > 0) out[name] = procs.map((p, i) => `${procs.length > 1 ? `----- run ${i + 1}\n` : ''}${p.text}`).join('\n');
    };
    for (const m of this.members()) add(m.name, m.history);
    if (this.redis) add('redis', this.redis.history);
    if (this.sentinel) {
      add('redis-master', this.sentinel.master.history);
      add('redis-replica', this.sentinel.replica.history);
      if (this.sentinel.proc) add('sentinel', [this.sentinel.proc]);
    }
    return out;
  }

  /** Ends every process this cluster started (thawing frozen ones first) and removes the temp dir. */
  async stop(): Promise<void> {
    const procs = this.members().flatMap((m) => m.history);
    for (const p of procs) if (p.running) p.proc.kill('SIGCONT');
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 3000)));
    await this.redis?.stop();
    await this.sentinel?.stop();
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}
