import { randomUUID } from 'node:crypto';
import { CascadeError, OriginNotFoundError, StaleIncarnationError, TooManyEdgesError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { DISCOVERY_EVENT_TYPES, type DiscoveryEvent, type StreamOwnerView, type HeartbeatLeaseResult, type HeartbeatLeaseStatus, type StreamMoveReason } from '../types';
import { originFields } from '../views';
import { EventFanout } from './fanout';
import {
  clusterPrefix,
  createRedisClient,
  describeRedisTarget,
  duplicateClient,
  parseRedisUrl,
  quitClient,
  type RedisClient,
  type RedisMode,
} from './redis-connection';
import * as L from './redis-scripts';
import {
  DEFAULT_MAX_AVOIDS,
  DEFAULT_MAX_AVOIDS_PER_ORIGIN,
  streamKey,
  type AvoidEntry,
  type ClaimOptions,
  type ClaimResult,
  type DiscoveryStore,
  type EdgeRecord,
  type EdgeRecordInput,
  type HeartbeatInput,
  type HeartbeatOutcome,
  type Lease,
  type OriginRecord,
  type OriginRecordInput,
  type OwnerHint,
  type StreamPageQuery,
  type StreamPageResult,
} from './types';

export interface RedisStoreOptions {
  /**
   * `redis://[:password@]host:port[/db]` (or `rediss://`), `redis-sentinel://[:password@]h:p[,h:p…]/MASTER_NAME`
   * or `redis-cluster://[:password@]h:p[,h:p…]` (redis-connection.ts). A bad URL throws `RedisUrlError`.
   */
  url: string;
  /**
   * Every key and the event channel start with this. Default `cascade:`. On Redis Cluster a prefix
   * without a hash tag is wrapped in one (`cascade:` → `{cascade}:`): every key in one slot.
   */
  prefix?: string;
  /** A command without an answer fails (STORE_UNAVAILABLE) after this long. Default 500. */
  commandTimeoutMs?: number;
  /** The batched origin heartbeat (one script for all of an origin's leases) may take this long. Default 5000. */
  heartbeatTimeoutMs?: number;
  /** TCP connect timeout. Default 1000. */
  connectTimeoutMs?: number;
  /** How long `connect()` / `subscribe()` wait for Redis before going on degraded. Default 2000. */
  readyTimeoutMs?: number;
  /** Avoid marks one origin id may have running (soonest-ending evicted beyond). Default 10,000. */
  maxAvoidsPerOrigin?: number;
  /** Avoid marks running in total. Default 100,000. */
  maxAvoids?: number;
  logger?: Logger;
}

/** Per-stream token counters live this long after the last claim (`token-max` keeps tokens monotonic beyond). */
const TOKEN_TTL_MS = 24 * 3600_000;
/** Lease hashes are deleted by the sweep; their Redis TTL (lease + this) only guards against leaks. */
const LEASE_GRACE_MS = 60_000;
const SWEEP_BATCH = 500;
/**
 * Reply errors that mean "Redis cannot serve now", not "our script is wrong". MOVED / ASK reach us
 * only when the Cluster client gave up redirecting (or a redis:// URL points at a cluster node); a
 * script stopped mid-way because the cluster went down or the slot moved says so in its message.
 */
const UNAVAILABLE_REPLY =
  /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOREPLICAS|MISCONF|MOVED|ASK)\b|while the cluster is down|non local key in a cluster node/;

type ScriptFn = (...args: Array<string | number | string[]>) => Promise<unknown>;
/** Start of the subscription marker `subscribe()` publishes on Cluster; every store ignores it. */
const SYNC_MARKER = '{"type":"cascade.sync","data":';
/** KEYS[1] routes it to the prefix's slot owner; ARGV: channel, message. */
const SYNC_LUA = "redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1";

/**
 * `DiscoveryStore` on Redis (ioredis). Every write is one Lua script (redis-scripts.ts has the key
 * layout); reads are single commands or read-only scripts. Built to degrade, not crash: no offline
 * queue, one retry, a short command timeout, every `error` event handled, reconnecting forever (at
 * most 1 s apart). While Redis is unreachable every call fails fast with STORE_UNAVAILABLE.
 * Events come from a second connection subscribed to `P events` (made on the first `subscribe`).
 */
