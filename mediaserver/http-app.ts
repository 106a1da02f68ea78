import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { FastifyBaseLogger, FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../common/logger';
import { CascadeError } from '../common/errors';
import type { FlvGate, NmsHost } from './nms-host';
import { lazyChildLoggerFactory } from './lazy-request-logger';

type ServerFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;

/**
 * The HTTP side of an origin or edge: one port serving HTTP-FLV (through the
 * gate into node-media-server) and our JSON routes (fastify). Errors are always
 * `{"code","message"}`.
 */
export function createMediaHttpApp(nms: NmsHost, gate: FlvGate, logger: Logger): FastifyInstance {
  return createHttpApp(logger, nms.serverFactory(gate));
}

/** The same JSON conventions on a server whose raw requests may be routed first (HTTP-FLV). */
export function createHttpApp(logger: Logger, serverFactory: ServerFactory): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Built per request only when a request logs: HLS playlist and segment requests mostly don't.
    childLoggerFactory: lazyChildLoggerFactory,
    serverFactory,
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof CascadeError) return reply.status(err.status).send(err.toJSON());
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 ? 'internal error' : err instanceof Error ? err.message : 'bad request';
    return reply.status(status).send({ code: status >= 500 ? 'INTERNAL' : 'BAD_REQUEST', message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  return app;
}
