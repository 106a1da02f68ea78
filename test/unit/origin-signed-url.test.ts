import { createHmac } from 'node:crypto';
import { parseQuery, signature, signedQuery, verifySignedQuery } from '../../origin/signed-url';
import { runSign } from '../../origin/sign-cli';

const SECRET = 'test-secret-0123456789abcdef';
const NOW = Date.UTC(2030, 0, 1); // ms
const NOW_S = NOW / 1000;

test('sign = hex HMAC-SHA256(secret, "app/name/expires")', () => {
  const expected = createHmac('sha256', SECRET).update(`live/demo/${NOW_S + 60}`).digest('hex');
  expect(signature(SECRET, 'live', 'demo', NOW_S + 60)).toBe(expected);
  expect(signedQuery(SECRET, 'live', 'demo', 60, NOW)).toBe(`expires=${NOW_S + 60}&sign=${expected}`);
  expect(() => signedQuery('', 'live', 'demo', 60)).toThrow(/empty secret/);
});

describe('verifySignedQuery', () => {
  const good = parseQuery(signedQuery(SECRET, 'live', 'demo', 60, NOW));
  const sign = good.sign as string;
  const expires = good.expires as string;

  test.each([
    ['a fresh signature', 'live', 'demo', good, NOW, { ok: true }],
    ['upper-case hex', 'live', 'demo', { ...good, sign: sign.toUpperCase() }, NOW, { ok: true }],
    ['the last valid second', 'live', 'demo', good, (NOW_S + 60) * 1000 + 999, { ok: true }],
    ['after expiry', 'live', 'demo', good, (NOW_S + 61) * 1000, { ok: false, reason: 'expired' }],
    ['another stream name', 'live', 'other', good, NOW, { ok: false, reason: 'invalid' }],
    ['another app', 'vod', 'demo', good, NOW, { ok: false, reason: 'invalid' }],
    ['a later expires (tampered)', 'live', 'demo', { ...good, expires: String(Number(expires) + 3600) }, NOW, { ok: false, reason: 'invalid' }],
    ['one flipped digit', 'live', 'demo', { ...good, sign: (sign[0] === 'a' ? 'b' : 'a') + sign.slice(1) }, NOW, { ok: false, reason: 'invalid' }],
    ['another secret', 'live', 'demo', parseQuery(signedQuery('another-secret-0123456789', 'live', 'demo', 60, NOW)), NOW, { ok: false, reason: 'invalid' }],
    ['no query at all', 'live', 'demo', {}, NOW, { ok: false, reason: 'missing' }],
    ['other parameters only', 'live', 'demo', { token: 'x' }, NOW, { ok: false, reason: 'missing' }],
    ['sign without expires', 'live', 'demo', { sign }, NOW, { ok: false, reason: 'malformed' }],
    ['expires without sign', 'live', 'demo', { expires }, NOW, { ok: false, reason: 'malformed' }],
    ['expires not a number', 'live', 'demo', { ...good, expires: '12abc' }, NOW, { ok: false, reason: 'malformed' }],
    ['expires negative', 'live', 'demo', { ...good, expires: '-1' }, NOW, { ok: false, reason: 'malformed' }],
    ['sign too short', 'live', 'demo', { ...good, sign: sign.slice(2) }, NOW, { ok: false, reason: 'malformed' }],
    ['sign not hex', 'live', 'demo', { ...good, sign: 'z'.repeat(64) }, NOW, { ok: false, reason: 'malformed' }],
    ['sign given twice', 'live', 'demo', { ...good, sign: [sign, sign] }, NOW, { ok: false, reason: 'malformed' }],
  ])('%s', (_what, app, name, query, now, expected) => {
    const verdict = verifySignedQuery(SECRET, app, name, query, now);
    expect(verdict).toMatchObject(expected);
    if (!verdict.ok) expect(verdict.message).not.toContain(sign);
  });

  describe('maxTtlS: expires may lie at most maxTtlS ahead', () => {
    const withTtl = (ttl: number): ReturnType<typeof parseQuery> => parseQuery(signedQuery(SECRET, 'live', 'demo', ttl, NOW));
    test.each([
      ['well inside', withTtl(60), 3600, { ok: true }],
      ['exactly the max', withTtl(3600), 3600, { ok: true }],
      ['one second over', withTtl(3601), 3600, { ok: false, reason: 'too-long' }],
      ['a year, default max', withTtl(365 * 86_400), 86_400, { ok: false, reason: 'too-long' }],
      ['a year, no max given (old callers)', withTtl(365 * 86_400), undefined, { ok: true }],
      ['an expired URL is "expired"', parseQuery(signedQuery(SECRET, 'live', 'demo', 0, NOW - 10_000)), 60, { ok: false, reason: 'expired' }],
      ['a forged far-future URL is "invalid", not "too-long"', { expires: String(NOW_S + 10 * 86_400), sign: 'a'.repeat(64) }, 60, { ok: false, reason: 'invalid' }],
    ])('%s', (_what, query, maxTtlS, expected) => {
      const verdict = verifySignedQuery(SECRET, 'live', 'demo', query, NOW, maxTtlS === undefined ? {} : { maxTtlS });
      expect(verdict).toMatchObject(expected);
      if (!verdict.ok && verdict.reason === 'too-long') expect(verdict.message).toMatch(/expires is more than signedUrlMaxTtlS/);
    });
  });

  test('an expired forgery is "invalid", not "expired" (expiry is only revealed to signed URLs)', () => {
    expect(verifySignedQuery(SECRET, 'live', 'demo', { expires: '1', sign: 'a'.repeat(64) }, NOW)).toMatchObject({ ok: false, reason: 'invalid' });
  });
});