export class RedisStore implements DiscoveryStore {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  /** single (redis://, rediss://), sentinel or cluster: from the URL. */
  readonly mode: RedisMode;
  private readonly redis: RedisClient;
  private sub?: RedisClient;
  /** Heartbeats run here: a longer command timeout, and lookups on `redis` never queue behind one. */
  private readonly bulk: RedisClient;
  private readonly heartbeatTimeoutMs: number;
  private subscribed = false;
  /** Counts (re)subscriptions of the event connection (`eventEpoch`). */
  private subscriptions = 0;
  private readonly fanout: EventFanout;
  private readonly log?: Logger;
  private readonly readyTimeoutMs: number;
  private readonly channel: string;
  /** Owner-cache hints (redis-scripts.ts `P owner-hints`), subscribed with the events. */
  private readonly hintChannel: string;
  private readonly hintListeners = new Set<(hint: OwnerHint) => void>();
  /** The URL without credentials: the only form that is logged. */
  private readonly where: string;
  private readonly maxAvoids: { perOrigin: number; total: number };
  private closed = false;
  private lastErrorLog = 0;
  private down = false;

  constructor(opts: RedisStoreOptions) {
    const target = parseRedisUrl(opts.url);
    this.mode = target.mode;
    this.where = describeRedisTarget(target);
    this.maxAvoids = { perOrigin: opts.maxAvoidsPerOrigin ?? DEFAULT_MAX_AVOIDS_PER_ORIGIN, total: opts.maxAvoids ?? DEFAULT_MAX_AVOIDS };
    this.log = opts.logger?.child({ component: 'redis-store' });
    this.fanout = new EventFanout(opts.logger);
    const configured = opts.prefix ?? 'cascade:';
    this.prefix = target.mode === 'cluster' ? clusterPrefix(configured) : configured;
    if (this.prefix !== configured) {
      this.log?.info(
        { configured, prefix: this.prefix },
        'redis cluster: the key prefix has no hash tag; wrapped in one so every key (and every script) is in one slot',
      );
    }
    this.channel = `${this.prefix}events`;
    this.hintChannel = `${this.prefix}owner-hints`;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 2000;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 5000;
    this.redis = createRedisClient(target, { commandTimeoutMs: opts.commandTimeoutMs ?? 500, connectTimeoutMs: opts.connectTimeoutMs ?? 1000 });
    // Every script declares one key, `P origins`, so a Cluster client sends it to the node owning the
    // prefix's slot (the script builds its other keys from P, all in that slot); `script()` passes it.
    for (const s of L.ALL_SCRIPTS) this.redis.defineCommand(s.name, { numberOfKeys: 1, lua: s.lua });
    this.watch(this.redis, 'commands');
    this.bulk = duplicateClient(this.redis, { commandTimeoutMs: this.heartbeatTimeoutMs });
    for (const s of L.ALL_SCRIPTS) this.bulk.defineCommand(s.name, { numberOfKeys: 1, lua: s.lua });
    this.watch(this.bulk, 'heartbeats');
  }

  /** Logs connection trouble without flooding (one line per 10 s while it lasts) and never throws. */
  private watch(conn: RedisClient, role: string): void {
    conn.on('error', (err: Error) => {
      const now = Date.now();
      if (!this.down || now - this.lastErrorLog > 10_000) {
        this.lastErrorLog = now;
        this.log?.warn({ role, url: this.where, err: err.message }, 'redis unavailable; discovery answers 503 to writes and stale reads meanwhile');
      }
      this.down = true;
    });
    conn.on('ready', () => {
      if (this.down) this.log?.info({ role }, 'redis reachable again');
      this.down = false;
    });
  }

  async connect(): Promise<void> {
    if (this.closed) throw unavailable('the redis store is closed');
    await Promise.all([this.whenReady(this.redis), this.whenReady(this.bulk)]);
  }

  /** Waits for the connection to be ready, at most readyTimeoutMs; never throws. */
  private async whenReady(conn: RedisClient): Promise<boolean> {
    if (conn.status === 'ready') return true;
    const ready = await waitFor(conn, 'ready', this.readyTimeoutMs);
    if (!ready) this.log?.warn({ waitedMs: this.readyTimeoutMs }, 'redis not reachable yet; going on degraded (it keeps reconnecting)');
    return ready;
  }

