import { Type } from '@sinclair/typebox';
import { ConfigError, envName, flagName, loadConfig, parseFlags } from '../../../common/config';

const Schema = Type.Object({
  rtmpPort: Type.Integer({ default: 1936, minimum: 1, maximum: 65535 }),
  id: Type.String({ default: 'origin-1' }),
  origins: Type.Array(Type.String(), { default: ['a'] }),
  verbose: Type.Boolean({ default: false }),
});

describe('config names', () => {
  test.each([
    ['rtmpPort', 'CASCADE_RTMP_PORT', '--rtmp-port'],
    ['id', 'CASCADE_ID', '--id'],
    ['discoveryUrl', 'CASCADE_DISCOVERY_URL', '--discovery-url'],
    ['leaseTtlMs', 'CASCADE_LEASE_TTL_MS', '--lease-ttl-ms'],
  ])('%s ↔ %s ↔ %s', (key, env, flag) => {
    expect(envName(key)).toBe(env);
    expect(flagName(key)).toBe(flag);
  });
});

describe('parseFlags', () => {
  test.each<[string[], Record<string, string>]>([
    [[], {}],
    [['--rtmp-port', '1', '--id=x'], { '--rtmp-port': '1', '--id': 'x' }],
    [['--verbose'], { '--verbose': 'true' }],
    [['--verbose', '--id', 'y'], { '--verbose': 'true', '--id': 'y' }],
  ])('%j', (argv, out) => expect(parseFlags(argv)).toEqual(out));

  test('a bare word is an error', () => expect(() => parseFlags(['origin'])).toThrow(ConfigError));
});

describe('loadConfig', () => {
  test.each<[string, { env?: Record<string, string>; flags?: Record<string, string> }, Record<string, unknown>]>([
    ['defaults', {}, { rtmpPort: 1936, id: 'origin-1', origins: ['a'], verbose: false }],
    ['env overrides default', { env: { CASCADE_RTMP_PORT: '2000' } }, { rtmpPort: 2000 }],
    ['flag overrides env', { env: { CASCADE_RTMP_PORT: '2000' }, flags: { '--rtmp-port': '3000' } }, { rtmpPort: 3000 }],
    ['comma list', { flags: { '--origins': 'x,y' } }, { origins: ['x', 'y'] }],
    ['JSON list', { env: { CASCADE_ORIGINS: '["p","q"]' } }, { origins: ['p', 'q'] }],
    ['boolean flag', { flags: { '--verbose': 'true' } }, { verbose: true }],
  ])('%s', (_name, opts, expected) => {
    expect(loadConfig(Schema, opts)).toMatchObject(expected);
  });

  test.each<[string, Record<string, string>]>([
    ['out of range', { '--rtmp-port': '70000' }],
    ['not a number', { '--rtmp-port': 'abc' }],
    ['unknown flag', { '--rtmp-prot': '1' }],
  ])('%s → ConfigError', (_name, flags) => {
    expect(() => loadConfig(Schema, { flags })).toThrow(ConfigError);
  });
});
