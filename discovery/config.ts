import { Type, Static } from '@sinclair/typebox';
import { loadConfig, LoadOptions } from '../common/config';

export const DiscoveryConfigSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'Address the HTTP API binds to.' }),
  port: Type.Integer({ default: 8090, minimum: 0, maximum: 65535, description: 'HTTP API port (0: any free port).' }),
  originTtlMs: Type.Integer({ default: 6000, minimum: 100, description: 'An origin registration expires this long after its last heartbeat; its leases are dropped then.' }),
  leaseTtlMs: Type.Integer({ default: 6000, minimum: 100, description: 'A stream lease expires this long after its last claim/renew.' }),
  store: Type.Union([Type.Literal('memory')], { default: 'memory', description: 'Stream store: memory (one process). Redis comes later.' }),
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level.' },
  ),
  bodyLimit: Type.Integer({ default: 65536, minimum: 1024, maximum: 16 * 1024 * 1024, description: 'Largest accepted request body in bytes (413 above).' }),
  apiTokens: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Bearer tokens accepted on write routes (comma-separated or JSON in env/flags). Empty: no auth.',
  }),
});

export type DiscoveryConfig = Static<typeof DiscoveryConfigSchema>;

export function loadDiscoveryConfig(opts: LoadOptions = {}): DiscoveryConfig {
  return loadConfig(DiscoveryConfigSchema, opts);
}
