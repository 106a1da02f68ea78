import { Type, Static, TSchema } from '@sinclair/typebox';
import { STREAM_NAME_PATTERN } from '../common/stream-name';
import { ORIGIN_ID_PATTERN } from './types';
import type * as T from './types';

/** TypeBox schemas of the discovery REST API (request validation and response serialization). */

const NonNegative = (description?: string) => Type.Number({ minimum: 0, ...(description ? { description } : {}) });

export const StreamPart = Type.String({ pattern: STREAM_NAME_PATTERN.source, maxLength: 128 });
export const OriginId = Type.String({ pattern: ORIGIN_ID_PATTERN.source, maxLength: 64 });
export const Token = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

export const StreamParams = Type.Object({ app: StreamPart, name: StreamPart });
export const OriginParams = Type.Object({ id: OriginId });

export const OriginStateSchema = Type.Union([Type.Literal('active'), Type.Literal('draining')]);

export const OriginLoadSchema = Type.Object(
  {
    weight: Type.Optional(NonNegative('Weight in use.')),
    cpu: Type.Optional(NonNegative('CPU percent.')),
    publishers: Type.Optional(Type.Integer({ minimum: 0 })),
    viewers: Type.Optional(Type.Integer({ minimum: 0 })),
    ingressBps: Type.Optional(NonNegative()),
    egressBps: Type.Optional(NonNegative()),
  },
  { additionalProperties: false },
);

/** `rtmp://host[:port]` with no user info, path, query or fragment (a trailing `/` is allowed). */
export const RTMP_URL_PATTERN = '^rtmp://[^\\s/?#@]+/?$';
export const HTTP_URL_PATTERN = '^https?://[^\\s/?#@]+/?$';

export const OriginRegistrationSchema = Type.Object(
  {
    rtmp: Type.String({ pattern: RTMP_URL_PATTERN, maxLength: 256, description: 'rtmp://host:port' }),
    http: Type.String({ pattern: HTTP_URL_PATTERN, maxLength: 256, description: 'http://host:port' }),
    api: Type.Optional(Type.String({ pattern: '^[^\\s?#@]+$', maxLength: 256, description: 'API host:port or URL.' })),
    region: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]*$', maxLength: 64 })),
    capacity: Type.Optional(NonNegative('Weight capacity.')),
    state: Type.Optional(OriginStateSchema),
    load: Type.Optional(OriginLoadSchema),
  },
  { additionalProperties: false },
);

export const OriginViewSchema = Type.Object({
  id: Type.String(),
  rtmp: Type.String(),
  http: Type.String(),
  api: Type.Optional(Type.String()),
  region: Type.Optional(Type.String()),
  capacity: Type.Optional(Type.Number()),
  state: OriginStateSchema,
  load: OriginLoadSchema,
  updatedAt: Type.Number(),
  incarnation: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.Number()),
});

export const RegisterOriginResultSchema = Type.Object({ origin: OriginViewSchema, ttlMs: Type.Integer() });
export const OriginListSchema = Type.Object({ origins: Type.Array(OriginViewSchema) });

export const OriginRefSchema = Type.Object({ id: Type.String(), rtmp: Type.String(), http: Type.String() });

export const StreamOwnerViewSchema = Type.Object({
  app: Type.String(),
  name: Type.String(),
  origin: OriginRefSchema,
  since: Type.Number(),
  token: Type.Optional(Type.Integer({ description: "Fencing token; left out for anonymous callers (docs/security.md)." })),
});

export const LeaseViewSchema = Type.Object({
  app: Type.String(),
  name: Type.String(),
  origin: OriginRefSchema,
  since: Type.Number(),
  token: Type.Integer(),
  ttlMs: Type.Integer(),
});

export const StreamListSchema = Type.Object({ streams: Type.Array(StreamOwnerViewSchema) });

export const ClaimBody = Type.Object({ originId: OriginId }, { additionalProperties: false });
export const LeaseBody = Type.Object({ originId: OriginId, token: Token }, { additionalProperties: false });

/** Most leases one heartbeat may carry (an origin with more streams is a configuration error). */
export const MAX_HEARTBEAT_LEASES = 20_000;

