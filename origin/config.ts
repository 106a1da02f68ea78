import { Type, Static } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { ConfigError, envName, flagName, loadConfig, type LoadOptions } from '../common/config';
import { placeholderProblem } from '../common/cluster-credentials';
import { checkMemberSecurity, clusterSecretField } from '../common/member-config';
import { HlsConfigFields } from '../mediaserver/hls-config';
import { DEFAULT_SIGNED_URL_MAX_TTL_S, MAX_SIGNED_URL_MAX_TTL_S, MIN_SIGNED_URL_MAX_TTL_S } from '../common/signed-url';
import { ConnectionLimitFields } from '../mediaserver/limits-config';

const HookUrl = (action: string, what: string) =>
  Type.String({ default: '', pattern: '^(https?://\\S+)?$', description: `SRS-style \`${action}\` webhook URL (POST JSON; ${what}). Empty: off.` });
const Secret = (description: string) => Type.String({ default: '', description: `${description} Empty: off. At least 16 characters; prefer the env var to the flag (keeps it out of ps).` });

export const OriginConfigSchema = Type.Object({
  id: Type.String({ default: 'origin-1', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Unique origin id in discovery.' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address the RTMP and HTTP listeners bind to.' }),
  publicHost: Type.String({ default: '127.0.0.1', description: 'Host name edges and players use to reach this origin (advertised in discovery and redirects).' }),
  rtmpPort: Type.Integer({ default: 1936, minimum: 1, maximum: 65535, description: 'RTMP listener (publish and play).' }),
  httpPort: Type.Integer({ default: 8081, minimum: 1, maximum: 65535, description: 'HTTP listener (HTTP-FLV, health, API).' }),
  discoveryUrl: Type.String({ default: 'http://127.0.0.1:8090', description: 'Base URL of the discovery service.' }),
  discoveryToken: Type.String({ default: '', description: 'Legacy: bearer token for discovery writes, for a discovery without clusterSecret (empty: none; at least 16 characters, placeholders refused). With clusterSecret set, the origin sends its own credential instead (docs/security.md).' }),
  clusterSecret: clusterSecretField('The origin derives its credential for discovery from it and accepts edge pulls carrying an edge credential.'),
  region: Type.String({ default: '', description: 'Region label used by placement.' }),
  capacity: Type.Integer({ default: 0, minimum: 0, description: 'Weight capacity (docs/design.md section 4); 0 means cores × 12.' }),
  highWater: Type.Number({ default: 0.85, minimum: 0.05, maximum: 1, description: 'Utilisation (weight / capacity) at or above which new publishers are refused and, if sustained, shedding starts.' }),
  lowWater: Type.Number({ default: 0.7, minimum: 0, maximum: 1, description: 'Shedding stops once utilisation is at or below this (hysteresis).' }),
  shedSustainMs: Type.Integer({ default: 3000, minimum: 0, description: 'Utilisation must stay above high-water this long before a publisher is shed.' }),
  shedCooldownMs: Type.Integer({ default: 10000, minimum: 0, description: 'At most one shed per cooldown; a shed stream is kept off this origin this long (placement avoid mark).' }),
  weightPerMbit: Type.Number({ default: 1, minimum: 0, description: 'Weight units per started Mbit/s of ingest (docs/design.md section 4).' }),
  reconnectWaitMs: Type.Integer({ default: 5000, minimum: 0, description: 'After an E-RTMP reconnect request, how long the publisher may keep streaming here before it is disconnected.' }),
  drainDeadlineMs: Type.Integer({ default: 30000, minimum: 0, description: 'SIGTERM / POST /api/v1/drain: publishers are moved off one at a time within this deadline, then the origin exits.' }),
  heartbeatMs: Type.Integer({ default: 2000, minimum: 100, description: 'Heartbeat interval: one request carries the registration, load, incarnation and every lease (leases v2).' }),
  redirectWaitMs: Type.Integer({ default: 3000, minimum: 0, description: 'After an RTMP 302, how long to wait for the player to close before closing it.' }),
  ...HlsConfigFields,
  hlsSegmenting: Type.Union([Type.Literal('on-demand'), Type.Literal('always')], {
    default: 'on-demand',
    description:
      'When a stream is segmented for HLS (docs/hls.md, "Segmenting on demand"). on-demand: from its first playlist request here, starting at the cached GOP, until hlsIdleStopMs without an HLS request. always: from the first frame of every publish, as long as it lasts (a playlist is ready the moment it is asked for, at the CPU cost of segmenting every stream).',
  }),
  hlsIdleStopMs: Type.Integer({
    default: 30000,
    minimum: 5000,
    description: 'hlsSegmenting on-demand: a stream with no HLS request (playlist, segment or part) for this long stops being segmented and its segments are freed; the next playlist request starts it again (sequence numbers continue, after EXT-X-DISCONTINUITY).',
  }),
  ...ConnectionLimitFields,
  logLevel: Type.String({ default: 'info', description: 'pino log level.' }),
  apiTokens: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Bearer tokens for the node API writes (drain, DELETE /api/v1/clients/:id), comma-separated or JSON; at least 16 characters each, placeholders refused. Empty: writes answer 403.',
  }),
  publishSecret: Secret('HMAC-SHA256 secret of signed publish URLs: `?expires=<unix s>&sign=<hex HMAC(secret, "app/name/expires")>`; `npm run sign` makes them.'),
  playSecret: Secret('HMAC-SHA256 secret of signed play URLs (RTMP, HTTP-FLV, HLS playlist), same scheme as publishSecret.'),
  signedUrlMaxTtlS: Type.Integer({
    default: DEFAULT_SIGNED_URL_MAX_TTL_S,
    minimum: MIN_SIGNED_URL_MAX_TTL_S,
    maximum: MAX_SIGNED_URL_MAX_TTL_S,
    description:
      'Longest validity of a signed publish / play URL, in seconds: a URL whose `expires` lies further ahead than now + this is refused (reason `too-long`), so a leaked URL is not good for years. No "unlimited". `npm run sign` refuses a longer `--ttl` (it reads the same env var).',
  }),
  webhookOnPublish: HookUrl('on_publish', 'HTTP 200 with body `0` or `{"code":0}` allows, anything else denies'),
  webhookOnUnpublish: HookUrl('on_unpublish', 'notification, retried'),
  webhookOnPlay: HookUrl('on_play', 'HTTP 200 with body `0` or `{"code":0}` allows, anything else denies'),
  webhookOnStop: HookUrl('on_stop', 'notification, retried'),
  webhookSecret: Secret(
    'Signs webhook calls: `X-Cascade-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Cascade-Timestamp>.<body>")>` (receivers refuse timestamps more than 5 minutes off; docs/origin-api.md). Must differ from every other secret.',
  ),
  webhookTimeoutMs: Type.Integer({ default: 2000, minimum: 50, maximum: 60000, description: 'Deadline of one webhook call (connect + answer).' }),
  webhookMaxPending: Type.Integer({
    default: 1000,
    minimum: 1,
    maximum: 1_000_000,
    description:
      'Most on_unpublish / on_stop notifications queued or retrying at once; beyond, the oldest is dropped (warn log, cascade_origin_webhook_notifications_dropped_total).',
  }),
  webhookMaxResponseBytes: Type.Integer({
    default: 65536,
    minimum: 1024,
    maximum: 16 * 1024 * 1024,
    description: 'Most bytes of a webhook answer read; a larger on_publish / on_play answer denies the client (logged, cascade_origin_webhook_answers_too_large_total).',
  }),
  webhookFailOpen: Type.Boolean({
    default: false,
    description: 'When on_publish / on_play is unreachable (no answer, timeout, 5xx): true allows the client, false refuses it (fail-closed).',
  }),
});

