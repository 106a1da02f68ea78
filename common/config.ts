import { TObject, TSchema, Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * One TypeBox schema per service. Every key has a default; values are overridden
 * by environment variables (`CASCADE_RTMP_PORT` for key `rtmpPort`) and then by
 * command-line flags (`--rtmp-port 1936`). The result is validated once at start.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function envName(key: string): string {
  return 'CASCADE_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function flagName(key: string): string {
  return '--' + key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Parses `--key value` and `--key=value` pairs; a bare `--flag` means `true`. */
export function parseFlags(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (flags look like --rtmp-port 1936)`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      out[arg.slice(0, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      out[arg] = argv[++i];
    } else {
      out[arg] = 'true';
    }
  }
  return out;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, string>;
  overrides?: Record<string, unknown>;
}

export function loadConfig<T extends TObject>(schema: T, opts: LoadOptions = {}): Static<T> {
  const env = opts.env ?? {};
  const flags = { ...(opts.flags ?? {}) };
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') raw[key] = parseValue(schema.properties[key], fromEnv);
    const flag = flagName(key);
    if (flag in flags && (schema.properties[key] as { envOnly?: boolean }).envOnly) {
      throw new ConfigError(`${key} is read from the environment only (${envName(key)}): a flag would show it to every user in ps`);
    }
    if (flag in flags) {
      raw[key] = parseValue(schema.properties[key], flags[flag]);
      delete flags[flag];
    }
  }
  const unknown = Object.keys(flags);
  if (unknown.length > 0) throw new ConfigError(`unknown flag ${unknown.join(', ')}; known: ${Object.keys(schema.properties).map(flagName).join(' ')}`);
  Object.assign(raw, opts.overrides ?? {});
  const withDefaults = Value.Default(schema, Value.Convert(schema, raw));
  if (!Value.Check(schema, withDefaults)) {
    const problems = [...Value.Errors(schema, withDefaults)].map((e) => `${e.path || '/'}: ${e.message} (got ${JSON.stringify(withoutCredentials(e.value))})`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return withDefaults as Static<T>;
}

function parseValue(schema: TSchema, text: string): unknown {
  const type = (schema as { type?: string }).type;
  if (type === 'array' || type === 'object') {
    try {
      return JSON.parse(text);
    } catch {
      if (type === 'array') return text.split(',').map((s) => s.trim()).filter(Boolean);
      throw new ConfigError(`expected JSON for an object value, got ${text}`);
    }
  }
  return text;
}

/** Markdown table of a schema: key, flag, env var, default, description. */
export function configDocs(schema: TObject): string {
  const rows = Object.entries(schema.properties).map(([key, s]) => {
    const d = (s as { default?: unknown; description?: string; envOnly?: boolean });
    const flag = d.envOnly ? '(env only)' : `\`${flagName(key)}\``;
    return `| \`${key}\` | ${flag} | \`${envName(key)}\` | \`${JSON.stringify(d.default)}\` | ${d.description ?? ''} |`;
  });
  return ['| key | flag | env | default | description |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** A URL's `user:password@` is never echoed in an error (`scheme://***@host`). */
function withoutCredentials(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/).*@/s, '$1***@') : value;
}