export const HeartbeatLeaseSchema = Type.Object(
  { app: StreamPart, name: StreamPart, token: Type.Optional(Token), since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
  { additionalProperties: false },
);

export const HeartbeatBody = Type.Object(
  {
    incarnation: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Boot id of the origin process.' }),
    startedAt: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'ms epoch the process started.' }),
    registration: OriginRegistrationSchema,
    leases: Type.Array(HeartbeatLeaseSchema, { maxItems: MAX_HEARTBEAT_LEASES, description: 'Every stream the origin serves (no token: claim in flight).' }),
  },
  { additionalProperties: false },
);

const HeartbeatLeaseStatusSchema = Type.Union([Type.Literal('renewed'), Type.Literal('reclaimed'), Type.Literal('fenced'), Type.Literal('absent')]);

export const HeartbeatResultSchema = Type.Object({
  origin: OriginViewSchema,
  ttlMs: Type.Integer(),
  leaseTtlMs: Type.Integer(),
  leases: Type.Array(
    Type.Object({
      app: Type.String(),
      name: Type.String(),
      status: HeartbeatLeaseStatusSchema,
      token: Type.Optional(Type.Integer()),
      owner: Type.Optional(Type.String()),
      note: Type.Optional(Type.Literal('TOKEN_AHEAD')),
    }),
  ),
  released: Type.Integer(),
  restarted: Type.Boolean(),
});

export const HealthSchema = Type.Object({
  status: Type.Literal('ok'),
  store: Type.Union([Type.Literal('memory'), Type.Literal('redis')]),
  redis: Type.Optional(Type.Object({ reachable: Type.Boolean(), latencyMs: Type.Optional(Type.Number()) })),
});

// ---- listing ---------------------------------------------------------------------------------

/** Query values are strings (no type coercion): numbers are checked by pattern here, ranges in the handler. */
export const StreamListQuery = Type.Object(
  {
    app: Type.Optional(Type.String({ ...StreamPart, description: 'Only streams of this app.' })),
    origin: Type.Optional(Type.String({ ...OriginId, description: 'Only streams owned by this origin id.' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$', description: 'Page size, 1..1000 (default 100).' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,400}$', description: 'The `next` of the previous page.' })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$', description: 'Skip this many matching streams (0..10000), after `cursor` if given.' })),
  },
  { additionalProperties: false },
);

export const StreamPageSchema = Type.Object({
  streams: Type.Array(StreamOwnerViewSchema),
  next: Type.Optional(Type.String({ description: 'Present when more streams may follow: pass it as `cursor`.' })),
  stale: Type.Optional(Type.Boolean({ description: 'true when the store is unreachable and this page is from the local cache.' })),
});

export const OriginListPageSchema = Type.Object({
  origins: Type.Array(OriginViewSchema),
  stale: Type.Optional(Type.Boolean()),
});

// ---- placement -------------------------------------------------------------------------------

export const RegionSchema = Type.String({ pattern: '^[A-Za-z0-9_.-]*$', maxLength: 64 });

export const PlacementBody = Type.Object(
  {
    app: StreamPart,
    stream: StreamPart,
    bitrateKbps: Type.Optional(Type.Number({ minimum: 0, maximum: 10_000_000, description: 'Expected ingest bit rate.' })),
    viewers: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Expected viewers.' })),
    region: Type.Optional(RegionSchema),
  },
  { additionalProperties: false },
);

export const PlacementExclusionSchema = Type.Union([
  Type.Literal('draining'),
  Type.Literal('over-high-water'),
  Type.Literal('shed-recently'),
  Type.Literal('region-mismatch'),
]);

export const PlacementExplainEntrySchema = Type.Object({
  id: Type.String(),
  utilisation: Type.Number(),
  score: Type.Number(),
  chosen: Type.Boolean(),
  excluded: Type.Optional(PlacementExclusionSchema),
  reason: Type.String(),
});

export const PlacementResultSchema = Type.Object({
  origin: OriginRefSchema,
  publishUrl: Type.String(),
  live: Type.Boolean(),
  explain: Type.Array(PlacementExplainEntrySchema),
});

export const PublishUrlQuery = Type.Object(
  {
    region: Type.Optional(RegionSchema),
    bitrateKbps: Type.Optional(Type.String({ pattern: '^[0-9]{1,8}$', description: 'Expected ingest bit rate in kbit/s.' })),
  },
  { additionalProperties: false },
);

export const AvoidBody = Type.Object(
  {
    originId: OriginId,
    ms: Type.Integer({ minimum: 1, maximum: 86_400_000, description: 'For how long (at most 24 h).' }),
  },
  { additionalProperties: false },
);

export const AvoidResultSchema = Type.Object({ app: Type.String(), name: Type.String(), originId: Type.String(), until: Type.Number() });

// ---- events ----------------------------------------------------------------------------------

export const EventsQuery = Type.Object(
  {
    types: Type.Optional(
      Type.String({
        pattern: '^(stream\\.(claimed|released|moved)|origin\\.(up|draining|down)|edge\\.(up|down))(,(stream\\.(claimed|released|moved)|origin\\.(up|draining|down)|edge\\.(up|down)))*$',
        maxLength: 200,
        description: 'Comma-separated event types (default: all).',
      }),
    ),
  },
  { additionalProperties: false },
);

// ---- edges, cluster view, admin actions --------------------------------------------------------

/** Streams one edge heartbeat may list. */
export const MAX_EDGE_STREAMS = 2000;

export const EdgeParams = Type.Object({ id: OriginId });
const Count = Type.Integer({ minimum: 0, maximum: 10_000_000 });
const Bps = Type.Number({ minimum: 0, maximum: 1e12 });
export const EdgeStateSchema = Type.Union([Type.Literal('active'), Type.Literal('draining')]);
export const EdgeStreamStateSchema = Type.Union([Type.Literal('pulling'), Type.Literal('live'), Type.Literal('reconnecting'), Type.Literal('idle')]);
export const ProtocolViewersSchema = Type.Object({ rtmp: Count, flv: Count, hls: Count }, { additionalProperties: false });

export const EdgeStreamReportSchema = Type.Object(
  {
    app: StreamPart,
    name: StreamPart,
    viewers: ProtocolViewersSchema,
    egressBps: Bps,
    upstream: Type.Optional(OriginId),
    state: EdgeStreamStateSchema,
  },
  { additionalProperties: false },
);

export const EdgeHeartbeatBody = Type.Object(
  {
    rtmp: Type.Optional(Type.String({ pattern: RTMP_URL_PATTERN, maxLength: 256, description: 'rtmp://host:port players use (host in edgeHosts)' })),
    http: Type.Optional(Type.String({ pattern: HTTP_URL_PATTERN, maxLength: 256, description: 'http://host:port of HTTP-FLV/HLS (host in edgeHosts)' })),
    region: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]*$', maxLength: 64 })),
    state: Type.Optional(EdgeStateSchema),
    incarnation: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' })),
    load: Type.Object({ viewers: Count, egressBps: Bps, cpu: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000 })) }, { additionalProperties: false }),
    streams: Type.Array(EdgeStreamReportSchema, { maxItems: MAX_EDGE_STREAMS, description: `At most ${MAX_EDGE_STREAMS}.` }),
  },
  { additionalProperties: false },
);

