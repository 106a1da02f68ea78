import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACT_PATHS, redactText, redactUrl } from '../../../common/logger';

const SIG = 'a'.repeat(64);

describe('redactUrl: the query (and fragment) is dropped, the userinfo password replaced', () => {
  test.each([
    ['signed RTMP URL', `rtmp://127.0.0.1:1936/live/x?expires=1&sign=${SIG}`, 'rtmp://127.0.0.1:1936/live/x?…'],
    ['HTTP-FLV path', `/live/x.flv?expires=1&sign=${SIG}`, '/live/x.flv?…'],
    ['edge credential', 'rtmp://o:1936/live/x?cascade_auth=abc.def', 'rtmp://o:1936/live/x?…'],
    ['token, key, secret, password, auth', 'https://h/p?token=1&key=2&secret=3&password=4&auth=5', 'https://h/p?…'],
    ['user and password', 'https://bob:hunter2@hooks.example/on_publish', 'https://bob:…@hooks.example/on_publish'],
    ['token as user name', 'https://s3cr3t@hooks.example/x', 'https://…@hooks.example/x'],
    ['password only (redis)', 'redis://:pw@127.0.0.1:6379/0', 'redis://:…@127.0.0.1:6379/0'],
    ['userinfo and query', `rtmp://u:p@h/live/x?sign=${SIG}`, 'rtmp://u:…@h/live/x?…'],
    ['fragment', 'https://h/p#access_token=x', 'https://h/p'],
    ['nothing to redact', 'rtmp://127.0.0.1:1936/live', 'rtmp://127.0.0.1:1936/live'],
    ['an @ in the path is not userinfo', 'https://h/a@b', 'https://h/a@b'],
    ['empty', '', ''],
  ])('%s', (_what, url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('redactText: credential-named parameters and userinfo anywhere in free text', () => {
  test.each([
    ['sign in a message', `play live/x?expires=1&sign=${SIG} refused`, 'play live/x?expires=1&sign=… refused'],
    ['each listed name', 'a?sign=1&cascade_auth=2&token=3&key=4&secret=5&password=6&auth=7&x=8', 'a?sign=…&cascade_auth=…&token=…&key=…&secret=…&password=…&auth=…&x=8'],
    ['longer names', 'u?access_token=1&api_key=2&stream_key=3&X-Auth=4', 'u?access_token=…&api_key=…&stream_key=…&X-Auth=…'],
    ['upper case', 'u?SIGN=1&Token=2', 'u?SIGN=…&Token=…'],
    ['quoted JSON-ish', '{"url":"/x?sign=abc"}', '{"url":"/x?sign=…"}'],
    ['userinfo', 'connect https://bob:hunter2@h/x failed', 'connect https://bob:…@h/x failed'],
    ['harmless text', 'RTMP session 12 start play live/demo', 'RTMP session 12 start play live/demo'],
  ])('%s', (_what, text, expected) => {
    expect(redactText(text)).toBe(expected);
  });
});

test('pino censors credential-named structured fields (REDACT_PATHS)', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
  const log = pino({ redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, sink);
  log.info({ secret: 's1', config: { publishSecret: 's2', playSecret: 's3' }, req: { headers: { authorization: 'Bearer s4' } }, query: { sign: 's5' }, token: 7 }, 'x');
  const out = lines.join('');
  for (const s of ['s1', 's2', 's3', 'Bearer s4', 's5']) expect(out).not.toContain(`"${s}"`);
  // Lease fencing tokens are numbers worth seeing.
  expect(JSON.parse(out)).toMatchObject({ token: 7, secret: '[redacted]' });
});
