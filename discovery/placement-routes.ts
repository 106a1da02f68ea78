import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { errors, type RouteContext } from './route-context';
import * as S from './schemas';
import { intParam, streamOf } from './http';
import { placeStream } from './placement/place';

type StreamParamsT = Static<typeof S.StreamParams>;

/** Placement: where a new publisher should go, as JSON with `explain` or as a bare publish URL. */
export const placementRoutes: FastifyPluginAsync<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { store, read, readDoc, placementOptions } = ctx;

  app.post<{ Body: Static<typeof S.PlacementBody> }>(
    '/v1/placement',
    {
      ...read,
      schema: {
        tags: ['placement'],
        summary: 'Pick the origin a new publisher should go to (the owner if the stream is live), with the reasoning',
        ...readDoc,
        body: S.PlacementBody,
        response: { 200: S.PlacementResultSchema, ...errors(400, 401, 503) },
      },
    },
    async (request) => {
      const { app: appName, name } = streamOf({ app: request.body.app, name: request.body.stream });
      const { bitrateKbps, viewers, region } = request.body;
      return placeStream(store, appName, name, { bitrateKbps, viewers, region }, placementOptions);
    },
  );

  app.get<{ Params: StreamParamsT; Querystring: Static<typeof S.PublishUrlQuery> }>(
    '/v1/publish-url/:app/:name',
    {
      ...read,
      schema: {
        tags: ['placement'],
        summary: 'The RTMP URL to publish to, as text/plain (ffmpeg … -f flv "$(curl -s …)")',
        ...readDoc,
        params: S.StreamParams,
        querystring: S.PublishUrlQuery,
        response: {
          200: { description: 'rtmp://host:port/app/name', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors(400, 401, 503),
        },
      },
    },
    async (request, reply) => {
      const { app: appName, name } = streamOf(request.params);
      const bitrateKbps = request.query.bitrateKbps !== undefined ? intParam(request.query.bitrateKbps, 'bitrateKbps', 0, 0, 10_000_000) : undefined;
      const placed = await placeStream(store, appName, name, { bitrateKbps, region: request.query.region }, placementOptions);
      return reply.type('text/plain; charset=utf-8').send(placed.publishUrl);
    },
  );
};