  async upsertOrigin(reg: OriginRecordInput, ttlMs: number): Promise<OriginRecord> {
    const view = originFields(reg);
    const rec = await this.script(L.UPSERT_ORIGIN, reg.id, JSON.stringify(view), Math.max(1, Math.round(ttlMs)), view.state);
    return parseOrigin(String(rec));
  }

  async heartbeat(input: HeartbeatInput, originTtlMs: number, leaseTtlMs: number): Promise<HeartbeatOutcome> {
    const reg = input.origin;
    const view = originFields(reg);
    // One flat argument list (ioredis flattens nested arrays): no spread of 40,000 arguments.
    const leaseArgs: string[] = [];
    for (const l of input.leases) leaseArgs.push(l.app, l.name, l.token !== undefined ? String(l.token) : '', l.since !== undefined ? String(Math.round(l.since)) : '');
    const r = (await this.script(
      L.HEARTBEAT,
      reg.id,
      JSON.stringify(view),
      Math.max(1, Math.round(originTtlMs)),
      view.state,
      reg.incarnation,
      Math.round(reg.startedAt),
      Math.max(1, Math.round(leaseTtlMs)),
      TOKEN_TTL_MS,
      LEASE_GRACE_MS,
      leaseArgs,
    )) as Array<string | number>;
    if (r[0] === 'stale') throw new StaleIncarnationError(reg.id, { incarnation: String(r[1]), startedAt: Number(r[2]) });
    const leases: HeartbeatLeaseResult[] = input.leases.map((l, i) => {
      const [status, token, owner, note] = r.slice(5 + i * 4, 9 + i * 4).map(String);
      return {
        app: l.app,
        name: l.name,
        status: status as HeartbeatLeaseStatus,
        ...(token !== '' ? { token: Number(token) } : {}),
        ...(owner !== '' ? { owner } : {}),
        ...(note === 'TOKEN_AHEAD' ? { note } : {}),
      };
    });
    return { origin: parseOrigin(String(r[1])), leases, released: Number(r[3]), restarted: Number(r[2]) === 1, unknown: Number(r[4]) === 1 };
  }

  async removeOrigin(id: string): Promise<boolean> {
    return Number(await this.script(L.REMOVE_ORIGIN, id)) === 1;
  }

  async getOrigin(id: string): Promise<OriginRecord | null> {
    const text = await this.run(() => this.redis.get(this.key(`origin:${id}`)));
    return text === null ? null : parseOrigin(text);
  }

  async listOrigins(): Promise<OriginRecord[]> {
    return this.run(async () => {
      const ids = await this.redis.zrange(this.key('origins'), 0, -1);
      if (ids.length === 0) return [];
      const texts = await this.redis.mget(ids.map((id) => this.key(`origin:${id}`)));
      return texts.filter((t): t is string => t !== null).map(parseOrigin);
    });
  }

  async claimStream(app: string, name: string, originId: string, leaseMs: number, opts: ClaimOptions = {}): Promise<ClaimResult> {
    const r = (await this.script(
      L.CLAIM,
      streamKey(app, name),
      app,
      name,
      originId,
      Math.max(1, Math.round(leaseMs)),
      opts.breakToken !== undefined ? String(opts.breakToken) : '',
      TOKEN_TTL_MS,
      LEASE_GRACE_MS,
    )) as string[];
    if (r[0] === 'no-origin') throw new OriginNotFoundError(originId);
    if (r[0] === 'conflict') {
      return { conflict: { app, name, originId: r[1], token: Number(r[2]), since: Number(r[3]), expiresAt: Number(r[4]) } };
    }
    const lease: Lease = { app, name, originId, since: Number(r[2]), token: Number(r[1]), expiresAt: Number(r[3]) };
    return r[4] ? { lease, moved: { from: r[5], reason: r[4] as StreamMoveReason } } : { lease };
  }

  async renewStream(app: string, name: string, originId: string, token: number, leaseMs: number): Promise<Lease | null> {
    const r = (await this.script(L.RENEW, streamKey(app, name), originId, String(token), Math.max(1, Math.round(leaseMs)), LEASE_GRACE_MS)) as string[] | null;
    return r ? { app, name, originId, token, since: Number(r[0]), expiresAt: Number(r[1]) } : null;
  }

  async releaseStream(app: string, name: string, originId: string, token: number): Promise<boolean> {
    return Number(await this.script(L.RELEASE, streamKey(app, name), originId, String(token))) === 1;
  }

