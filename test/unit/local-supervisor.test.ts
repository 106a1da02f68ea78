import { ConfigError } from '../../common/config';
import { checkRedisUrl } from '../../local/cluster';
import { RESTART_POLICY, decideRestart, type ExitFacts, type RestartDecision } from '../../local/restart-policy';

const s = 1000;
/** Exits at these seconds; the last one is "now". */
const at = (...secs: number[]): Pick<ExitFacts, 'now' | 'exits'> => ({ now: secs[secs.length - 1] * s, exits: secs.map((x) => x * s) });

describe('local launcher restart policy (250 ms doubling to 10 s, reset after 30 s healthy, give up at 5 exits in 60 s)', () => {
  test('the defaults are the documented numbers', () => {
    expect(RESTART_POLICY).toEqual({ initialBackoffMs: 250, maxBackoffMs: 10_000, resetAfterHealthyMs: 30_000, crashLoopExits: 5, crashLoopWindowMs: 60_000 });
  });

  test.each<[string, ExitFacts, RestartDecision]>([
    ['first exit: the initial delay', { ...at(100), streak: 0, healthyForMs: 5 * s }, { action: 'restart', delayMs: 250, streak: 1 }],
    ['second in a row: doubled', { ...at(100, 101), streak: 1, healthyForMs: 0 }, { action: 'restart', delayMs: 500, streak: 2 }],
    ['fourth in a row: 2 s', { ...at(100, 101, 102, 104), streak: 3, healthyForMs: 0 }, { action: 'restart', delayMs: 2000, streak: 4 }],
    ['exits spread out, a long streak: capped at 10 s', { ...at(0, 30, 60, 90, 120), streak: 9, healthyForMs: 20 * s }, { action: 'restart', delayMs: 10_000, streak: 10 }],
    ['a huge streak stays capped', { ...at(1000), streak: 5000, healthyForMs: 0 }, { action: 'restart', delayMs: 10_000, streak: 5001 }],
    ['healthy for 30 s before the exit: back to the initial delay', { ...at(100, 140), streak: 6, healthyForMs: 30 * s }, { action: 'restart', delayMs: 250, streak: 1 }],
    ['healthy for just under 30 s: the streak goes on', { ...at(100, 140), streak: 2, healthyForMs: 29_999 }, { action: 'restart', delayMs: 1000, streak: 3 }],
    ['4 exits within 60 s: still restarted', { ...at(100, 101, 102, 104), streak: 3, healthyForMs: 0 }, { action: 'restart', delayMs: 2000, streak: 4 }],
    ['5 exits within 60 s: given up', { ...at(100, 101, 102, 104, 108), streak: 4, healthyForMs: 0 }, { action: 'give-up', exits: 5 }],
    ['5 exits within 60 s even after healthy runs: given up', { ...at(100, 110, 120, 130, 159), streak: 0, healthyForMs: 9 * s }, { action: 'give-up', exits: 5 }],
    ['5 exits, the first 60 s ago: it no longer counts', { ...at(100, 110, 120, 130, 160), streak: 4, healthyForMs: 0 }, { action: 'restart', delayMs: 4000, streak: 5 }],
    ['many exits, only 3 in the last minute', { ...at(0, 1, 2, 3, 4, 5, 100, 120, 150), streak: 8, healthyForMs: 0 }, { action: 'restart', delayMs: 10_000, streak: 9 }],
  ])('%s', (_what, facts, decision) => {
    expect(decideRestart(RESTART_POLICY, facts)).toEqual(decision);
  });

  test('the numbers come from the policy given', () => {
    const policy = { initialBackoffMs: 10, maxBackoffMs: 35, resetAfterHealthyMs: 1000, crashLoopExits: 2, crashLoopWindowMs: 5000 };
    expect(decideRestart(policy, { ...at(1), streak: 2, healthyForMs: 0 })).toEqual({ action: 'restart', delayMs: 35, streak: 3 });
    expect(decideRestart(policy, { ...at(1), streak: 2, healthyForMs: 1000 })).toEqual({ action: 'restart', delayMs: 10, streak: 1 });
    expect(decideRestart(policy, { ...at(1, 5.999), streak: 1, healthyForMs: 0 })).toEqual({ action: 'give-up', exits: 2 });
  });
});

describe('local launcher --redis', () => {
  test.each([
    'redis://127.0.0.1:6379/0',
    'redis://:secret@10.0.0.5:6379',
    'rediss://cache.example:6380/1',
    'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster',
    'redis-sentinel://sentinel:26379/mymaster',
    'redis-cluster://10.0.0.1:7000,10.0.0.2:7000',
  ])('takes %s', (url) => {
    expect(() => checkRedisUrl(url)).not.toThrow();
  });

  test.each([
    ['http://127.0.0.1:6379', /got http:\/\//],
    ['127.0.0.1:6379', /got no scheme/],
    ['localhost', /got no scheme/],
    ['redis-sentinal://h:26379/m', /got redis-sentinal:\/\//],
    ['REDIS-CLUSTER://h:7000', /got REDIS-CLUSTER:\/\//],
  ])('refuses %s with a clear error', (url, got) => {
    expect(() => checkRedisUrl(url)).toThrow(ConfigError);
    expect(() => checkRedisUrl(url)).toThrow(/--redis takes redis:\/\/host:port\/db, .*redis-sentinel:\/\/host:port\[,host:port…\]\/MASTER_NAME or redis-cluster:\/\//);
    expect(() => checkRedisUrl(url)).toThrow(got);
  });

  test('the password of a refused URL is not echoed', () => {
    expect(() => checkRedisUrl('http://:hunter2@h:6379')).toThrow(/^(?!.*hunter2)/s);
  });
});
