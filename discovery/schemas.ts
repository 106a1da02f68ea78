import { Type, Static, TSchema } from '@sinclair/typebox';
import { STREAM_NAME_PATTERN } from '../common/lifecycle';
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
});

export const RegisterOriginResultSchema = Type.Object({ origin: OriginViewSchema, ttlMs: Type.Integer() });
export const OriginListSchema = Type.Object({ origins: Type.Array(OriginViewSchema) });

export const OriginRefSchema = Type.Object({ id: Type.String(), rtmp: Type.String(), http: Type.String() });

export const StreamOwnerViewSchema = Type.Object({
  app: Type.String(),
  name: Type.String(),
  origin: OriginRefSchema,
  since: Type.Number(),
  token: Type.Integer(),
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

export const HealthSchema = Type.Object({ status: Type.Literal('ok'), store: Type.String() });

export const ErrorSchema = Type.Object(
  { code: Type.String({ pattern: '^[A-Z][A-Z0-9_]*$' }), message: Type.String() },
  { additionalProperties: true },
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
assertSame<typeof OriginLoadSchema, T.OriginLoad>(true);
