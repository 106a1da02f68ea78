import pino from 'pino';

export type Logger = pino.Logger;

/**
 * One JSON logger per process. Services derive child loggers that carry
 * `origin`, `stream` and `session` so one grep follows a stream across the cluster.
 * Secrets never go into log fields: pass URLs through `redactUrl` first.
 */
export function createLogger(service: string, level = process.env.CASCADE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Drops query strings (signatures, tokens) from a URL before it is logged. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}
