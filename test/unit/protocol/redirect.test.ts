import { nextRedirectUrl, RedirectChain, RedirectLoopError, TooManyRedirectsError } from '../../../protocol/redirect';
import { RtmpUrlError } from '../../../protocol/rtmp/errors';
import { normalizeRtmpUrl, parseRtmpUrl } from '../../../protocol/rtmp/url';

describe('parseRtmpUrl', () => {
  test.each([
    ['rtmp://h/live/s', { host: 'h', port: 1935, app: 'live', stream: 's', query: '', tcUrl: 'rtmp://h:1935/live', streamWithQuery: 's' }],
    ['rtmp://h:1936/live/s?token=a&x=1', { host: 'h', port: 1936, app: 'live', stream: 's', query: 'token=a&x=1', tcUrl: 'rtmp://h:1936/live', streamWithQuery: 's?token=a&x=1' }],
    ['rtmp://h/live', { host: 'h', port: 1935, app: 'live', stream: '', query: '', tcUrl: 'rtmp://h:1935/live', streamWithQuery: '' }],
    ['rtmp://h/live/a/b.flv', { host: 'h', port: 1935, app: 'live', stream: 'a/b.flv', query: '', tcUrl: 'rtmp://h:1935/live', streamWithQuery: 'a/b.flv' }],
    ['rtmp://[::1]:2000/live/s', { host: '[::1]', port: 2000, app: 'live', stream: 's', query: '', tcUrl: 'rtmp://[::1]:2000/live', streamWithQuery: 's' }],
  ])('%s', (url, expected) => {
    expect(parseRtmpUrl(url)).toEqual(expected);
  });

  test.each(['http://h/live/s', 'rtmp://h', 'rtmp://h/', 'not a url', 'rtmp://h:0/live'])('%s → RtmpUrlError', (url) => {
    expect(() => parseRtmpUrl(url)).toThrow(RtmpUrlError);
  });

  test('normalizeRtmpUrl writes the default port and lower-cases the host', () => {
    expect(normalizeRtmpUrl('rtmp://Origin-1/live/s?t=1')).toBe('rtmp://origin-1:1935/live/s?t=1');
  });
});

describe('nextRedirectUrl (docs/design.md section 2)', () => {
  test.each([
    ['app-only redirect keeps stream and query', 'rtmp://edge/live/cam?token=abc', { redirect: 'rtmp://o2:1937/live' }, 'rtmp://o2:1937/live/cam?token=abc'],
    ['full redirect2 replaces stream, keeps query when it has none', 'rtmp://edge/live/cam?token=abc', { redirect2: 'rtmp://o2:1937/live/cam2' }, 'rtmp://o2:1937/live/cam2?token=abc'],
    ['redirect2 query wins over the current query', 'rtmp://edge/live/cam?token=abc', { redirect2: 'rtmp://o2:1937/live/cam?token=new' }, 'rtmp://o2:1937/live/cam?token=new'],
    ['redirect2 is preferred over redirect', 'rtmp://edge/live/cam', { redirect: 'rtmp://o1:1936/live', redirect2: 'rtmp://o2:1937/live/cam' }, 'rtmp://o2:1937/live/cam'],
    ['an empty redirect2 falls back to redirect', 'rtmp://edge/live/cam', { redirect: 'rtmp://o1:1936/live', redirect2: '' }, 'rtmp://o1:1936/live/cam'],
    ['default port is written out', 'rtmp://edge:1935/live/cam', { redirect: 'rtmp://o1/live' }, 'rtmp://o1:1935/live/cam'],
    ['another app is taken from the redirect', 'rtmp://edge/live/cam', { redirect: 'rtmp://o1:1936/other' }, 'rtmp://o1:1936/other/cam'],
    ['no query anywhere', 'rtmp://edge/live/cam', { redirect: 'rtmp://o1:1936/live' }, 'rtmp://o1:1936/live/cam'],
  ])('%s', (_name, current, ex, expected) => {
    expect(nextRedirectUrl(current, ex)).toBe(expected);
  });

  test('a redirect without a target is an RtmpUrlError', () => {
    expect(() => nextRedirectUrl('rtmp://edge/live/cam', {})).toThrow(RtmpUrlError);
  });
});

