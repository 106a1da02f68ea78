import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseFlags } from '../../../common/config';
import { DiscoveryConfigSchema, loadDiscoveryConfig } from '../../../discovery/config';

const EXAMPLE = path.resolve(__dirname, '..', '..', '..', 'discovery', 'discovery.example.json');

describe('discovery config', () => {
  it('discovery/discovery.example.json is exactly the schema defaults, in schema order', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const example = JSON.parse(text) as Record<string, unknown>;
    expect(example).toEqual(loadDiscoveryConfig());
    expect(Object.keys(example)).toEqual(Object.keys(DiscoveryConfigSchema.properties));
    // The example loads as config overrides without complaint.
    expect(loadDiscoveryConfig({ overrides: example })).toEqual(example);
  });

  it('has the documented defaults; every key has a default and a description', () => {
    expect(loadDiscoveryConfig()).toMatchObject({
      host: '127.0.0.1',
      port: 8090,
      originTtlMs: 6000,
      leaseTtlMs: 6000,
      store: 'memory',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'cascade:',
      logLevel: 'info',
      bodyLimit: 65536,
      apiTokens: [],
      readTokens: [],
      protectReads: false,
      livenessCheck: true,
      livenessTimeoutMs: 300,
      highWater: 0.85,
      sweepIntervalMs: 500,
      sseHeartbeatMs: 15000,
    });
    for (const [key, s] of Object.entries(DiscoveryConfigSchema.properties)) {
      expect({ key, hasDefault: 'default' in s, hasDescription: typeof (s as { description?: string }).description }).toEqual({ key, hasDefault: true, hasDescription: 'string' });
    }
  });

  it('takes CASCADE_* env vars, then flags', () => {
    const config = loadDiscoveryConfig({
      env: { CASCADE_PORT: '9000', CASCADE_ORIGIN_TTL_MS: '3000', CASCADE_API_TOKENS: 'admin-token-aaaaaaaa, admin-token-bbbbbbbb', CASCADE_LOG_LEVEL: 'warn', CASCADE_PROTECT_READS: 'true', CASCADE_READ_TOKENS: 'r1' },
      flags: parseFlags(['--port', '9100', '--lease-ttl-ms=4500', '--host', '0.0.0.0', '--body-limit', '2048', '--high-water', '0.7']),
    });
    expect(config).toMatchObject({ port: 9100, originTtlMs: 3000, leaseTtlMs: 4500, host: '0.0.0.0', apiTokens: ['admin-token-aaaaaaaa', 'admin-token-bbbbbbbb'], logLevel: 'warn', bodyLimit: 2048, protectReads: true, readTokens: ['r1'], highWater: 0.7 });
    expect(loadDiscoveryConfig({ flags: parseFlags(['--api-tokens', '["admin-token-xxxxxxxx","admin-token-yyyyyyyy"]']) }).apiTokens).toEqual(['admin-token-xxxxxxxx', 'admin-token-yyyyyyyy']);
  });

  it('takes exactly the flags the local launcher passes for Redis', () => {
    // local/cluster.ts: `--store redis --redis-url <url>`
    const config = loadDiscoveryConfig({ flags: parseFlags(['--host', '127.0.0.1', '--port', '8090', '--store', 'redis', '--redis-url', 'redis://127.0.0.1:6379/2']) });
    expect(config).toMatchObject({ store: 'redis', redisUrl: 'redis://127.0.0.1:6379/2', redisPrefix: 'cascade:' });
  });

  it.each([
    ['redis://127.0.0.1:6379/2'],
    ['rediss://:pw@cache.example.com:6380'],
    ['redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster'],
    ['redis-cluster://10.0.0.1:7000,10.0.0.2:7000'],
  ])('takes the Redis URL form %s', (url) => {
    expect(loadDiscoveryConfig({ env: { CASCADE_STORE: 'redis', CASCADE_REDIS_URL: url } }).redisUrl).toBe(url);
  });

  it.each([
    ['http://:hunter2@127.0.0.1:6379', /redisUrl: .*got "http:\/\/\*\*\*@127\.0\.0\.1:6379"/],
    ['redis-sentinel://:hunter2@s1:26379', /master name is missing/],
    ['redis-cluster://:hunter2@n1:7000/1', /takes no path or database number/],
    ['redis://:hunter2@h:1,h:2', /takes one host/],
  ])('refuses the Redis URL %s with a ConfigError that names the problem, not the password', (url, problem) => {
    const load = (): unknown => loadDiscoveryConfig({ flags: { '--store': 'redis', '--redis-url': url } });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(problem);
    expect(load).not.toThrow(/hunter2/);
  });

  it('checks the Redis URL only when the store is redis', () => {
    expect(loadDiscoveryConfig({ flags: { '--redis-url': 'redis-sentinel://s1:26379' } }).store).toBe('memory');
  });

  it.each([
    [{ flags: { '--store': 'etcd' } }],
    [{ flags: { '--redis-url': 'http://127.0.0.1:6379' } }],
    [{ flags: { '--redis-prefix': '' } }],
    [{ flags: { '--redis-prefix': 'a*' } }],
    [{ flags: { '--port': '70000' } }],
    [{ flags: { '--port': 'abc' } }],
    [{ flags: { '--log-level': 'loud' } }],
    [{ flags: { '--lease-ttl-ms': '5' } }],
    [{ flags: { '--high-water': '0' } }],
    [{ flags: { '--high-water': '1.5' } }],
    [{ flags: { '--placement-strategy': 'random' } }],
    [{ flags: { '--protect-reads': 'true' } }],
    [{ flags: { '--nope': '1' } }],
  ])('rejects %j with a ConfigError', (opts) => {
    expect(() => loadDiscoveryConfig(opts)).toThrow(ConfigError);
  });
});
