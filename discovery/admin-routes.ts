import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { request } from 'undici';
import { readBoundedText } from '../common/bounded-body';
import { memberCredential } from '../common/cluster-credentials';
import { BadGatewayError, BadRequestError, OriginNotFoundError, StreamNotFoundError } from '../common/errors';
import { originApiBase } from './cluster-view';
import { streamOf } from './http';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { findStreamOwner } from './store/stream-owner';
import type { AdminActionResult, OriginView } from './types';

/** Largest origin answer relayed (the shed and drain answers are a few hundred bytes). */
const MAX_ANSWER = 64 * 1024;

export const DrainBody = Type.Object({ deadlineMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) }, { additionalProperties: false });

export interface ForwardOptions {
  /** Bearer credential sent to the origin (an `admin` member credential), or none. */
  credential?: string;
  timeoutMs: number;
}

/**
 * POSTs to an origin's node API and returns its JSON answer; anything but a 2xx JSON answer in time
 * is `BadGatewayError` (502 BAD_GATEWAY, with the origin's status when it answered).
 */
export async function forwardToOrigin(origin: OriginView, path: string, body: unknown, opts: ForwardOptions): Promise<unknown> {
  const url = `${originApiBase(origin)}${path}`;
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(opts.credential ? { authorization: `Bearer ${opts.credential}` } : {}),
      },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(opts.timeoutMs),
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    status = res.statusCode;
    // Too long: no usable answer (a 2xx then relays null, anything else is a 502 either way).
    text = (await readBoundedText(res.body, MAX_ANSWER)) ?? '';
  } catch (err) {
    throw new BadGatewayError(origin.id, `origin ${origin.id} did not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: unknown = null;
  try {
    json = text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    // not JSON: reported below
  }
  if (status < 200 || status >= 300) {
    const why = json && typeof json === 'object' && typeof (json as { code?: unknown }).code === 'string' ? ` ${(json as { code: string }).code}` : '';
    throw new BadGatewayError(origin.id, `origin ${origin.id} refused the action: HTTP ${status}${why}`, status);
  }
  return json;
}

/**
 * Admin actions (docs/discovery.md "Admin actions"): admin bearer token only (401 without a
 * credential, 403 for member and read credentials). Discovery forwards them to the origin concerned
 * with an `admin` member credential derived from the cluster secret, which origins accept on their
 * API writes besides their `apiTokens`.
 */
export const adminRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, auth } = ctx;
  const credential = config.clusterSecret ? memberCredential(config.clusterSecret, 'admin', 'discovery') : undefined;
  const forward = { timeoutMs: config.adminActionTimeoutMs, ...(credential ? { credential } : {}) };
  const adminDoc = { security: [{ bearer: [] }] };

  app.post<{ Params: Static<typeof S.StreamParams> }>(
    '/v1/admin/streams/:app/:name/shed',
    {
      onRequest: auth.admin,
      schema: {
        tags: ['cluster'],
        summary: "Shed a stream: its owner origin moves the publisher elsewhere (the origin's POST /api/v1/streams/:app/:name/shed)",
        ...adminDoc,
        params: S.StreamParams,
        response: { 200: S.AdminActionResultSchema, ...errors(400, 401, 403, 404, 502, 503) },
      },
    },
    async (request): Promise<AdminActionResult> => {
      const { app: a, name } = streamOf(request.params);
      const found = await findStreamOwner(store, a, name);
      if (!found) throw new StreamNotFoundError(a, name);
      const { origin } = found;
      request.log.info({ stream: `${a}/${name}`, origin: origin.id }, 'admin action: shed');
      const result = await forwardToOrigin(origin, `/api/v1/streams/${encodeURIComponent(a)}/${encodeURIComponent(name)}/shed`, {}, forward);
      return { ok: true, origin: origin.id, result };
    },
  );

  app.post<{ Params: Static<typeof S.OriginParams>; Body: Static<typeof DrainBody> | undefined }>(
    '/v1/admin/origins/:id/drain',
    {
      onRequest: auth.admin,
      schema: {
        tags: ['cluster'],
        summary: "Drain an origin: it sheds its publishers and exits (the origin's POST /api/v1/drain). Optional body {\"deadlineMs\": 0..3600000}",
        ...adminDoc,
        params: S.OriginParams,
        response: { 200: S.AdminActionResultSchema, ...errors(400, 401, 403, 404, 502, 503) },
      },
    },
    async (request): Promise<AdminActionResult> => {
      // Optional body (no body schema: an empty body would be a 400 there).
      if (request.body !== undefined && request.body !== null && !Value.Check(DrainBody, request.body)) throw new BadRequestError('body must be {"deadlineMs"?: integer 0..3600000}');
      const origin = await store.getOrigin(request.params.id);
      if (!origin) throw new OriginNotFoundError(request.params.id);
      request.log.info({ origin: origin.id }, 'admin action: drain');
      const result = await forwardToOrigin(origin, '/api/v1/drain', request.body ?? {}, forward);
      return { ok: true, origin: origin.id, result };
    },
  );
};
