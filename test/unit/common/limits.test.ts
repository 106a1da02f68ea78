import { ConnectionLimiter, KeyedTokenBuckets, LogThrottle, TokenBucket, clientIp } from '../../../common/limits';

describe('TokenBucket', () => {
  // Each row: capacity, refill per second, then [time ms, expected take()] in order.
  const rows: Array<{ name: string; capacity: number; perSec: number; takes: Array<[number, boolean]> }> = [
    { name: 'burst up to capacity, then refused', capacity: 3, perSec: 1, takes: [[0, true], [0, true], [0, true], [0, false], [0, false]] },
    { name: 'refills at the rate', capacity: 2, perSec: 2, takes: [[0, true], [0, true], [0, false], [499, false], [500, true], [500, false], [1000, true]] },
    { name: 'refill never exceeds capacity', capacity: 2, perSec: 10, takes: [[0, true], [60_000, true], [60_000, true], [60_000, false]] },
    { name: '20 per 10 s, burst 20 (the edge default)', capacity: 20, perSec: 2, takes: [...Array.from({ length: 20 }, () => [0, true] as [number, boolean]), [0, false], [499, false], [500, true], [500, false]] },
    { name: 'a clock going back does not mint tokens', capacity: 1, perSec: 1, takes: [[10_000, true], [5_000, false], [10_500, false], [11_000, true]] },
    { name: 'fractional rate', capacity: 1, perSec: 0.5, takes: [[0, true], [1000, false], [2000, true]] },
  ];
  test.each(rows)('$name', ({ capacity, perSec, takes }) => {
    const b = new TokenBucket(capacity, perSec, takes[0][0]);
    expect(takes.map(([t]) => b.take(t))).toEqual(takes.map(([, ok]) => ok));
  });
});

describe('KeyedTokenBuckets', () => {
  test('one bucket per key', () => {
    const k = new KeyedTokenBuckets(2, 1);
    expect([k.take('a', 0), k.take('a', 0), k.take('a', 0), k.take('b', 0), k.take('b', 0), k.take('b', 0)]).toEqual([true, true, false, true, true, false]);
  });
  test('the number of keys is bounded: full buckets are forgotten first, then the oldest', () => {
    const k = new KeyedTokenBuckets(2, 1, 100);
    for (let i = 0; i < 1000; i++) k.take(`ip${i}`, 0);
    expect(k.size).toBeLessThanOrEqual(100);
    for (let i = 0; i < 1000; i++) k.take(`later${i}`, 10_000); // the earlier buckets refilled: swept
    expect(k.size).toBeLessThanOrEqual(100);
  });
});

describe('ConnectionLimiter', () => {
  // Each row: caps, then a script of acquire (+ip) / release (-ip) and the expected result of each acquire.
  const rows: Array<{ name: string; max: number; perIp: number; ops: string[]; expected: Array<string | null> }> = [
    { name: 'per-IP cap', max: 10, perIp: 2, ops: ['+a', '+a', '+a', '+b'], expected: [null, null, 'max_connections_per_ip', null] },
    { name: 'global cap', max: 2, perIp: 5, ops: ['+a', '+b', '+c', '+a'], expected: [null, null, 'max_connections', 'max_connections'] },
    { name: 'release frees a slot', max: 2, perIp: 1, ops: ['+a', '+a', '-a', '+a', '+b', '+c'], expected: [null, 'max_connections_per_ip', null, null, 'max_connections'] },
    { name: 'release of an unknown ip is ignored', max: 1, perIp: 1, ops: ['-x', '+a', '-x', '+b'], expected: [null, 'max_connections'] },
  ];
  test.each(rows)('$name', ({ max, perIp, ops, expected }) => {
    const l = new ConnectionLimiter({ maxConnections: max, maxConnectionsPerIp: perIp });
    const got: Array<string | null> = [];
    for (const op of ops) {
      if (op[0] === '+') got.push(l.acquire(op.slice(1)));
      else l.release(op.slice(1));
    }
    expect(got).toEqual(expected);
    expect(l.refused.max_connections + l.refused.max_connections_per_ip).toBe(expected.filter((e) => e !== null).length);
  });
});

describe('LogThrottle', () => {
  test('one line per interval, with the count of suppressed events', () => {
    const t = new LogThrottle(1000);
    const times = [0, 10, 20, 999, 1000, 1001, 5000];
    expect(times.map((n) => t.check(n))).toEqual([
      { log: true, suppressed: 0 },
      { log: false, suppressed: 1 },
      { log: false, suppressed: 2 },
      { log: false, suppressed: 3 },
      { log: true, suppressed: 3 },
      { log: false, suppressed: 1 },
      { log: true, suppressed: 1 },
    ]);
  });
});

test.each([
  ['::ffff:127.0.0.1', '127.0.0.1'],
  ['10.1.2.3', '10.1.2.3'],
  ['::1', '::1'],
  [undefined, ''],
])('clientIp(%s) = %s', (remoteAddress, ip) => expect(clientIp({ remoteAddress })).toBe(ip));
