import { ConfigError } from '../../../common/config';
import {
  RedisUrlError,
  clusterPrefix,
  describeRedisTarget,
  parseRedisUrl,
  prefixHashTag,
  redactRedisUrl,
  type RedisTarget,
} from '../../../discovery/store/redis-connection';

const SECRET = 's3cr3t-Pa55';

describe('parseRedisUrl: good URLs', () => {
  it.each<[string, RedisTarget, string]>([
    ['redis://127.0.0.1:6379', { mode: 'single', node: { host: '127.0.0.1', port: 6379 }, db: 0, tls: false }, 'redis://127.0.0.1:6379/0'],
    ['redis://localhost', { mode: 'single', node: { host: 'localhost', port: 6379 }, db: 0, tls: false }, 'redis://localhost:6379/0'],
    ['redis://10.0.0.5:6380/2', { mode: 'single', node: { host: '10.0.0.5', port: 6380 }, db: 2, tls: false }, 'redis://10.0.0.5:6380/2'],
    ['redis://h:1/', { mode: 'single', node: { host: 'h', port: 1 }, db: 0, tls: false }, 'redis://h:1/0'],
    [`redis://:${SECRET}@redis.internal:6379/1`, { mode: 'single', node: { host: 'redis.internal', port: 6379 }, db: 1, tls: false, password: SECRET }, 'redis://***@redis.internal:6379/1'],
    [`redis://app:${SECRET}@h:6379`, { mode: 'single', node: { host: 'h', port: 6379 }, db: 0, tls: false, username: 'app', password: SECRET }, 'redis://***@h:6379/0'],
    // A password may hold ':', '@' and '/' (the last '@' ends it) and percent-escapes.
    ['redis://:a:b@c/d@h:6379', { mode: 'single', node: { host: 'h', port: 6379 }, db: 0, tls: false, password: 'a:b@c/d' }, 'redis://***@h:6379/0'],
    ['redis://:p%25w%40rd@h', { mode: 'single', node: { host: 'h', port: 6379 }, db: 0, tls: false, password: 'p%w@rd' }, 'redis://***@h:6379/0'],
    ['rediss://cache.example.com:6380/0', { mode: 'single', node: { host: 'cache.example.com', port: 6380 }, db: 0, tls: true }, 'rediss://cache.example.com:6380/0'],
    ['REDIS://H:7', { mode: 'single', node: { host: 'H', port: 7 }, db: 0, tls: false }, 'redis://H:7/0'],
    ['redis://[::1]:6379', { mode: 'single', node: { host: '::1', port: 6379 }, db: 0, tls: false }, 'redis://[::1]:6379/0'],
    [
      'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3/mymaster',
      {
        mode: 'sentinel',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
          { host: '10.0.0.3', port: 26379 },
        ],
        name: 'mymaster',
      },
      'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster',
    ],
    [
      `redis-sentinel://:${SECRET}@s1:5000/cascade-main`,
      { mode: 'sentinel', sentinels: [{ host: 's1', port: 5000 }], name: 'cascade-main', password: SECRET },
      'redis-sentinel://***@s1:5000/cascade-main',
    ],
    [
      'redis-cluster://n1:7000,n2:7001,n1:7000',
      {
        mode: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
      },
      'redis-cluster://n1:7000,n2:7001',
    ],
    [`redis-cluster://:${SECRET}@n1:7000/`, { mode: 'cluster', nodes: [{ host: 'n1', port: 7000 }], password: SECRET }, 'redis-cluster://***@n1:7000'],
  ])('%s', (url, expected, described) => {
    const t = parseRedisUrl(url);
    expect(t).toEqual(expected);
    expect(describeRedisTarget(t)).toBe(described);
    expect(describeRedisTarget(t)).not.toContain(SECRET);
  });
});

