import { HostAllowlist } from '../../../common/host-allowlist';

describe('HostAllowlist', () => {
  const defaults = new HostAllowlist(['loopback', 'private']);
  test.each([
    ['127.0.0.1', true],
    ['127.9.9.9', true],
    ['[::1]', true],
    ['::1', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['10.2.3.4', true],
    ['172.31.0.1', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['fd12::1', true],
    ['169.254.169.254', false],
    ['::ffff:169.254.169.254', false],
    ['::ffff:127.0.0.1', true],
    ['8.8.8.8', false],
    ['evil.example.com', false],
    ['localhost.evil.com', false],
  ])('defaults: %s → %s', (host, allowed) => {
    expect(defaults.allows(host)).toBe(allowed);
  });

  const custom = new HostAllowlist(['*.origins.example.net', 'origin-*', '203.0.113.0/24', '2001:db8::7']);
  test.each([
    ['a.origins.example.net', true],
    ['origins.example.net', false],
    ['a.origins.example.net.evil.com', false],
    ['origin-3', true],
    ['203.0.113.77', true],
    ['203.0.114.1', false],
    ['2001:db8::7', true],
    ['127.0.0.1', false],
  ])('custom: %s → %s', (host, allowed) => {
    expect(custom.allows(host)).toBe(allowed);
  });

  test.each([['10.0.0.0/33'], ['not a host!'], ['1.2.3.4/x'], ['']])('rejects entry %j', (entry) => {
    expect(() => new HostAllowlist([entry])).toThrow(/is not/);
  });

  test('allowsUrl and *', () => {
    expect(defaults.allowsUrl('rtmp://127.0.0.1:1936')).toBe(true);
    expect(defaults.allowsUrl('http://[::1]:80')).toBe(true);
    expect(defaults.allowsUrl('http://example.com')).toBe(false);
    expect(defaults.allowsUrl('::nonsense')).toBe(false);
    expect(new HostAllowlist(['*']).allows('anything.example')).toBe(true);
  });
});
