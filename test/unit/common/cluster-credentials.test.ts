import { clusterSecretProblem, memberCredential, placeholderProblem, tokensProblem, verifyMemberCredential } from '../../../common/cluster-credentials';

const SECRET = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('member credentials', () => {
  const good = memberCredential(SECRET, 'origin', 'origin-1');
  const flip = (s: string) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0');
  test.each([
    ['its own credential', good, SECRET, { role: 'origin', id: 'origin-1' }],
    ['an edge credential', memberCredential(SECRET, 'edge', 'edge-1'), SECRET, { role: 'edge', id: 'edge-1' }],
    ['another secret', good, OTHER, null],
    ['one flipped digit', flip(good), SECRET, null],
    ['the MAC of origin-1 claimed for origin-2', good.replace('origin-1', 'origin-2'), SECRET, null],
    ['origin MAC relabelled as admin', good.replace(/^origin/, 'admin'), SECRET, null],
    ['upper-case hex', good.toUpperCase(), SECRET, null],
    ['an unknown role', good.replace(/^origin/, 'root'), SECRET, null],
    ['a bare token', 'letmein', SECRET, null],
    ['nothing', undefined, SECRET, null],
    ['no secret configured', good, '', null],
    ['a colon in the id', `origin:a:b:${'0'.repeat(64)}`, SECRET, null],
  ])('%s', (_what, credential, secret, expected) => {
    expect(verifyMemberCredential(secret, credential)).toEqual(expected);
  });

  test('refuses to derive from a short secret or a bad id', () => {
    expect(() => memberCredential('short', 'origin', 'o')).toThrow(/too short/);
    expect(() => memberCredential(SECRET, 'origin', 'a:b')).toThrow(/not a valid id/);
  });
});

describe('clusterSecretProblem', () => {
  test.each([
    ['', null],
    [SECRET, null],
    ['REPLACE_WITH_openssl_rand_hex_32_output_here_xxxxxx', /placeholder/],
    ['change-me-change-me-change-me-change-me', /placeholder/],
    ['0123456789abcdef', /shorter than 32/],
  ])('%j', (secret, expected) => {
    const problem = clusterSecretProblem(secret);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});

describe('placeholderProblem', () => {
  test.each([
    ['', null],
    ['0123456789abcdef', null],
    [SECRET, null],
    ['admin:ops:' + 'f'.repeat(64), null],
    ['sekrit-token-123', null],
    ['REPLACE_WITH_openssl_rand_hex_32', /apiTokens still holds a placeholder \(CASCADE_API_TOKENS\)/],
    ['replace-me-0123456789abcdef', /placeholder/],
    ['change-me-admin-token', /placeholder/],
    ['compose-admin-token-change-me', /placeholder/],
    ['my-CHANGEME-token-0123456789', /placeholder/],
    ['changeme', /placeholder/],
    ['example-token-0123456789', /placeholder/],
    ['secret-0123456789abcdef', /placeholder/],
    ['Password123456789012', /placeholder/],
    ['0123456789abcde', /apiTokens is shorter than 16 characters \(CASCADE_API_TOKENS\)/],
    ['a', /shorter than 16/],
  ])('%j', (value, expected) => {
    const problem = placeholderProblem('apiTokens', value);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  test('names the key and its env var, never the value', () => {
    expect(placeholderProblem('discoveryToken', 'change-me-discovery-token')).toBe(
      'discoveryToken still holds a placeholder (CASCADE_DISCOVERY_TOKEN): generate a real one (openssl rand -hex 32)',
    );
    expect(placeholderProblem('apiTokens', 'short-secretish')).not.toContain('short-secretish');
  });

  test('tokensProblem: the first bad token of a list', () => {
    expect(tokensProblem('apiTokens', [])).toBeNull();
    expect(tokensProblem('apiTokens', [SECRET, OTHER])).toBeNull();
    expect(tokensProblem('apiTokens', [SECRET, 'change-me-0123456789'])).toMatch(/placeholder/);
    expect(tokensProblem('apiTokens', ['short', 'change-me-0123456789'])).toMatch(/shorter than 16/);
  });
});
