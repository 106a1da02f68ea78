import { Type, Static } from '@sinclair/typebox';
import { placeholderProblem } from '../common/cluster-credentials';
import { checkMemberSecurity, clusterSecretField, originHostsField } from '../common/member-config';
import { DEFAULT_SIGNED_URL_MAX_TTL_S, MAX_SIGNED_URL_MAX_TTL_S, MIN_SIGNED_URL_MAX_TTL_S } from '../common/signed-url';
import { ConfigError, loadConfig, type LoadOptions } from '../common/config';
import { HlsConfigFields } from '../mediaserver/hls-config';
import { ConnectionLimitFields } from '../mediaserver/limits-config';

export const EdgeConfigSchema = Type.Object({
  id: Type.String({ default: 'edge-1', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Edge id (logs, API).' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address the RTMP and HTTP listeners bind to.' }),
  rtmpPort: Type.Integer({ default: 1935, minimum: 1, maximum: 65535, description: 'RTMP listener for players.' }),
  httpPort: Type.Integer({ default: 8080, minimum: 1, maximum: 65535, description: 'HTTP listener (HTTP-FLV, health, API).' }),
  origins: Type.Array(Type.String({ pattern: '^rtmp://' }), {
    default: ['rtmp://127.0.0.1:1936', 'rtmp://127.0.0.1:1937'],
    minItems: 1,
    description: 'Origin RTMP base URLs, pulled round-robin (comma-separated or a JSON array in env/flags).',
  }),
  discoveryUrl: Type.String({ default: 'http://127.0.0.1:8090', description: 'Base URL of the discovery service (lookups, events, edge reports).' }),
  publicHost: Type.String({
    default: '',
    pattern: '^[A-Za-z0-9.:_\\[\\]-]*$',
    maxLength: 253,
    description: 'Host name players use to reach this edge, reported to discovery (the console links players there; discovery checks it against its edgeHosts). Empty: `host`, or 127.0.0.1 when `host` is a wildcard.',
  }),
  region: Type.String({ default: '', pattern: '^[A-Za-z0-9_.-]*$', maxLength: 64, description: 'Region reported to discovery (shown in the cluster view). Empty: none.' }),
  reportIntervalMs: Type.Integer({
    default: 5000,
    minimum: 0,
    maximum: 60000,
    description: 'How often the edge reports its viewers per stream and protocol, egress and upstreams to discovery (POST /v1/edges/:id/heartbeat; keep it well under discovery\'s edgeTtlMs). 0: never (the edge stays out of GET /v1/cluster).',
  }),
  clusterSecret: clusterSecretField('The edge derives its credential from it: reads discovery with it and pulls from origins with it instead of a viewer\'s query.'),
  originHosts: originHostsField('Hosts an RTMP 302 (pull or publish gateway) may lead to; the hosts of `origins` are always allowed. A 302 elsewhere is refused and logged.'),
  playSecret: Type.String({
    default: '',
    description:
      'HMAC-SHA256 secret of signed play URLs, as at the origins (`?expires=<unix s>&sign=<hex HMAC(secret, "app/name/expires")>`): the edge checks every viewer itself (RTMP, HTTP-FLV, HLS playlist and segments) and pulls with its own credential (clusterSecret), never a viewer\'s query. Empty: off. At least 16 characters; prefer the env var to the flag (keeps it out of ps). docs/play-auth.md.',
  }),
  signedUrlMaxTtlS: Type.Integer({
    default: DEFAULT_SIGNED_URL_MAX_TTL_S,
    minimum: MIN_SIGNED_URL_MAX_TTL_S,
    maximum: MAX_SIGNED_URL_MAX_TTL_S,
    description: 'Longest validity of a viewer\'s signed play URL, in seconds, as at the origins: a URL whose `expires` lies further ahead is refused (`too-long`).',
  }),
  maxRedirects: Type.Integer({ default: 3, minimum: 0, maximum: 10, description: 'RTMP 302 hops followed per pull.' }),
  pullTimeoutMs: Type.Integer({ default: 4000, minimum: 100, description: 'Deadline for a pull to deliver its first media (all origins tried).' }),
  upstreamMode: Type.Union([Type.Literal('round-robin'), Type.Literal('lookup')], {
    default: 'round-robin',
    description: 'round-robin: SRS behaviour, pick origins index++ % n and follow 302; lookup: ask discovery for the owner first, round-robin when discovery is down.',
  }),
  failoverGraceMs: Type.Integer({ default: 10000, minimum: 0, description: 'After the upstream is lost, how long viewers are kept while the edge re-pulls before they get end-of-stream.' }),
  fanoutBatchMode: Type.Union([Type.Literal('frame'), Type.Literal('window')], {
    default: 'frame',
    description:
      'How viewer writes are batched (one write of a shared buffer per viewer per batch; a keyframe always starts a new batch). frame: a video frame goes out 4 ms after it arrived, with the audio queued before it and anything else that arrived meanwhile (a burst of frames shares a write; under load more does); audio and data alone wait for the next video frame, at most fanoutBatchMs — at most one write per viewer per video frame, and video waits 4 ms. window: every message waits up to fanoutBatchMs. Measured (bench/README.md "Frame-clock batching"): at 400 players frame had the 20 ms window\'s CPU and write count with latency p99 44 ms against 81 ms (NMS 145 ms).',
  }),
  fanoutBatchMs: Type.Integer({
    default: 50,
    minimum: 0,
    maximum: 1000,
    description:
      'The longest a message waits in the fan-out batch. fanoutBatchMode frame: only audio and data without a video frame after them wait (an audio-only stream is written every this many ms); keep it above the video frame interval (33 ms at 30 fps) or audio gets writes of its own. window: every message waits up to this long (fewer socket writes against added latency; 20 was the default before frame mode); 0 writes each message at once. Measured at 0/10/20/40 ms and in frame mode: bench/README.md "Edge fan-out".',
  }),
  viewerMaxBacklogBytes: Type.Integer({ default: 4194304, minimum: 65536, description: 'A viewer with more bytes queued than this skips whole GOPs until it catches up.' }),
  viewerMaxLagMs: Type.Integer({ default: 10000, minimum: 1000, description: 'A viewer behind for longer than this is disconnected.' }),
  publishGateway: Type.Boolean({ default: true, description: 'Accept RTMP publishes here and forward them to the origin placement picks, moving them without the encoder noticing.' }),
  gatewayRepushGraceMs: Type.Integer({ default: 15000, minimum: 0, description: 'After the gateway loses its origin, how long it keeps re-pushing before it closes the encoder.' }),
  closeAfterMs: Type.Integer({ default: 5000, minimum: 0, description: 'Upstream kept open this long after the last viewer leaves.' }),
  gopCacheMaxBytes: Type.Integer({
    default: 8388608,
    minimum: 65536,
    description: 'Largest GOP cached for late joiners (fan-out hub) and for re-pushes (publish gateway), in bytes; a longer GOP (or a stream without keyframes) is not cached until the next keyframe.',
  }),
  pullBurstPerIp: Type.Integer({
    default: 20,
    minimum: 1,
    description: 'Plays of streams this edge is not pulling (each starts a pull against the origins) one client IP may make in a burst; refilled at pullRatePerIpPerSec. Beyond: RTMP StreamNotFound, HTTP 429 PULL_RATE_LIMITED. Streams already pulled here are never refused.',
  }),
  pullRatePerIpPerSec: Type.Number({ default: 2, exclusiveMinimum: 0, description: 'Refill rate of pullBurstPerIp, per second (2 = 20 per 10 s).' }),
  maxConcurrentPulls: Type.Integer({
    default: 64,
    minimum: 1,
    description: 'Pulls in progress (started, no media yet) at once, all clients together; further plays of streams not pulled here are refused like pullBurstPerIp.',
  }),
  ...HlsConfigFields,
  ...ConnectionLimitFields,
  apiTokens: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Bearer tokens for the node API write routes (DELETE /api/v1/clients/:id). Empty: writes disabled (403).' }),
  logLevel: Type.String({ default: 'info', description: 'pino log level.' }),
});

export type EdgeConfig = Static<typeof EdgeConfigSchema>;

/** Loads the edge config: schema, then rules across keys. */
export function loadEdgeConfig(opts: LoadOptions = {}): EdgeConfig {
  const config = loadConfig(EdgeConfigSchema, opts);
  checkMemberSecurity(config);
  const playProblem = placeholderProblem('playSecret', config.playSecret);
  if (playProblem) throw new ConfigError(playProblem);
  return config;
}
