import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from '../../common/config';

/**
 * Where the Redis store lives, from `redisUrl`, and the ioredis client for it. Three forms:
 *
 * | URL | mode | client |
 * | --- | --- | --- |
 * | `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS) | single | `new Redis({host, port, db})` |
 * | `redis-sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER_NAME` | sentinel | `new Redis({sentinels, name})` |
 * | `redis-cluster://[[user]:password@]host[:port][,host[:port]…]` | cluster | `new Redis.Cluster(nodes)` |
 *
 * Default ports: 6379, sentinels 26379. The password is the data nodes' (master, replicas, cluster
 * nodes); sentinels are reached without one. Query strings are refused (options are Cascade's).
 * Nothing here ever puts a password (or a user name) into an error message or a log field:
 * `describeRedisTarget` and `redactRedisUrl` are the only forms of a URL that may be logged.
 */

export type RedisMode = 'single' | 'sentinel' | 'cluster';

export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTarget =
  | ({ mode: 'single'; node: HostPort; db: number; tls: boolean } & Credentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; name: string } & Credentials)
  | ({ mode: 'cluster'; nodes: HostPort[] } & Credentials);

export type RedisClient = Redis | Cluster;

/** A `redisUrl` that cannot be used; the message names the problem and never holds the password. */
export class RedisUrlError extends ConfigError {
  constructor(url: string, problem: string) {
    super(`invalid redisUrl ${JSON.stringify(redactRedisUrl(url))}: ${problem}`);
    this.name = 'RedisUrlError';
  }
}

const SCHEMES: Record<string, { mode: RedisMode; tls: boolean; defaultPort: number }> = {
  redis: { mode: 'single', tls: false, defaultPort: 6379 },
  rediss: { mode: 'single', tls: true, defaultPort: 6379 },
  'redis-sentinel': { mode: 'sentinel', tls: false, defaultPort: 26379 },
  'redis-cluster': { mode: 'cluster', tls: false, defaultPort: 6379 },
};

const FORMS = 'redis://[:password@]host:port[/db], rediss://…, redis-sentinel://[:password@]host:port[,host:port…]/MASTER_NAME or redis-cluster://[:password@]host:port[,host:port…]';
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const MASTER_NAME = /^[A-Za-z0-9._-]+$/;

/** Parses and checks a `redisUrl`; throws `RedisUrlError` naming the problem. */
export function parseRedisUrl(url: string): RedisTarget {
  const fail = (problem: string): never => {
    throw new RedisUrlError(url, problem);
  };
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!m) return fail(`expected ${FORMS}`);
  const scheme = SCHEMES[m[1].toLowerCase()];
  if (!scheme) return fail(`unsupported scheme "${m[1]}:" (expected ${FORMS})`);
  let rest = m[2];

  // Credentials end at the last '@', so an unencoded '/', '?' or '@' in a password still parses.
  const creds: Credentials = {};
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    const pass = colon >= 0 ? userinfo.slice(colon + 1) : '';
    try {
      if (user) creds.username = decodeURIComponent(user);
      if (pass) creds.password = decodeURIComponent(pass);
    } catch {
      return fail('the credentials are not valid percent-encoding (encode special characters, e.g. % as %25)');
    }
    if (colon < 0 && user) return fail('credentials need a colon: use redis://:password@host (or user:password@)');
  }

  if (/[?#]/.test(rest)) return fail('query strings and fragments are not supported');
  const slash = rest.indexOf('/');
  const hostList = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  if (hostList === '') return fail('no host');
  const hosts = hostList.split(',').map((h, i) => parseHostPort(h, scheme.defaultPort, (problem) => fail(`host ${i + 1}: ${problem}`)));

  if (scheme.mode === 'single') {
    if (hosts.length > 1) fail('redis:// takes one host; for several use redis-sentinel:// or redis-cluster://');
    let db = 0;
    if (path !== '') {
      if (!/^\d{1,9}$/.test(path)) fail(`the database must be a number (got "${path}")`);
      db = Number(path);
    }
    return { mode: 'single', node: hosts[0], db, tls: scheme.tls, ...creds };
  }
  if (scheme.mode === 'sentinel') {
    if (path === '') fail('the master name is missing: redis-sentinel://host:port[,host:port…]/MASTER_NAME');
    if (!MASTER_NAME.test(path)) fail(`the master name must be letters, digits, '.', '_' or '-' (a database number is not supported)`);
    return { mode: 'sentinel', sentinels: dedupe(hosts), name: path, ...creds };
  }
  if (path !== '') fail('redis-cluster:// takes no path or database number (a cluster only has database 0)');
  return { mode: 'cluster', nodes: dedupe(hosts), ...creds };
}

function parseHostPort(text: string, defaultPort: number, fail: (problem: string) => never): HostPort {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail('an IPv6 address needs a closing "]"');
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return fail('expected ":port" after "]"');
    portText = after === '' ? undefined : after.slice(1);
    if (!IPV6.test(host) || !host.includes(':')) return fail('not an IPv6 address');
  } else {
    const colon = text.lastIndexOf(':');
    host = colon >= 0 ? text.slice(0, colon) : text;
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
    if (host === '') return fail('empty host name');
    if (!HOST_NAME.test(host)) return fail(`"${host}" is not a host name or IPv4 address`);
  }
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return fail(`the port must be 1-65535 (got "${portText}")`);
  return { host, port: Number(portText) };
}