test('parseQuery keeps repeated keys as arrays, like node-media-server', () => {
  expect(parseQuery('?a=1&b=2&a=3')).toEqual({ a: ['1', '3'], b: '2' });
  expect(parseQuery('')).toEqual({});
  expect(parseQuery('x=%20y')).toEqual({ x: ' y' });
});

describe('sign CLI (bin/sign.ts)', () => {
  const env = { CASCADE_PUBLISH_SECRET: SECRET, CASCADE_PLAY_SECRET: 'play-secret-0123456789abcdef' };

  test('prints a signed publish URL with the defaults', () => {
    const r = runSign(['live/demo'], env, NOW);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`rtmp://127.0.0.1:1936/live/demo?${signedQuery(SECRET, 'live', 'demo', 3600, NOW)}\n`);
  });

  test('--ttl, --base, --secret-env (both flag forms)', () => {
    const r = runSign(['live/cam1', '--ttl', '60', '--base=http://edge.example:8080/', '--secret-env', 'CASCADE_PLAY_SECRET'], env, NOW);
    expect(r.code).toBe(0);
    const url = new URL(r.stdout.trim());
    expect(`${url.origin}${url.pathname}`).toBe('http://edge.example:8080/live/cam1');
    expect(url.searchParams.get('expires')).toBe(String(NOW_S + 60));
    expect(verifySignedQuery(env.CASCADE_PLAY_SECRET, 'live', 'cam1', parseQuery(url.search), NOW)).toEqual({ ok: true });
  });

  test('--ttl up to the max (default 86400, or CASCADE_SIGNED_URL_MAX_TTL_S) signs', () => {
    expect(runSign(['live/demo', '--ttl', '86400'], env, NOW)).toMatchObject({ code: 0, stderr: '' });
    const r = runSign(['live/demo', '--ttl', '172800'], { ...env, CASCADE_SIGNED_URL_MAX_TTL_S: '172800' }, NOW);
    expect(r.code).toBe(0);
    const q = parseQuery(new URL(r.stdout.trim()).search);
    expect(verifySignedQuery(SECRET, 'live', 'demo', q, NOW, { maxTtlS: 172_800 })).toEqual({ ok: true });
    expect(verifySignedQuery(SECRET, 'live', 'demo', q, NOW, { maxTtlS: 86_400 })).toMatchObject({ ok: false, reason: 'too-long' });
  });

  test('--help prints usage', () => {
    expect(runSign(['--help'], env)).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: sign APP/NAME') });
  });

  test.each([
    [[], 2, 'exactly one'],
    [['live'], 2, 'not APP/NAME'],
    [['live/a/b'], 2, 'not APP/NAME'],
    [['live/bad name'], 2, 'not APP/NAME'],
    [['live/a', 'live/b'], 2, 'exactly one'],
    [['live/a', '--ttl', '0'], 2, '--ttl'],
    [['live/a', '--ttl', 'soon'], 2, '--ttl'],
    [['live/a', '--ttl'], 2, 'needs a value'],
    [['live/a', '--secret', 'x'], 2, 'unknown option --secret'],
    [['live/a', '--base', 'rtmp://host/app'], 2, '--base'],
    [['live/a', '--secret-env', 'NOPE'], 1, 'NOPE is empty'],
    [['live/a', '--ttl', '86401'], 2, 'more than signedUrlMaxTtlS (86400 s, the default)'],
    [['live/a', '--ttl', '601', 'MAX=600'], 2, 'more than signedUrlMaxTtlS (600 s, from CASCADE_SIGNED_URL_MAX_TTL_S)'],
    [['live/a', 'MAX=0'], 1, 'CASCADE_SIGNED_URL_MAX_TTL_S="0" is not a number of seconds'],
    [['live/a', 'MAX=lots'], 1, 'CASCADE_SIGNED_URL_MAX_TTL_S="lots"'],
  ])('refuses %j (exit %d)', (args, code, message) => {
    // A trailing `MAX=N` sets CASCADE_SIGNED_URL_MAX_TTL_S for the case.
    const max = args.find((a) => a.startsWith('MAX='));
    const argv = args.filter((a) => a !== max);
    const r = runSign(argv, max ? { ...env, CASCADE_SIGNED_URL_MAX_TTL_S: max.slice(4) } : env, NOW);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });
});
