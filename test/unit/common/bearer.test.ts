import { bearerToken, TokenSet } from '../../../common/bearer';

/** The one bearer-token helper (node API writes, discovery principals, the HLS CDN secret). */

describe('bearerToken', () => {
  it.each<[string | string[] | undefined, string | null]>([
    [undefined, null],
    ['', null],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    ['Bearer', null],
    ['Bearer ', null],
    ['Bearer a b', null],
    ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', null],
    ['abc', null],
    [['Bearer abc'], null],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('TokenSet', () => {
  const set = new TokenSet(['first-token-0123456789', '', 'second-token-0123456789']);

  it.each<[string | null | undefined, boolean]>([
    ['first-token-0123456789', true],
    ['second-token-0123456789', true],
    ['first-token-012345678', false],
    ['first-token-01234567890', false],
    ['', false],
    [null, false],
    [undefined, false],
  ])('has(%j) = %s', (token, ok) => {
    expect(set.has(token)).toBe(ok);
  });

  it('empty strings are not tokens; an empty set accepts nothing', () => {
    expect(set.size).toBe(2);
    expect(new TokenSet(undefined).size).toBe(0);
    expect(new TokenSet(['']).has('')).toBe(false);
  });
});
