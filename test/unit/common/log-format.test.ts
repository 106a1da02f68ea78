import { formatLogLine, logFormatFor, prettifyLine, prettyDestination, useColor } from '../../../common/log-format';

const T = '2026-12-02T07:01:02.345Z';

describe('formatLogLine', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['info of an origin with fields', { level: 30, time: T, service: 'origin', pid: 7, origin: 'origin-1', stream: 'live/demo', token: 17, msg: 'stream published' }, '07:01:02.345 INFO  origin-1  stream published  stream=live/demo token=17'],
    ['discovery: the service is the who', { level: 40, time: T, service: 'discovery', pid: 7, msg: 'sweep failed; retrying', err: { message: 'redis: down' } }, '07:01:02.345 WARN  discovery sweep failed; retrying  err="redis: down"'],
    ['discovery about an origin: discovery is the who, the origin a field', { level: 30, time: T, service: 'discovery', origin: 'origin-2', msg: 'origin registered' }, '07:01:02.345 INFO  discovery origin registered  origin=origin-2'],
    ['an edge child logger', { level: 20, time: T, service: 'edge', edge: 'edge-1', component: 'edge-reporter', msg: 'x' }, '07:01:02.345 DEBUG edge-1    x  component=edge-reporter'],
    ['strings with spaces and objects are JSON', { level: 30, time: T, msg: 'm', reason: 'no viewers', load: { weight: 3 } }, '07:01:02.345 INFO  m  reason="no viewers" load={"weight":3}'],
    ['redacted values stay redacted', { level: 30, time: T, msg: 'm', authorization: '[redacted]' }, '07:01:02.345 INFO  m  authorization=[redacted]'],
    ['an unknown level and no time', { level: 35, msg: 'm' }, '--:--:--.--- 35    m'],
    ['a very long value is cut', { level: 30, time: T, msg: 'm', v2: 'x'.repeat(300) }, `07:01:02.345 INFO  m  v2=${'x'.repeat(200)}…`],
    // A logged value (a stream query, a header, a peer's string) must not drive the terminal: control characters are shown escaped.
    ['an escape sequence in a value', { level: 30, time: T, msg: 'm', ua: '\x1b[2J\x1b]0;owned\x07' }, '07:01:02.345 INFO  m  ua=\\u001b[2J\\u001b]0;owned\\u0007'],
    ['a C1 control (CSI) inside a JSON-quoted value', { level: 30, time: T, msg: 'm', ua: 'a b\u009b2J' }, '07:01:02.345 INFO  m  ua="a b\\u009b2J"'],
    ['control characters in the message and the who', { level: 30, time: T, service: 'edge', edge: 'e\x1b1', msg: 'bad\rname' }, '07:01:02.345 INFO  e\\u001b1  bad\\u000dname'],
  ])('%s', (_what, obj, expected) => {
    expect(formatLogLine(obj, { color: false })).toBe(expected);
  });

  it('errors keep a few stack lines; colours only when asked', () => {
    const err = new Error('boom');
    const line = formatLogLine({ level: 50, time: T, service: 'edge', msg: 'request failed', err: { message: err.message, stack: err.stack } }, { color: false });
    expect(line.split('\n')[0]).toBe('07:01:02.345 ERROR edge      request failed  err=boom');
    expect(line.split('\n')[1]).toMatch(/^ {4}at /);
    expect(formatLogLine({ level: 30, time: T, msg: 'm' }, { color: true })).toContain('\x1b[32mINFO \x1b[0m');
    expect(formatLogLine({ level: 30, time: T, msg: 'm' }, { color: false })).not.toContain('\x1b');
  });
});

describe('prettifyLine / prettyDestination', () => {
  it.each([
    ['{"level":30,"time":"2026-12-02T07:01:02.345Z","msg":"hi"}', '07:01:02.345 INFO  hi\n'],
    ['not json at all', 'not json at all\n'],
    ['{"broken": ', '{"broken": \n'],
    ['[1,2]', '[1,2]\n'],
  ])('%s', (line, expected) => {
    expect(prettifyLine(line, { color: false })).toBe(expected);
  });

  it('writes one human line per JSON line', () => {
    const out: string[] = [];
    prettyDestination({ write: (c) => out.push(c) }, { color: false }).write('{"level":30,"time":"2026-12-02T07:01:02.345Z","msg":"a"}\n{"level":40,"time":"2026-12-02T07:01:02.345Z","msg":"b"}\n');
    expect(out.join('')).toBe('07:01:02.345 INFO  a\n07:01:02.345 WARN  b\n');
  });
});

describe('which format', () => {
  it.each<[NodeJS.ProcessEnv, boolean, 'json' | 'pretty']>([
    [{}, true, 'pretty'],
    [{}, false, 'json'],
    [{ CASCADE_LOG_FORMAT: 'json' }, true, 'json'],
    [{ CASCADE_LOG_FORMAT: 'pretty' }, false, 'pretty'],
    [{ CASCADE_LOG_FORMAT: 'fancy' }, false, 'json'],
  ])('%j, tty %s → %s', (env, tty, expected) => {
    expect(logFormatFor(env, tty)).toBe(expected);
  });

  it.each<[NodeJS.ProcessEnv, boolean, boolean]>([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '' }, true, false],
    [{ TERM: 'dumb' }, true, false],
  ])('colour %j tty %s → %s', (env, tty, expected) => {
    expect(useColor(env, tty)).toBe(expected);
  });
});
