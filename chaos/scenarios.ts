/**
 * The faults, one per scenario (docs/chaos.md: what must hold, and docs/discovery.md "Leases v2"). Each `fault` injects its fault
 * and heals it the way an operator's supervision would (restart on the same port, SIGCONT, a
 * failover finishing); the runner measures from the fault and from the heal.
 */
import type { ChaosCluster, Member, StoreKind } from './cluster';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FaultContext {
  cluster: ChaosCluster;
  /** The origin owning stream A (origin-1) and the one owning stream B (origin-2). */
  ownerA: Member;
  ownerB: Member;
  /** Kills (or freezes / thaws) a member and remembers that it was done on purpose. */
  signal(m: Member, sig: NodeJS.Signals): Promise<void>;
  /** Starts a killed member again on its ports (as the supervising launcher does). */
  restart(m: Member): Promise<void>;
}

export interface ScenarioSpec {
  name: string;
  /** One line for the docs and the JSON. */
  title: string;
  store: StoreKind;
  /** Injects the fault and heals it; resolves when healed (that instant is `healedAt`). */
  fault(ctx: FaultContext): Promise<void>;
}

/** How long the SIGSTOP scenarios keep a process frozen (the deliberate, fixed durations of the brief). */
export const FREEZE_MS = { store: 10_000, discovery: 10_000, origin: 3_000 } as const;

export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'owner-sigkill',
    title: 'SIGKILL the origin owning stream A (not restarted); its encoder re-pushes to the surviving origin.',
    store: 'memory',
    fault: async (ctx) => ctx.signal(ctx.ownerA, 'SIGKILL'),
  },
  {
    name: 'edge-sigkill',
    title: 'SIGKILL the edge and start it again on the same ports; viewers reconnect.',
    store: 'memory',
    fault: async (ctx) => {
      await ctx.signal(ctx.cluster.edge, 'SIGKILL');
      await ctx.restart(ctx.cluster.edge);
    },
  },
  {
    name: 'discovery-sigkill-memory',
    title: 'SIGKILL discovery (memory store: every lease is gone) and start it again on the same port.',
    store: 'memory',
    fault: async (ctx) => {
      await ctx.signal(ctx.cluster.discovery, 'SIGKILL');
      await ctx.restart(ctx.cluster.discovery);
    },
  },
  {
    name: 'discovery-sigkill-redis',
    title: 'SIGKILL discovery (Redis store keeps the leases) and start it again on the same port.',
    store: 'redis',
    fault: async (ctx) => {
      await ctx.signal(ctx.cluster.discovery, 'SIGKILL');
      await ctx.restart(ctx.cluster.discovery);
    },
  },
  {
    name: 'redis-restart-empty',
    title: 'SIGKILL the private redis-server and start a fresh, empty one on the same port.',
    store: 'redis',
    fault: async (ctx) => {
      const redis = need(ctx.cluster.redis, 'redis');
      await redis.kill();
      await redis.start();
    },
  },
  {
    name: 'redis-flushall',
    title: 'FLUSHALL on the private Redis (every key gone, Redis stays up).',
    store: 'redis',
    fault: async (ctx) => {
      await need(ctx.cluster.redis, 'redis').command('FLUSHALL');
    },
  },
  {
    name: 'redis-sigstop-10s',
    title: 'SIGSTOP the private redis-server for 10 s, then SIGCONT (keys whose TTL ran out meanwhile expire at once).',
    store: 'redis',
    fault: async (ctx) => {
      const redis = need(ctx.cluster.redis, 'redis');
      redis.signal('SIGSTOP');
      await sleep(FREEZE_MS.store);
      redis.signal('SIGCONT');
    },
  },
  {
    name: 'discovery-sigstop-10s',
    title: 'SIGSTOP discovery (memory store) for 10 s, then SIGCONT: origins miss several heartbeats.',
    store: 'memory',
    fault: async (ctx) => {
      await ctx.signal(ctx.cluster.discovery, 'SIGSTOP');
      await sleep(FREEZE_MS.discovery);
      await ctx.signal(ctx.cluster.discovery, 'SIGCONT');
    },
  },
  {
    name: 'origin-stall-3s',
    title: 'SIGSTOP the origin owning stream A for 3 s, then SIGCONT: it must keep its lease, not fight for it.',
    store: 'memory',
    fault: async (ctx) => {
      await ctx.signal(ctx.ownerA, 'SIGSTOP');
      await sleep(FREEZE_MS.origin);
      await ctx.signal(ctx.ownerA, 'SIGCONT');
    },
  },
  {
    name: 'sentinel-failover',
    title: 'SENTINEL FAILOVER: the replica becomes the master (discovery on redis-sentinel://).',
    store: 'sentinel',
    fault: async (ctx) => {
      await need(ctx.cluster.sentinel, 'sentinel').failover();
    },
  },
];

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`this scenario needs a ${what} store`);
  return v;
}

/** Scenarios by name, in suite order; throws on an unknown name. */
export function selectScenarios(names: readonly string[] | undefined): ScenarioSpec[] {
  if (!names || names.length === 0) return [...SCENARIOS];
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}
