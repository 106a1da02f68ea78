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

/** Query parameters whose values are secrets wherever they occur (signed URLs, member credentials). */
const SECRET_PARAMS = /\b(sign|cascade_auth|token|secret)=[^&\s'"]*/gi;

/**
 * Drops query strings (signatures `sign=`, member credentials `cascade_auth=`, tokens) from a URL
 * before it is logged. Also safe on a message that quotes URLs (an error's text): every query in
 * it is cut, and a secret parameter outside a query (`…/cam&sign=…`) loses its value.
 */
export function redactUrl(url: string): string {
  return url.replace(/\?[^\s'"]*/g, '?…').replace(SECRET_PARAMS, '$1=…');
}