describe('RedirectChain', () => {
  type Case = [string, string, string[], 'ok' | 'loop' | 'too-many', number];
  test.each<Case>([
    ['one hop', 'rtmp://a/live/s', ['rtmp://b/live/s'], 'ok', 1],
    ['three hops are allowed', 'rtmp://a/live/s', ['rtmp://b/live/s', 'rtmp://c/live/s', 'rtmp://d/live/s'], 'ok', 3],
    ['a fourth hop is too many', 'rtmp://a/live/s', ['rtmp://b/live/s', 'rtmp://c/live/s', 'rtmp://d/live/s', 'rtmp://e/live/s'], 'too-many', 0],
    ['back to the start is a loop', 'rtmp://a/live/s', ['rtmp://b/live/s', 'rtmp://a/live/s'], 'loop', 0],
    ['a loop via the default port is detected', 'rtmp://a/live/s', ['rtmp://b/live/s', 'rtmp://a:1935/live/s'], 'loop', 0],
    ['a loop via host case is detected', 'rtmp://a/live/s', ['rtmp://A:1935/live/s'], 'loop', 0],
    ['redirect to itself is a loop', 'rtmp://a:1936/live/s', ['rtmp://a:1936/live/s'], 'loop', 0],
    ['same host, another port is no loop', 'rtmp://a:1936/live/s', ['rtmp://a:1937/live/s'], 'ok', 1],
    ['same host, another query is no loop', 'rtmp://a/live/s?x=1', ['rtmp://a/live/s?x=2'], 'ok', 1],
  ])('%s', (_name, start, hops, outcome, expectedHops) => {
    const chain = new RedirectChain(start);
    const run = (): void => hops.forEach((u) => chain.follow(u));
    if (outcome === 'ok') {
      run();
      expect(chain.hops).toBe(expectedHops);
      expect(chain.urls).toEqual([start, ...hops]);
    } else {
      expect(run).toThrow(outcome === 'loop' ? RedirectLoopError : TooManyRedirectsError);
    }
  });

  test('maxHops is configurable; errors carry stable codes and the chain', () => {
    const chain = new RedirectChain('rtmp://a/live/s', 1);
    chain.follow('rtmp://b/live/s');
    try {
      chain.follow('rtmp://c/live/s');
      throw new Error('expected TooManyRedirectsError');
    } catch (err) {
      expect(err).toBeInstanceOf(TooManyRedirectsError);
      expect((err as TooManyRedirectsError).code).toBe('RTMP_TOO_MANY_REDIRECTS');
      expect((err as TooManyRedirectsError).urls).toEqual(['rtmp://a/live/s', 'rtmp://b/live/s', 'rtmp://c/live/s']);
    }
    try {
      new RedirectChain('rtmp://a/live/s').follow('rtmp://a/live/s');
    } catch (err) {
      expect((err as RedirectLoopError).code).toBe('RTMP_REDIRECT_LOOP');
    }
  });
});

describe('playWithRedirects allowHost (edge originHosts)', () => {
  test('a 302 to a host that is not allowed is refused before anything is sent there', async () => {
    const { playWithRedirects, RedirectRefusedError } = await import('../../../protocol/redirect');
    const { RtmpClient } = await import('../../../protocol/rtmp/client');
    const { RedirectingOrigin } = await import('../../helpers/fake-origin');
    const origin = new RedirectingOrigin(() => 'rtmp://evil.example:1935/live');
    const base = await origin.listen();
    const contacted: string[] = [];
    try {
      const play = playWithRedirects(`${base}/live/cam?cascade_auth=edge:edge-1:${'0'.repeat(64)}`, {
        timeoutMs: 5000,
        allowHost: (host) => host === '127.0.0.1',
        connect: (url, opts) => {
          contacted.push(new URL(url).host);
          return RtmpClient.connect(url, opts);
        },
      });
      await expect(play).rejects.toBeInstanceOf(RedirectRefusedError);
      await expect(play).rejects.toMatchObject({ code: 'RTMP_REDIRECT_REFUSED', host: 'evil.example' });
      await play.catch((err: Error) => expect(err.message).not.toContain('cascade_auth'));
      expect(origin.plays).toBe(1);
      expect(contacted).toEqual([new URL(base).host]);
    } finally {
      await origin.close();
    }
  });
});
