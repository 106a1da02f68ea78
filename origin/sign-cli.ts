/**
 * `cascade-sign live/NAME [--ttl 3600] [--secret-env CASCADE_PUBLISH_SECRET] [--base rtmp://host:port]`
 * prints a signed publish (or play) URL. The secret is read from an environment variable, never from
 * the command line, so it stays out of shell history and `ps`.
 */
import { isValidStreamPart } from '../common/stream-name';
import { DEFAULT_SIGNED_URL_MAX_TTL_S, MAX_SIGNED_URL_MAX_TTL_S, MIN_SIGNED_URL_MAX_TTL_S, signedQuery } from '../common/signed-url';

/** The origins' `signedUrlMaxTtlS` as its env var: the CLI reads the same one. */
export const MAX_TTL_ENV = 'CASCADE_SIGNED_URL_MAX_TTL_S';

export const SIGN_USAGE = `usage: sign APP/NAME [--ttl SECONDS] [--secret-env VAR] [--base URL]

Prints APP/NAME as a signed URL: BASE/APP/NAME?expires=<unix s>&sign=<hex>,
sign = HMAC-SHA256(secret, "APP/NAME/expires").

  --ttl SECONDS     validity from now (default 3600); at most the origins' signedUrlMaxTtlS,
                    read from CASCADE_SIGNED_URL_MAX_TTL_S (default 86400): origins refuse
                    URLs valid for longer
  --secret-env VAR  environment variable holding the secret (default CASCADE_PUBLISH_SECRET;
                    use CASCADE_PLAY_SECRET for play URLs)
  --base URL        scheme://host:port in front (default rtmp://127.0.0.1:1936, origin-1 of npm start)
`;

export interface SignResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runSign(argv: readonly string[], env: NodeJS.ProcessEnv, nowMs = Date.now()): SignResult {
  const fail = (code: number, message: string): SignResult => ({ code, stdout: '', stderr: `sign: ${message}\n${code === 2 ? SIGN_USAGE : ''}` });
  const opts: Record<string, string> = { ttl: '3600', 'secret-env': 'CASCADE_PUBLISH_SECRET', base: 'rtmp://127.0.0.1:1936' };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { code: 0, stdout: SIGN_USAGE, stderr: '' };
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!(key in opts)) return fail(2, `unknown option --${key}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) return fail(2, `--${key} needs a value`);
    opts[key] = value;
  }
  if (positional.length !== 1) return fail(2, 'give exactly one APP/NAME');
  const parts = positional[0].replace(/^\/+/, '').split('/');
  if (parts.length !== 2 || !isValidStreamPart(parts[0]) || !isValidStreamPart(parts[1])) return fail(2, `"${positional[0]}" is not APP/NAME (letters, digits, _ . -)`);
  const ttl = Number(opts.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) return fail(2, '--ttl must be a positive number of seconds');
  const rawMax = env[MAX_TTL_ENV] ?? '';
  const maxTtl = rawMax === '' ? DEFAULT_SIGNED_URL_MAX_TTL_S : Number(rawMax);
  if (!Number.isInteger(maxTtl) || maxTtl < MIN_SIGNED_URL_MAX_TTL_S || maxTtl > MAX_SIGNED_URL_MAX_TTL_S) {
    return fail(1, `${MAX_TTL_ENV}=${JSON.stringify(rawMax)} is not a number of seconds from ${MIN_SIGNED_URL_MAX_TTL_S} to ${MAX_SIGNED_URL_MAX_TTL_S}`);
  }
  if (ttl > maxTtl) {
    return fail(2, `--ttl ${ttl} is more than signedUrlMaxTtlS (${maxTtl} s${rawMax === '' ? ', the default' : `, from ${MAX_TTL_ENV}`}): origins would refuse the URL (too-long). Use a shorter --ttl, or raise signedUrlMaxTtlS on the origins and set ${MAX_TTL_ENV} here`);
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+\/?$/i.test(opts.base)) return fail(2, `--base must look like rtmp://host:port, got "${opts.base}"`);
  const secret = env[opts['secret-env']] ?? '';
  if (!secret) return fail(1, `environment variable ${opts['secret-env']} is empty: set it to the origin's secret`);
  const [app, name] = parts;
  const url = `${opts.base.replace(/\/+$/, '')}/${app}/${name}?${signedQuery(secret, app, name, ttl, nowMs)}`;
  return { code: 0, stdout: `${url}\n`, stderr: '' };
}