describe('parseRedisUrl: bad URLs name the problem and never show the password', () => {
  it.each<[string, RegExp]>([
    ['', /expected redis:\/\/.*redis-sentinel:\/\/.*redis-cluster:\/\//],
    ['127.0.0.1:6379', /expected redis:\/\//],
    ['http://127.0.0.1:6379', /unsupported scheme "http:"/],
    [`mongodb://:${SECRET}@h:1`, /unsupported scheme "mongodb:"/],
    ['redis://', /no host/],
    [`redis://:${SECRET}@`, /no host/],
    ['redis://:6379', /host 1: empty host name/],
    ['redis://h:0', /host 1: the port must be 1-65535 \(got "0"\)/],
    ['redis://h:65536', /the port must be 1-65535/],
    ['redis://h:port', /the port must be 1-65535 \(got "port"\)/],
    ['redis://h_:1', /"h_" is not a host name/],
    ['redis://[::1', /needs a closing "\]"/],
    ['redis://[::1]x', /expected ":port" after "\]"/],
    ['redis://h:1/x', /the database must be a number \(got "x"\)/],
    ['redis://h:1/-1', /the database must be a number/],
    ['redis://h:1,h:2', /redis:\/\/ takes one host; for several use redis-sentinel:\/\/ or redis-cluster:\/\//],
    [`redis://:${SECRET}@h:1?family=6`, /query strings and fragments are not supported/],
    [`redis://${SECRET}@h:1`, /credentials need a colon/],
    ['redis://:%E0%A4%A@h:1', /not valid percent-encoding/],
    ['redis-sentinel://s1:26379', /the master name is missing/],
    ['redis-sentinel://s1:26379/', /the master name is missing/],
    [`redis-sentinel://:${SECRET}@s1:26379/mymaster/2`, /master name must be letters.*a database number is not supported/],
    ['redis-sentinel:///mymaster', /no host/],
    ['redis-sentinel://s1:26379,,s2:26379/m', /host 2: empty host name/],
    ['redis-sentinel://s1:26379,s2:99999/m', /host 2: the port must be 1-65535/],
    [`redis-cluster://:${SECRET}@n1:7000/0`, /redis-cluster:\/\/ takes no path or database number/],
    ['redis-cluster://n1:7000,', /host 2: empty host name/],
  ])('%j', (url, problem) => {
    let caught: unknown;
    try {
      parseRedisUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RedisUrlError);
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message).toMatch(/^invalid redisUrl /);
    expect(message).toMatch(problem);
    expect(message).not.toContain(SECRET);
  });
});

describe('redactRedisUrl', () => {
  it.each([
    [`redis://:${SECRET}@h:1/0`, 'redis://***@h:1/0'],
    [`redis://user:${SECRET}@h:1`, 'redis://***@h:1'],
    [`redis-sentinel://:${SECRET}@a:1,b:2/m`, 'redis-sentinel://***@a:1,b:2/m'],
    [`redis://:a@b/${SECRET}@h:1`, 'redis://***@h:1'],
    [`h:1?password=${SECRET}`, 'h:1?…'],
    [`${SECRET}@h`, '***@h'],
    ['redis://h:1/0', 'redis://h:1/0'],
  ])('%s → %s', (url, expected) => {
    expect(redactRedisUrl(url)).toBe(expected);
  });
});

describe('cluster key prefix', () => {
  it.each([
    ['cascade:', null, '{cascade}:'],
    ['prod:cascade:', null, '{prod:cascade}:'],
    ['cascade', null, '{cascade}'],
    [':', null, '{:}'],
    ['{cascade}:', 'cascade', '{cascade}:'],
    ['app:{cascade}:', 'cascade', 'app:{cascade}:'],
    // Redis ignores an empty tag and a '{' without '}': the prefix alone would not fix the slot.
    ['{}cascade:', null, '{{}cascade}:'],
    ['a{b:', null, '{a{b}:'],
    ['}:', null, '{cascade}}:'],
  ])('%s: tag %s → %s', (prefix, tag, expected) => {
    expect(prefixHashTag(prefix)).toBe(tag);
    expect(clusterPrefix(prefix)).toBe(expected);
    expect(prefixHashTag(clusterPrefix(prefix))).not.toBeNull();
  });
});
