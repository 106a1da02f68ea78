import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { BadRequestError, CascadeError } from '../common/errors';
import { canonicalStreamName, isValidStreamPart } from '../common/stream-name';
import { apiHostPort, bracket, hostAndPort, selfHostPort } from './http';
import type { OriginRecord } from './store/types';
import { originView } from './views';
import { SRS_DEFAULT_VHOST } from '../protocol/srs';

/** SRS-compatible coworker lookup `/api/v1/clusters` (docs/discovery.md). */
export const srsRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, config, cache, read, readDoc, lookupStream } = ctx;

  await app.register(async (srs) => {
    // SRS origins POST with `Content-Type: application/json`, `Content-Length: 0` and no body; the
    // answer depends on the query only, so in this scope any body of any type is read and ignored.
    srs.removeAllContentTypeParsers();
    srs.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
    srs.route<{ Querystring: Static<typeof S.SrsClustersQuery> }>({
      method: ['GET', 'POST'],
      url: '/api/v1/clusters',
      ...read,
      schema: { tags: ['srs'], summary: 'SRS coworker lookup (contract)', ...readDoc, querystring: S.SrsClustersQuery, response: { 200: S.SrsClustersResponse, ...errors(400, 401, 503) } },
      handler: async (request, reply) => {
        const q = request.query;
        const query = { ip: q.ip ?? '', vhost: q.vhost ?? SRS_DEFAULT_VHOST, app: q.app, stream: q.stream };
        if (!isValidStreamPart(q.app) || !isValidStreamPart(q.stream)) {
          throw new BadRequestError('app and stream must be valid stream names');
        }
        const name = canonicalStreamName(q.stream);
        const found = isValidStreamPart(name) ? (await lookupStream(reply, q.app, name)).value : null;
        const origin = found ? await srsOrigin(found.origin.id, found.origin) : null;
        if (!origin) return { code: 0 as const, data: { query, origin: null } };
        const rtmp = hostAndPort(origin.rtmp, 1935);
        const api = origin.api !== undefined ? apiHostPort(origin.api) : hostAndPort(origin.http, 80);
        return {
          code: 0 as const,
          data: {
            query,
            origin: {
              ip: rtmp.host,
              port: rtmp.port,
              vhost: query.vhost,
              api: `${bracket(api.host)}:${api.port}`,
              routers: [`${selfHostPort(request, config)}/api/v1/clusters`],
            },
          },
        };
      },
    });
  });

  /** The owner's record for the SRS answer (`api`); its ref from the (possibly stale) lookup when the store is down. */
  async function srsOrigin(id: string, ref: { rtmp: string; http: string }): Promise<Pick<OriginRecord, 'rtmp' | 'http' | 'api'> | null> {
    try {
      return await store.getOrigin(id);
    } catch (err) {
      if (err instanceof CascadeError && err.code === 'STORE_UNAVAILABLE') {
        const cached = cache.get<ReturnType<typeof originView> | null>(`origin:${id}`);
        return cached?.value ?? ref;
      }
      throw err;
    }
  }
};
