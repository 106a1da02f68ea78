import { ConfigError, parseFlags } from '../../../common/config';
import { DiscoveryConfigSchema, loadDiscoveryConfig } from '../../../discovery/config';

describe('discovery config', () => {
  it('has the documented defaults', () => {
    expect(loadDiscoveryConfig()).toEqual({
      host: '127.0.0.1',
      port: 8090,
      originTtlMs: 6000,
      leaseTtlMs: 6000,
      store: 'memory',
      logLevel: 'info',
      bodyLimit: 65536,
      apiTokens: [],
    });
    for (const [key, s] of Object.entries(DiscoveryConfigSchema.properties)) {
      expect({ key, hasDefault: 'default' in s, hasDescription: typeof (s as { description?: string }).description }).toEqual({ key, hasDefault: true, hasDescription: 'string' });
    }
  });

  it('takes CASCADE_* env vars, then flags', () => {
    const config = loadDiscoveryConfig({
      env: { CASCADE_PORT: '9000', CASCADE_ORIGIN_TTL_MS: '3000', CASCADE_API_TOKENS: 'a, b', CASCADE_LOG_LEVEL: 'warn' },
      flags: parseFlags(['--port', '9100', '--lease-ttl-ms=4500', '--host', '0.0.0.0', '--body-limit', '2048']),
    });
    expect(config).toMatchObject({ port: 9100, originTtlMs: 3000, leaseTtlMs: 4500, host: '0.0.0.0', apiTokens: ['a', 'b'], logLevel: 'warn', bodyLimit: 2048 });
    expect(loadDiscoveryConfig({ flags: parseFlags(['--api-tokens', '["x","y"]']) }).apiTokens).toEqual(['x', 'y']);
  });

  it.each([
    [{ flags: { '--store': 'redis' } }],
    [{ flags: { '--port': '70000' } }],
    [{ flags: { '--port': 'abc' } }],
    [{ flags: { '--log-level': 'loud' } }],
    [{ flags: { '--lease-ttl-ms': '5' } }],
    [{ flags: { '--nope': '1' } }],
  ])('rejects %j with a ConfigError', (opts) => {
    expect(() => loadDiscoveryConfig(opts)).toThrow(ConfigError);
  });
});