  async getStream(app: string, name: string): Promise<Lease | null> {
    const r = (await this.script(L.GET_STREAM, streamKey(app, name))) as string[] | null;
    return r ? leaseOf(r, 0) : null;
  }

  async getStreamOwner(app: string, name: string): Promise<{ lease: Lease; origin: OriginRecord } | null> {
    const r = (await this.script(L.GET_STREAM_OWNER, streamKey(app, name))) as string[] | null;
    return r ? { lease: leaseOf(r, 0), origin: parseOrigin(r[6]) } : null;
  }

  async listStreams(): Promise<Lease[]> {
    const out: Lease[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.pageStreams({ limit: 1000, ...(after !== undefined ? { after } : {}) });
      out.push(...page.leases);
      if (page.next === undefined) return out;
      after = page.next;
    }
  }

  async pageStreams(query: StreamPageQuery): Promise<StreamPageResult> {
    const range = lexRange(query.app, query.after);
    if (!range) return { leases: [] };
    const offset = query.offset ?? 0;
    const maxScan = 2000 + 2 * (query.limit + offset);
    const r = (await this.script(L.PAGE_STREAMS, range.min, range.max, query.originId ?? '', query.limit, offset, maxScan)) as string[];
    const leases: Lease[] = [];
    for (let i = 1; i + 5 < r.length; i += 6) leases.push(leaseOf(r, i));
    return r[0] ? { leases, next: r[0] } : { leases };
  }

  async countStreams(): Promise<number> {
    return this.run(() => this.redis.zcard(this.key('leases')));
  }

  async avoidOrigin(app: string, name: string, originId: string, ms: number): Promise<number> {
    return Number(
      await this.script(L.AVOID, streamKey(app, name), originId, Math.max(1, Math.round(ms)), this.maxAvoids.perOrigin, this.maxAvoids.total),
    );
  }

  async getAvoids(app: string, name: string): Promise<AvoidEntry[]> {
    const r = (await this.script(L.GET_AVOIDS, streamKey(app, name))) as string[];
    const out: AvoidEntry[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) out.push({ originId: r[i], until: Number(r[i + 1]) });
    return out;
  }

  async sweep(): Promise<number> {
    let total = 0;
    // A big expiry (a whole rack gone) is cleaned in batches so one script never blocks Redis long.
    for (let round = 0; round < 20; round++) {
      const n = Number(await this.script(L.SWEEP, SWEEP_BATCH));
      total += n;
      if (n < SWEEP_BATCH) break;
    }
    for (let round = 0; round < 20; round++) {
      const n = Number(await this.script(L.SWEEP_EDGES, SWEEP_BATCH));
      total += n;
      if (n < SWEEP_BATCH) break;
    }
    return total;
  }

  async upsertEdge(input: EdgeRecordInput, ttlMs: number, maxEdges: number): Promise<EdgeRecord> {
    const r = (await this.script(L.UPSERT_EDGE, input.id, JSON.stringify(input), Math.max(1, Math.round(ttlMs)), Math.max(0, Math.floor(maxEdges)))) as Array<string | number>;
    if (r[0] === 'full') throw new TooManyEdgesError(input.id, maxEdges);
    return parseEdge(String(r[1]));
  }

  async removeEdge(id: string): Promise<boolean> {
    return Number(await this.script(L.REMOVE_EDGE, id)) === 1;
  }

  async listEdges(): Promise<EdgeRecord[]> {
    return this.run(async () => {
      const ids = await this.redis.zrange(this.key('edges'), 0, -1);
      if (ids.length === 0) return [];
      // Keys expire by PX: an expired edge not swept yet reads as null and is left out.
      const texts = await this.redis.mget(ids.map((id) => this.key(`edge:${id}`)));
      return texts.filter((t): t is string => t !== null).map(parseEdge);
    });
  }

