import pino from 'pino';
import { logFormatFor, prettyDestination, useColor } from './log-format';

export type Logger = pino.Logger;

/**
 * Query parameters whose values are credentials (matched case-insensitively, also as part of a longer
 * name: `access_token`, `api_key`, `stream_key`, `X-Auth`). `sign` is the signed-URL HMAC,
 * `cascade_auth` the edge's pull credential.
 */
export const SECRET_PARAMS = ['sign', 'cascade_auth', 'token', 'key', 'secret', 'password', 'auth'] as const;

const CENSOR = '[redacted]';

/**
 * Structured fields pino censors in every line (belt and braces: the code passes URLs through
 * `redactUrl` and never logs configs, headers or stream queries). Lease fencing `token` fields are
 * numbers, not secrets, so plain `token` is not listed.
 */
export const REDACT_PATHS: readonly string[] = [
  ...['authorization', 'cookie', 'set-cookie', 'x-cascade-signature'].flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`, `res.headers["${h}"]`]),
  'authorization',
  ...[
    'secret',
    'password',
    'sign',
    'signature',
    'streamQuery',
    'query',
    'param',
    'publishSecret',
    'playSecret',
    'webhookSecret',
    'clusterSecret',
    'cdnSecret',
    'discoveryToken',
    'apiTokens',
    'credential',
  ].flatMap((k) => [k, `*.${k}`]),
];

/**
 * One logger per process: JSON lines, or human-readable lines when stdout is a TTY
 * (`CASCADE_LOG_FORMAT=json|pretty` overrides; common/log-format.ts). Services derive child loggers
 * that carry `origin`, `stream` and `session` so one grep follows a stream across the cluster.
 * Secrets never go into log fields: pass URLs through `redactUrl` first (pino also censors the
 * field names in REDACT_PATHS, before either format sees them).
 */
export function createLogger(service: string, level = process.env.CASCADE_LOG_LEVEL ?? 'info'): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: CENSOR },
  };
  const tty = process.stdout.isTTY === true;
  if (logFormatFor(process.env, tty) === 'json') return pino(options);
  return pino(options, prettyDestination(process.stdout, { color: useColor(process.env, tty) }));
}

/**
 * A URL as it may be logged: the query string and fragment dropped (`?…`: signatures, tokens, keys,
 * whatever a client put there) and the userinfo's password replaced (`user:…@host`). Works on
 * absolute URLs (`rtmp://`, `https://`, `redis://`), paths (`/live/x.flv?sign=…`) and `host:port`.
 */
export function redactUrl(url: string): string {
  // Also safe on a message quoting URLs (an error's text): every query in it is cut, and a secret
  // parameter outside a query (`…/cam&sign=…`) loses its value.
  const cut = url.replace(/[?#][^\s'"]*/g, (m) => (m.startsWith('?') ? '?…' : ''));
  return redactText(redactUserinfo(cut));
}

/** `scheme://user:password@host` → `scheme://user:…@host` (and `scheme://token@host` → `scheme://…@host`). */
function redactUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/gi, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    // A lone name without a password is usually a token (https://TOKEN@host): redacted too.
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:…` : '…'}@`;
  });
}

const SECRET_PARAM = new RegExp(`([?&;\\s"'(,]|^)([\\w.-]*(?:${SECRET_PARAMS.join('|')})[\\w.-]*)=([^&\\s"',;)#]*)`, 'gi');

/**
 * Free text that may hold URLs somewhere inside (third-party log messages, error messages): the value
 * of every parameter named like a credential (SECRET_PARAMS) and every userinfo password replaced.
 */
export function redactText(text: string): string {
  return redactUserinfo(text.replace(SECRET_PARAM, (_m, pre: string, k: string) => `${pre}${k}=…`));
}