export const EdgeViewSchema = Type.Object({
  id: Type.String(),
  rtmp: Type.Optional(Type.String()),
  http: Type.Optional(Type.String()),
  region: Type.Optional(Type.String()),
  state: EdgeStateSchema,
  updatedAt: Type.Number(),
  load: Type.Object({ viewers: Type.Number(), egressBps: Type.Number(), cpu: Type.Optional(Type.Number()), streams: Type.Number() }),
  streams: Type.Array(
    Type.Object({
      app: Type.String(),
      name: Type.String(),
      viewers: Type.Object({ rtmp: Type.Number(), flv: Type.Number(), hls: Type.Number() }),
      egressBps: Type.Number(),
      upstream: Type.Optional(Type.String()),
      state: EdgeStreamStateSchema,
    }),
  ),
});

export const EdgeHeartbeatResultSchema = Type.Object({ edge: EdgeViewSchema, ttlMs: Type.Integer() });
export const EdgeListSchema = Type.Object({ edges: Type.Array(EdgeViewSchema) });

export const ClusterOriginSchema = Type.Composite([
  OriginViewSchema,
  Type.Object({
    status: Type.Union([Type.Literal('active'), Type.Literal('draining'), Type.Literal('down')]),
    utilisation: Type.Number({ description: 'load.weight / capacity (0..n).' }),
  }),
]);