  async subscribe(listener: (event: DiscoveryEvent) => void): Promise<() => void> {
    if (this.closed) throw unavailable('the redis store is closed');
    if (!this.sub) {
      // A Cluster duplicate has its own subscriber connection to one node (PUBLISH reaches every node)
      // and moves it to another node when that one goes; a Sentinel one follows the master.
      const sub = duplicateClient(this.redis);
      this.sub = sub;
      this.watch(sub, 'events');
      // Subscribe on every (re)connect: events published while disconnected are lost, later ones flow.
      sub.on('ready', () => {
        // One SUBSCRIBE for both: hints and events arrive in publish order on this connection.
        sub.subscribe(this.channel, this.hintChannel).then(
          () => {
            this.subscriptions++;
            this.subscribed = true;
            sub.emit('cascade:subscribed');
          },
          (err: unknown) => this.log?.warn({ err: String(err) }, 'redis subscribe failed; retrying on the next reconnect'),
        );
      });
      sub.on('end', () => (this.subscribed = false));
      sub.on('close', () => (this.subscribed = false));
      sub.on('message', (channel: string, message: string) => {
        if (channel === this.hintChannel) {
          const hint = parseHint(message);
          if (hint) {
            for (const listener of this.hintListeners) {
              try {
                listener(hint);
              } catch (err) {
                this.log?.error({ err }, 'owner-cache hint listener threw');
              }
            }
          } else this.log?.warn({ message: message.slice(0, 200) }, 'ignored a malformed owner-cache hint');
          return;
        }
        if (channel !== this.channel) return;
        if (message.startsWith(SYNC_MARKER)) {
          sub.emit('cascade:sync', message);
          return;
        }
        const event = parseEvent(message);
        if (event) this.fanout.emit(event);
        else this.log?.warn({ message: message.slice(0, 200) }, 'ignored a malformed event');
      });
    }
    if (!this.subscribed && !(await waitFor(this.sub, 'cascade:subscribed', this.readyTimeoutMs))) {
      this.log?.warn('event subscription not active yet (redis unreachable); it starts when redis is back');
    } else if (this.mode === 'cluster') {
      await this.syncEvents(this.sub);
    }
    return this.fanout.add(listener);
  }

  onOwnerHints(listener: (hint: OwnerHint) => void): () => void {
    const entry = (hint: OwnerHint): void => listener(hint);
    this.hintListeners.add(entry);
    return () => {
      this.hintListeners.delete(entry);
    };
  }

  eventEpoch(): number | null {
    return this.subscribed && !this.closed ? this.subscriptions : null;
  }

  /**
   * Cluster: a PUBLISH reaches a subscriber on another node over the cluster bus, tens of ms after the
   * slot owner ran the script, so an event published before `subscribe()` could still arrive after
   * it. The slot owner publishes a marker after our SUBSCRIBE; it travels behind every earlier event,
   * so a listener added once it arrives hears exactly the events published after `subscribe()`.
   * Never throws (the listener is added anyway; it may then hear a few older events).
   */
  private async syncEvents(sub: RedisClient): Promise<void> {
    const marker = `${SYNC_MARKER}${JSON.stringify({ nonce: randomUUID() })}}`;
    let onSync: (message: string) => void = () => undefined;
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.readyTimeoutMs);
      onSync = (message) => {
        if (message !== marker) return;
        clearTimeout(timer);
        resolve(true);
      };
      sub.on('cascade:sync', onSync);
    });
    try {
      await this.run(() => this.redis.eval(SYNC_LUA, 1, this.key('origins'), this.channel, marker));
      if (!(await arrived)) this.log?.warn('event subscription sync marker did not arrive in time; going on');
    } catch (err) {
      this.log?.warn({ err: String(err) }, 'event subscription sync failed; going on');
    } finally {
      sub.off('cascade:sync', onSync);
    }
  }

  async ping(): Promise<void> {
    // Cluster: ask the node owning the prefix's slot (a PING answered by any node says nothing about it).
    await this.run<unknown>(() => (this.mode === 'cluster' ? this.redis.exists(this.key('origins')) : this.redis.ping()));
  }

  /** Idempotent: quits both connections (or drops them if Redis does not answer). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fanout.clear();
    await Promise.all([this.redis, this.sub, this.bulk].filter((c): c is RedisClient => c !== undefined).map(quitClient));
  }

  /** `P<suffix>` */
  key(suffix: string): string {
    return this.prefix + suffix;
  }

  /** Runs a script with KEYS[1] = `P origins` (routes it to the prefix's slot) and ARGV = P, ...args. */
  private async script(def: L.ScriptDef, ...args: Array<string | number | string[]>): Promise<unknown> {
    const conn = def === L.HEARTBEAT || def === L.UPSERT_EDGE ? this.bulk : this.redis;
    const fn = (conn as unknown as Record<string, ScriptFn>)[def.name];
    return this.run(() => fn.call(conn, this.key('origins'), this.prefix, ...args));
  }


  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw unavailable('the redis store is closed');
    try {
      return await fn();
    } catch (err) {
      throw storeError(err);
    }
  }
}

