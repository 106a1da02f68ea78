import { Type, Static } from '@sinclair/typebox';
import { ConfigError, loadConfig, LoadOptions } from '../common/config';
import { checkMemberSecurity, clusterSecretField, originHostsField } from '../common/member-config';
import { HostAllowlist } from '../common/host-allowlist';
import { parseRedisUrl } from './store/redis-connection';

const Level = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info', description: 'pino log level.' },
);

export const DiscoveryConfigSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'Address the HTTP API binds to.' }),
  port: Type.Integer({ default: 8090, minimum: 0, maximum: 65535, description: 'HTTP API port (0: any free port).' }),
  originTtlMs: Type.Integer({ default: 6000, minimum: 100, description: 'An origin registration expires this long after its last heartbeat; its leases are dropped then.' }),
  leaseTtlMs: Type.Integer({ default: 6000, minimum: 100, description: 'A stream lease expires this long after its last claim/renew.' }),
  store: Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
    default: 'memory',
    description: 'Stream store: memory (one process, state lost on restart) or redis (shared by every discovery replica).',
  }),
  redisUrl: Type.String({
    default: 'redis://127.0.0.1:6379',
    pattern: '^(rediss?|redis-sentinel|redis-cluster)://',
    description:
      'Redis for `store: redis`: redis://[:password@]host:port[/db] (or rediss:// for TLS), redis-sentinel://[:password@]host:port[,host:port…]/MASTER_NAME (Sentinel), or redis-cluster://[:password@]host:port[,host:port…] (Cluster: every key in one slot). docs/discovery.md "Redis HA".',
  }),
  redisPrefix: Type.String({ default: 'cascade:', minLength: 1, maxLength: 64, pattern: '^[^\\s*?\\[\\]]+$', description: 'Prefix of every Redis key and of the event channel.' }),
  redisCommandTimeoutMs: Type.Integer({ default: 500, minimum: 50, maximum: 10000, description: 'A Redis command without an answer fails (503 STORE_UNAVAILABLE) after this long.' }),
  sweepIntervalMs: Type.Integer({
    default: 500,
    minimum: 50,
    maximum: 10000,
    description: 'How often expired origins (with their leases) and expired leases are deleted and announced (origin.down, stream.released); the memory store sleeps until its next expiry instead, announcing it no later.',
  }),
  logLevel: Level,
  heartbeatBodyLimit: Type.Integer({
    default: 8 * 1024 * 1024,
    minimum: 1024,
    maximum: 64 * 1024 * 1024,
    description: 'Largest accepted origin heartbeat body in bytes (it lists every lease of the origin: 10,000 streams need about 1 MiB).',
  }),
  bodyLimit: Type.Integer({ default: 65536, minimum: 1024, maximum: 16 * 1024 * 1024, description: 'Largest accepted request body in bytes (413 above).' }),
  clusterSecret: clusterSecretField('Origins prove their id with a credential derived from it; edges read with theirs.'),
  insecureOpen: Type.Boolean({
    default: false,
    description: 'Let a discovery on a non-loopback address start without any credential (no clusterSecret, no apiTokens): anyone who reaches it could then take over every stream. Off: such a start is refused (protected mode).',
  }),
  apiTokens: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Admin bearer tokens, accepted on every route (comma-separated or JSON in env/flags; at least 16 characters each, placeholders refused). Empty: none.',
  }),
  readTokens: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Bearer tokens accepted on read routes when protectReads is on (a read token on a write route is 403 FORBIDDEN).',
  }),
  protectReads: Type.Boolean({
    default: false,
    description: 'Require a read or API token on reads (lookups, lists, events, placement, metrics, the SRS clusters API). /healthz and /docs stay open.',
  }),
  originHosts: originHostsField('Hosts an origin may advertise in its rtmp/http URLs (registration is refused with 400 otherwise); the liveness probe only goes to these.'),
  livenessCheck: Type.Boolean({
    default: true,
    description: 'On a conflicting claim, GET the owner\'s http URL + /healthz; when it does not answer, break its lease and give the stream to the claimant. Needs discovery to reach origins\' http addresses.',
  }),
  livenessTimeoutMs: Type.Integer({ default: 300, minimum: 20, maximum: 5000, description: 'An owner that does not answer /healthz within this long counts as dead.' }),
  highWater: Type.Number({ default: 0.85, exclusiveMinimum: 0, maximum: 1, description: 'Placement skips origins whose weight utilisation is at or above this (0..1).' }),
  defaultCapacity: Type.Number({ default: 48, minimum: 0, description: 'Weight capacity assumed for an origin that registers none (cores × 12; 48 = 4 cores).' }),
  weightPerMbps: Type.Number({ default: 1, minimum: 0, description: 'Weight of each started Mbit/s of a stream\'s ingest (placement cost).' }),
  viewersPerWeight: Type.Integer({ default: 6, minimum: 1, description: 'Viewers per weight unit of fan-out (placement cost: ceil(viewers / this)).' }),
  placementStrategy: Type.Union([Type.Literal('p2c'), Type.Literal('least-loaded')], {
    default: 'p2c',
    description: 'p2c: power-of-two-choices on utilisation (spreads bursts across replicas); least-loaded: always the lowest score.',
  }),
  regionPolicy: Type.Union([Type.Literal('prefer'), Type.Literal('require')], {
    default: 'prefer',
    description: 'A placement region: prefer (stay in it when an origin there can take the stream) or require (only that region).',
  }),
  ownerCacheMs: Type.Integer({
    default: 30000,
    minimum: 0,
    maximum: 3600000,
    description:
      'Stream lookups (GET /v1/streams/:app/:name, the SRS coworker lookup) on the Redis store answer from a local cache, invalidated by store events, owner-cache hints and this replica\'s writes, never past the lease\'s or registration\'s expiry (moved forward by the owner\'s heartbeats); this caps how long one read is served (what nothing announces: a store that lost its state without a reconnect, clock skew). Not used while the event subscription is down. 0: off. docs/discovery.md "Owner cache".',
  }),
  staleCacheMs: Type.Integer({
    default: 30000,
    minimum: 0,
    maximum: 3600000,
    description: 'While the store is unreachable, reads answer from answers this recent, marked stale (X-Cascade-Stale: 1). 0: no stale reads.',
  }),
  maxAvoidsPerOrigin: Type.Integer({
    default: 10000,
    minimum: 1,
    description: 'Placement avoid marks (POST /v1/streams/:app/:name/avoid, one per shed stream) one origin id may have running; beyond, its soonest-ending (oldest) marks are evicted.',
  }),
  maxAvoids: Type.Integer({ default: 100000, minimum: 1, description: 'Placement avoid marks running in total, all origins; beyond, the soonest-ending (oldest) are evicted.' }),
  maxEventStreams: Type.Integer({
    default: 256,
    minimum: 1,
    maximum: 100000,
    description: 'Open GET /v1/events streams at most (each holds a socket and up to 1 MiB of unsent output). Beyond: 503 TOO_MANY_CONNECTIONS with Retry-After. Every edge holds one.',
  }),
  edgeTtlMs: Type.Integer({
    default: 15000,
    minimum: 100,
    maximum: 3600000,
    description: 'An edge (POST /v1/edges/:id/heartbeat) is gone this long after its last heartbeat: left out of GET /v1/edges and /v1/cluster, edge.down announced.',
  }),
  maxEdges: Type.Integer({ default: 1000, minimum: 1, maximum: 100000, description: 'Live edges discovery tracks at most; a heartbeat of a new edge id beyond is 429 TOO_MANY_EDGES.' }),
  edgeHosts: Type.Array(Type.String({ minLength: 1 }), {
    default: ['loopback', 'private'],
    description: 'Hosts an edge may advertise in its heartbeat\'s rtmp/http URLs (400 otherwise): the console links players there. Same entries as originHosts.',
  }),
  clusterMediaTimeoutMs: Type.Integer({
    default: 800,
    minimum: 50,
    maximum: 10000,
    description: 'GET /v1/cluster asks each owner origin\'s node API (/api/v1/streams) for codecs and bitrates; an origin slower than this is left without media.',
  }),
  clusterMediaCacheMs: Type.Integer({ default: 2000, minimum: 0, maximum: 60000, description: 'Each origin\'s media answer is reused this long by GET /v1/cluster.' }),
  adminActionTimeoutMs: Type.Integer({
    default: 5000,
    minimum: 100,
    maximum: 60000,
    description: 'Admin actions (POST /v1/admin/...) forwarded to an origin fail with 502 BAD_GATEWAY when it does not answer within this long.',
  }),
  sseHeartbeatMs: Type.Integer({ default: 15000, minimum: 100, maximum: 300000, description: 'A comment line on every /v1/events stream this often (keeps proxies from closing idle streams).' }),
});