export const ClusterStreamSchema = Type.Object({
  app: Type.String(),
  name: Type.String(),
  owner: Type.Union([OriginRefSchema, Type.Null()]),
  since: Type.Optional(Type.Number()),
  media: Type.Optional(
    Type.Object({
      video: Type.Optional(
        Type.Object({
          codec: Type.String(),
          profile: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          width: Type.Number(),
          height: Type.Number(),
          fps: Type.Optional(Type.Number()),
        }),
      ),
      audio: Type.Optional(Type.Object({ codec: Type.String(), sampleRate: Type.Number(), channels: Type.Number() })),
      ingressBps: Type.Optional(Type.Number()),
    }),
  ),
  viewers: Type.Object({
    total: Type.Number(),
    atOrigins: Type.Number(),
    byEdge: Type.Array(Type.Object({ edge: Type.String(), rtmp: Type.Number(), flv: Type.Number(), hls: Type.Number(), egressBps: Type.Number() })),
  }),
});

export const ClusterViewSchema = Type.Object({
  generatedAt: Type.Number(),
  origins: Type.Array(ClusterOriginSchema),
  edges: Type.Array(EdgeViewSchema),
  streams: Type.Array(ClusterStreamSchema),
  totals: Type.Object({
    origins: Type.Number(),
    edges: Type.Number(),
    streams: Type.Number(),
    publishers: Type.Number(),
    viewers: Type.Number(),
    ingressBps: Type.Number(),
    egressBps: Type.Number(),
  }),
});

export const AdminActionResultSchema = Type.Object({ ok: Type.Literal(true), origin: Type.String(), result: Type.Unknown() });

export const ErrorSchema = Type.Object(
  { code: Type.String({ pattern: '^[A-Z][A-Z0-9_]*$' }), message: Type.String() },
  { additionalProperties: true, description: 'docs/errors.md lists every code.' },
);

/** SRS `/api/v1/clusters` query. Values are echoed back; app/stream are checked in the handler. */
export const SrsClustersQuery = Type.Object({
  vhost: Type.Optional(Type.String({ maxLength: 256 })),
  ip: Type.Optional(Type.String({ maxLength: 256 })),
  app: Type.String({ maxLength: 128 }),
  stream: Type.String({ maxLength: 132 }),
  coworker: Type.Optional(Type.String({ maxLength: 256 })),
});

export const SrsClustersResponse = Type.Object({
  code: Type.Literal(0),
  data: Type.Object({
    query: Type.Object({ ip: Type.String(), vhost: Type.String(), app: Type.String(), stream: Type.String() }),
    origin: Type.Union([
      Type.Object({
        ip: Type.String(),
        port: Type.Integer(),
        vhost: Type.String(),
        api: Type.String(),
        routers: Type.Array(Type.String()),
      }),
      Type.Null(),
    ]),
  }),
});

// Compile-time checks: the schemas and the hand-written wire types in types.ts agree both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function assertSame<S extends TSchema, X>(ok: Same<Static<S>, X>): void {
  void ok;
}
assertSame<typeof OriginRegistrationSchema, T.OriginRegistration>(true);
assertSame<typeof OriginViewSchema, T.OriginView>(true);
assertSame<typeof StreamOwnerViewSchema, T.StreamOwnerView>(true);
assertSame<typeof LeaseViewSchema, T.LeaseView>(true);
assertSame<typeof RegisterOriginResultSchema, T.RegisterOriginResult>(true);
assertSame<typeof HeartbeatBody, T.HeartbeatRequest>(true);
assertSame<typeof HeartbeatResultSchema, T.HeartbeatResult>(true);
assertSame<typeof OriginLoadSchema, T.OriginLoad>(true);
assertSame<typeof StreamPageSchema, T.StreamPage>(true);
assertSame<typeof PlacementBody, T.PlacementRequest>(true);
assertSame<typeof PlacementResultSchema, T.PlacementResult>(true);
assertSame<typeof PlacementExplainEntrySchema, T.PlacementExplainEntry>(true);
assertSame<typeof AvoidBody, T.AvoidRequest>(true);
assertSame<typeof HealthSchema, T.HealthView>(true);
assertSame<typeof EdgeHeartbeatBody, T.EdgeHeartbeatRequest>(true);
assertSame<typeof EdgeViewSchema, T.EdgeView>(true);
assertSame<typeof EdgeHeartbeatResultSchema, T.EdgeHeartbeatResult>(true);
assertSame<typeof ClusterOriginSchema, T.ClusterOrigin>(true);
assertSame<typeof ClusterStreamSchema, T.ClusterStream>(true);
assertSame<typeof ClusterViewSchema, T.ClusterView>(true);
assertSame<typeof AdminActionResultSchema, T.AdminActionResult>(true);