/** true once `event` fires, false after `ms` (error events in between are not a failure: ioredis retries). */
function waitFor(emitter: RedisClient, event: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('end', onEnd);
      resolve(ok);
    };
    const onEvent = (): void => done(true);
    const onEnd = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    emitter.on(event, onEvent);
    emitter.on('end', onEnd);
  });
}

function unavailable(message: string): CascadeError {
  return new CascadeError('STORE_UNAVAILABLE', message);
}

/** Connection trouble → STORE_UNAVAILABLE (503); a Redis reply error that is not about availability is a bug (500). */
export function storeError(err: unknown): Error {
  if (err instanceof CascadeError) return err;
  const e = err as { name?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(message)) return err instanceof Error ? err : new Error(message);
  if (e?.name === 'ReplyError' && /^(MOVED|ASK)\b/.test(message)) return unavailable(`redis: ${message} (a Redis Cluster node: use a redis-cluster:// URL)`);
  return unavailable(`redis: ${message}`);
}

/** ZRANGEBYLEX bounds for an optional app and an exclusive start key; null when the range is empty. */
export function lexRange(app: string | undefined, after: string | undefined): { min: string; max: string } | null {
  // `/` + 1 is `0`: `app/` ≤ key < `app0` are exactly the keys of this app.
  let min = app !== undefined ? `[${app}/` : '-';
  const max = app !== undefined ? `(${app}0` : '+';
  if (after !== undefined) {
    if (app === undefined || after >= `${app}/`) min = `(${after}`;
    if (app !== undefined && after >= `${app}0`) return null;
  }
  return { min, max };
}

function leaseOf(r: string[], i: number): Lease {
  return { app: r[i], name: r[i + 1], originId: r[i + 2], token: Number(r[i + 3]), since: Number(r[i + 4]), expiresAt: Number(r[i + 5]) };
}

function parseOrigin(text: string): OriginRecord {
  const o = JSON.parse(text) as OriginRecord;
  return { ...o, load: { ...(o.load ?? {}) } };
}

function parseEdge(text: string): EdgeRecord {
  const e = JSON.parse(text) as EdgeRecord;
  return { ...e, load: { ...e.load }, streams: Array.isArray(e.streams) ? e.streams : [] };
}

const EVENT_TYPES = new Set<string>(DISCOVERY_EVENT_TYPES);

/** An owner-cache hint (redis-scripts.ts `hint`), or null if malformed. */
export function parseHint(message: string): OwnerHint | null {
  try {
    const h = JSON.parse(message) as Record<string, unknown>;
    if (h.owner !== undefined) {
      const v = h.owner as Partial<StreamOwnerView> | null;
      const o = v?.origin;
      const ok =
        typeof v?.app === 'string' && typeof v.name === 'string' && typeof v.since === 'number' && typeof v.token === 'number' &&
        typeof o?.id === 'string' && typeof o.rtmp === 'string' && typeof o.http === 'string' && typeof h.until === 'number' && Number.isFinite(h.until);
      if (!ok || !v || !o) return null;
      return { owner: { app: v.app as string, name: v.name as string, origin: { id: o.id, rtmp: o.rtmp, http: o.http }, since: v.since as number, token: v.token as number }, until: h.until as number };
    }
    if (typeof h.stream === 'string') return { stream: h.stream };
    if (typeof h.origin === 'string') return { origin: h.origin };
    if (typeof h.renewed === 'string' && typeof h.until === 'number' && Number.isFinite(h.until)) return { renewed: h.renewed, until: h.until };
    return null;
  } catch {
    return null;
  }
}

export function parseEvent(message: string): DiscoveryEvent | null {
  try {
    const e = JSON.parse(message) as { type?: unknown; data?: unknown };
    if (typeof e.type !== 'string' || !EVENT_TYPES.has(e.type) || e.data === null || typeof e.data !== 'object') return null;
    return e as DiscoveryEvent;
  } catch {
    return null; // the subscriber logs what it ignores ('ignored a malformed event')
  }
}