export type DiscoveryConfig = Static<typeof DiscoveryConfigSchema>;

export function loadDiscoveryConfig(opts: LoadOptions = {}): DiscoveryConfig {
  const config = loadConfig(DiscoveryConfigSchema, opts);
  checkDiscoveryConfig(config);
  return config;
}

/** Rules across keys that a schema cannot say. */
export function checkDiscoveryConfig(config: DiscoveryConfig): void {
  // The whole URL (hosts, ports, db, master name) at startup, not on the first connect; throws RedisUrlError.
  if (config.store === 'redis') parseRedisUrl(config.redisUrl);
  checkMemberSecurity(config);
  if (!config.insecureOpen && config.clusterSecret === '' && config.apiTokens.length === 0 && !new HostAllowlist(['loopback']).allows(config.host)) {
    throw new ConfigError(
      `discovery would listen on ${config.host} without credentials, so anyone who reaches it could register origins and take over streams. ` +
        'Set CASCADE_CLUSTER_SECRET (openssl rand -hex 32; the same on discovery, origins and edges), or CASCADE_API_TOKENS, or bind to 127.0.0.1 (--host 127.0.0.1). ' +
        'To run open anyway (not recommended): --insecure-open.',
    );
  }
  if (config.protectReads && config.readTokens.length === 0 && config.apiTokens.length === 0) {
    throw new ConfigError('protectReads needs readTokens or apiTokens (no token could read anything)');
  }
}