export type OriginConfig = Static<typeof OriginConfigSchema>;

/**
 * Loads and checks the origin config (schema, then rules across keys). `--config FILE` (or
 * `CASCADE_CONFIG=FILE`) names a JSON file of keys (origin/origin.production.example.json) that
 * env vars and flags override.
 */
export function loadOriginConfig(opts: LoadOptions = {}): OriginConfig {
  const flags = { ...(opts.flags ?? {}) };
  const file = flags['--config'] ?? opts.env?.CASCADE_CONFIG;
  delete flags['--config'];
  const env = file ? { ...fileAsEnv(file), ...(opts.env ?? {}) } : opts.env;
  const config = loadConfig(OriginConfigSchema, { ...opts, env, flags });
  const placeholders: string[] = (['discoveryToken', 'clusterSecret', 'cdnSecret', 'publishSecret', 'playSecret', 'webhookSecret'] as const).filter((k) => config[k].startsWith('REPLACE'));
  if (config.apiTokens.some((t) => t.startsWith('REPLACE'))) placeholders.push('apiTokens');
  if (placeholders.length > 0) throw new ConfigError(`${placeholders.join(', ')} still hold the example's REPLACE placeholder: set them (env ${placeholders.map(envName).join(', ')})`);
  for (const key of ['discoveryToken', 'publishSecret', 'playSecret', 'webhookSecret'] as const) {
    const problem = placeholderProblem(key, config[key]);
    if (problem) throw new ConfigError(problem);
  }
  const reuse = secretReuseProblem(config);
  if (reuse) throw new ConfigError(reuse);
  checkMemberSecurity(config);
  return config;
}

/**
 * One secret in two roles gives whoever holds one role's credential the other's: a viewer's signed
 * play URL would be a valid publish URL, a webhook receiver could sign URLs, and so on. Equal
 * non-empty secrets are a config error (the message names the keys, never the value).
 */
export function secretReuseProblem(config: Pick<OriginConfig, 'publishSecret' | 'playSecret' | 'webhookSecret' | 'clusterSecret' | 'cdnSecret'>): string | null {
  if (config.publishSecret !== '' && config.publishSecret === config.playSecret) {
    return "publishSecret and playSecret must differ: a viewer's URL would let them publish";
  }
  const roles: Array<[keyof typeof config, string]> = [
    ['publishSecret', 'anyone who receives webhooks could sign publish URLs'],
    ['playSecret', 'anyone who receives webhooks could sign play URLs'],
    ['clusterSecret', 'anyone who receives webhooks could derive cluster credentials'],
    ['cdnSecret', 'anyone who receives webhooks could read HLS past the CDN'],
  ];
  for (const [key, why] of roles) {
    if (config.webhookSecret !== '' && config.webhookSecret === config[key]) return `webhookSecret and ${key} must differ: ${why}`;
  }
  for (const key of ['publishSecret', 'playSecret', 'cdnSecret'] as const) {
    if (config[key] !== '' && config[key] === config.clusterSecret) return `${key} and clusterSecret must differ: the cluster secret would be handed to everyone who holds the ${key}`;
  }
  return null;
}

/** A JSON config file as the CASCADE_* variables it stands for (so env and flags override it). */
function fileAsEnv(file: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`config file ${file} must hold a JSON object`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('$')) continue; // $comment
    if (!(key in OriginConfigSchema.properties)) throw new ConfigError(`config file ${file}: unknown key "${key}" (flag ${flagName(key)})`);
    env[envName(key)] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}