function dedupe(hosts: HostPort[]): HostPort[] {
  const seen = new Set<string>();
  return hosts.filter((h) => {
    const k = `${h.host}:${h.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function hostPortText(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** The target as a URL that is safe to log: credentials (if any) shown as `***`. */
export function describeRedisTarget(t: RedisTarget): string {
  const creds = t.username !== undefined || t.password !== undefined ? '***@' : '';
  switch (t.mode) {
    case 'single':
      return `${t.tls ? 'rediss' : 'redis'}://${creds}${hostPortText(t.node)}/${t.db}`;
    case 'sentinel':
      return `redis-sentinel://${creds}${t.sentinels.map(hostPortText).join(',')}/${t.name}`;
    case 'cluster':
      return `redis-cluster://${creds}${t.nodes.map(hostPortText).join(',')}`;
  }
}

/** Any string given as a Redis URL, safe to log: what sits before the last '@' after the scheme is `***`, a query is dropped. */
export function redactRedisUrl(url: string): string {
  let out = url;
  const at = out.lastIndexOf('@');
  if (at >= 0) {
    const s = out.indexOf('://');
    const start = s >= 0 && s < at ? s + 3 : 0;
    out = `${out.slice(0, start)}***${out.slice(at)}`;
  }
  const q = out.search(/[?#]/);
  return q < 0 ? out : `${out.slice(0, q)}?…`;
}

/**
 * The hash tag that fixes the Redis Cluster slot of every key starting with `prefix`, or null.
 * Redis hashes the text between the first `{` and the first `}` after it when that is not empty.
 */
export function prefixHashTag(prefix: string): string | null {
  const open = prefix.indexOf('{');
  if (open < 0) return null;
  const close = prefix.indexOf('}', open + 1);
  return close < 0 || close === open + 1 ? null : prefix.slice(open + 1, close);
}

/**
 * The prefix to use on Redis Cluster: `prefix` itself when it already fixes the slot, otherwise
 * the prefix wrapped in a hash tag (`cascade:` → `{cascade}:`), so every key is in one slot.
 */
export function clusterPrefix(prefix: string): string {
  if (prefixHashTag(prefix) !== null) return prefix;
  const body = prefix.length > 1 && prefix.endsWith(':') ? prefix.slice(0, -1) : prefix;
  const wrapped = `{${body}}${prefix.slice(body.length)}`;
  return prefixHashTag(wrapped) !== null ? wrapped : `{cascade}${prefix}`;
}

export interface ClientTuning {
  /** A command without an answer fails after this long. */
  commandTimeoutMs: number;
  /** TCP connect timeout (also a Sentinel query's timeout). */
  connectTimeoutMs: number;
}

/** Reconnect forever, quickly: discovery must recover by itself when Redis returns. */
const retry = (times: number): number => Math.min(50 * times, 1000);

/**
 * What every connection to a data node gets: fail fast (no offline queue, one retry, a short
 * command timeout, commands in flight on a dropped connection are not replayed later) and
 * reconnect when a demoted master answers READONLY (Sentinel failover).
 */
function nodeOptions(t: RedisTarget, tuning: ClientTuning): RedisOptions {
  return {
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    commandTimeout: tuning.commandTimeoutMs,
    connectTimeout: tuning.connectTimeoutMs,
    // ioredis waits this long for a dropped socket's 'close' (which a refused socket never sends) on
    // disconnect; its 2 s default kept the process alive that long after stop().
    disconnectTimeout: 200,
    reconnectOnError: (err) => /^READONLY\b/.test(err.message),
  };
}

/** The ioredis client for `target` (it connects at once and reconnects forever). */
export function createRedisClient(target: RedisTarget, tuning: ClientTuning): RedisClient {
  const node = nodeOptions(target, tuning);
  switch (target.mode) {
    case 'single':
      return new Redis({
        ...node,
        host: target.node.host,
        port: target.node.port,
        db: target.db,
        ...(target.tls ? { tls: {} } : {}),
        lazyConnect: false,
        enableOfflineQueue: false,
        retryStrategy: retry,
      });
    case 'sentinel':
      return new Redis({
        ...node,
        sentinels: target.sentinels.map((s) => ({ ...s })),
        name: target.name,
        role: 'master',
        lazyConnect: false,
        enableOfflineQueue: false,
        retryStrategy: retry,
        // All sentinels unreachable: ask again, at most 1 s apart; a sentinel that hangs is skipped.
        sentinelRetryStrategy: retry,
        sentinelCommandTimeout: tuning.connectTimeoutMs,
        // Reconnect as soon as a sentinel announces +switch-master. Without it a client stays on the old
        // master until the sentinels demote it (CLIENT KILL), ~10 s after a SENTINEL FAILOVER (their
        // INFO period), and every write it makes meanwhile is lost. It reconnects once more for each
        // sentinel that learns of the switch later: a few short blips of STORE_UNAVAILABLE.
        failoverDetector: true,
      });
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: false,
        enableOfflineQueue: false,
        clusterRetryStrategy: retry,
        // ioredis retries MOVED / ASK / TRYAGAIN / CLUSTERDOWN / a dropped node itself, within the
        // command timeout; what is left after that is STORE_UNAVAILABLE.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 16,
        slotsRefreshTimeout: tuning.connectTimeoutMs,
        slotsRefreshInterval: 2000,
        redisOptions: node,
      };
      return new Cluster(
        target.nodes.map((n) => ({ ...n })),
        options,
      );
    }
  }
}

/**
 * Another client to the same target with the same options (a different command timeout if given),
 * for pub/sub or long scripts. A Cluster duplicate has its own subscriber connection, which moves to
 * another node by itself; a Sentinel one follows the master on its own.
 */
export function duplicateClient(client: RedisClient, overrides: { commandTimeoutMs?: number } = {}): RedisClient {
  const timeout = overrides.commandTimeoutMs !== undefined ? { commandTimeout: overrides.commandTimeoutMs } : {};
  if (client instanceof Cluster) return client.duplicate([], { redisOptions: { ...client.options.redisOptions, ...timeout } });
  return client.duplicate({ autoResubscribe: false, ...timeout });
}

/** Quits a client (or drops it if Redis does not answer within 500 ms); never throws. */
export async function quitClient(conn: RedisClient): Promise<void> {
  if (conn.status !== 'end') {
    if (conn.status !== 'ready') {
      conn.disconnect();
    } else {
      const timer = setTimeout(() => conn.disconnect(), 500);
      try {
        await conn.quit();
      } catch {
        conn.disconnect(); // QUIT failed (the link is going anyway): closing the socket is what we wanted
      } finally {
        clearTimeout(timer);
      }
    }
  }
  // QUIT leaves a Sentinel client's failover detector (its subscriptions to every sentinel)
  // connected; only disconnect() ends them.
  if (!(conn instanceof Cluster) && conn.options.failoverDetector) conn.disconnect();
}
