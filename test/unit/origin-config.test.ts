import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, envName, parseFlags } from '../../common/config';
import { loadOriginConfig, OriginConfigSchema } from '../../origin/config';

const EXAMPLE = path.resolve(__dirname, '..', '..', 'origin', 'origin.production.example.json');
const SECRET = 'a'.repeat(64);

describe('origin config: auth, webhooks, API keys', () => {
  test('defaults: everything off (npm start needs no secret)', () => {
    expect(loadOriginConfig()).toMatchObject({
      apiTokens: [],
      publishSecret: '',
      playSecret: '',
      webhookOnPublish: '',
      webhookOnUnpublish: '',
      webhookOnPlay: '',
      webhookOnStop: '',
      webhookSecret: '',
      webhookTimeoutMs: 2000,
      webhookFailOpen: false,
      signedUrlMaxTtlS: 86_400,
    });
    expect(envName('signedUrlMaxTtlS')).toBe('CASCADE_SIGNED_URL_MAX_TTL_S');
  });

  test('env names the sign CLI and the deploy manifests use', () => {
    expect(envName('publishSecret')).toBe('CASCADE_PUBLISH_SECRET');
    expect(envName('playSecret')).toBe('CASCADE_PLAY_SECRET');
    expect(envName('apiTokens')).toBe('CASCADE_API_TOKENS');
    expect(envName('webhookOnPublish')).toBe('CASCADE_WEBHOOK_ON_PUBLISH');
    expect(envName('webhookFailOpen')).toBe('CASCADE_WEBHOOK_FAIL_OPEN');
  });

  test('from env and flags: token lists, hook URLs, booleans', () => {
    const config = loadOriginConfig({
      env: { CASCADE_API_TOKENS: 'admin-token-aaaaaaaa,admin-token-bbbbbbbb', CASCADE_PUBLISH_SECRET: SECRET, CASCADE_WEBHOOK_FAIL_OPEN: 'true' },
      flags: parseFlags(['--webhook-on-publish', 'http://hooks.local:9000/on_publish', '--webhook-timeout-ms', '500', '--api-tokens', '["admin-token-cccccccc"]']),
    });
    expect(config).toMatchObject({ apiTokens: ['admin-token-cccccccc'], publishSecret: SECRET, webhookFailOpen: true, webhookOnPublish: 'http://hooks.local:9000/on_publish', webhookTimeoutMs: 500 });
  });

  test.each([
    [{ CASCADE_PUBLISH_SECRET: 'short' }, /publishSecret is shorter than 16/],
    [{ CASCADE_WEBHOOK_SECRET: 'short' }, /webhookSecret is shorter than 16/],
    [{ CASCADE_WEBHOOK_ON_PLAY: 'ftp://x' }, /webhookOnPlay/],
    [{ CASCADE_WEBHOOK_TIMEOUT_MS: '10' }, /webhookTimeoutMs/],
    [{ CASCADE_PLAY_SECRET: 'REPLACE-me-please-0123' }, /playSecret still hold the example's REPLACE placeholder/],
    [{ CASCADE_SIGNED_URL_MAX_TTL_S: '0' }, /signedUrlMaxTtlS/],
    [{ CASCADE_SIGNED_URL_MAX_TTL_S: '59' }, /signedUrlMaxTtlS/],
    [{ CASCADE_SIGNED_URL_MAX_TTL_S: String(367 * 86_400) }, /signedUrlMaxTtlS/],
  ])('refuses %j', (env, message) => {
    expect(() => loadOriginConfig({ env })).toThrow(ConfigError);
    expect(() => loadOriginConfig({ env })).toThrow(message);
  });

  describe('secrets in two roles are refused (names the keys, never the value)', () => {
    const A = `a-${'1'.repeat(40)}`;
    const B = `b-${'2'.repeat(40)}`;
    test.each([
      ['publish = play', { CASCADE_PUBLISH_SECRET: A, CASCADE_PLAY_SECRET: A }, "publishSecret and playSecret must differ: a viewer's URL would let them publish"],
      ['webhook = publish', { CASCADE_PUBLISH_SECRET: A, CASCADE_WEBHOOK_SECRET: A }, 'webhookSecret and publishSecret must differ'],
      ['webhook = play', { CASCADE_PLAY_SECRET: A, CASCADE_WEBHOOK_SECRET: A }, 'webhookSecret and playSecret must differ'],
      ['webhook = cluster', { CASCADE_CLUSTER_SECRET: A, CASCADE_WEBHOOK_SECRET: A }, 'webhookSecret and clusterSecret must differ'],
      ['publish = cluster', { CASCADE_CLUSTER_SECRET: A, CASCADE_PUBLISH_SECRET: A }, 'publishSecret and clusterSecret must differ'],
      ['all three equal: the publish/play message first', { CASCADE_PUBLISH_SECRET: A, CASCADE_PLAY_SECRET: A, CASCADE_WEBHOOK_SECRET: A }, 'publishSecret and playSecret must differ'],
      ['all different', { CASCADE_PUBLISH_SECRET: A, CASCADE_PLAY_SECRET: B, CASCADE_WEBHOOK_SECRET: `c-${'3'.repeat(40)}`, CASCADE_CLUSTER_SECRET: `d-${'4'.repeat(40)}` }, null],
      ['empty ones are "off", not equal', { CASCADE_PUBLISH_SECRET: '', CASCADE_PLAY_SECRET: '', CASCADE_WEBHOOK_SECRET: '' }, null],
    ])('%s', (_what, env, message) => {
      if (message === null) {
        expect(() => loadOriginConfig({ env })).not.toThrow();
        return;
      }
      let err: unknown;
      try {
        loadOriginConfig({ env });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(message);
      expect((err as Error).message).not.toContain(A);
    });

    test('the flag form is refused the same way', () => {
      expect(() => loadOriginConfig({ flags: parseFlags(['--publish-secret', A, '--play-secret', A]) })).toThrow(/publishSecret and playSecret must differ/);
    });
  });

  test('every key has a default and a description', () => {
    for (const [key, s] of Object.entries(OriginConfigSchema.properties)) {
      expect({ key, hasDefault: 'default' in s, description: typeof (s as { description?: string }).description }).toEqual({ key, hasDefault: true, description: 'string' });
    }
  });
});

describe('origin/origin.production.example.json', () => {
  test('lists every key in schema order, with publish auth on and writes enabled', () => {
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(example).filter((k) => !k.startsWith('$'))).toEqual(Object.keys(OriginConfigSchema.properties));
    expect(example.publishSecret).not.toBe('');
    expect(example.apiTokens).toHaveLength(1);
    expect(example.webhookFailOpen).toBe(false);
  });

  test('refuses to start while placeholders are left; env overrides them', () => {
    expect(() => loadOriginConfig({ flags: parseFlags(['--config', EXAMPLE]) })).toThrow(/clusterSecret, publishSecret, apiTokens still hold the example's REPLACE placeholder/);
    const config = loadOriginConfig({
      env: { CASCADE_CONFIG: EXAMPLE, CASCADE_PUBLISH_SECRET: SECRET, CASCADE_CLUSTER_SECRET: 'c'.repeat(64), CASCADE_API_TOKENS: 'admin-token-0123456789' },
      flags: parseFlags(['--http-port', '9081']),
    });
    expect(config).toMatchObject({ host: '0.0.0.0', publicHost: 'origin-1.example.net', capacity: 48, publishSecret: SECRET, apiTokens: ['admin-token-0123456789'], httpPort: 9081 });
  });

  test('a config file with an unknown key or bad JSON is a ConfigError', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'origin-config-'));
    writeFileSync(path.join(dir, 'bad.json'), '{"rtmpPrt": 1}');
    writeFileSync(path.join(dir, 'broken.json'), '{');
    expect(() => loadOriginConfig({ flags: { '--config': path.join(dir, 'bad.json') } })).toThrow(/unknown key "rtmpPrt"/);
    expect(() => loadOriginConfig({ flags: { '--config': path.join(dir, 'broken.json') } })).toThrow(/cannot read config file/);
    expect(() => loadOriginConfig({ flags: { '--config': path.join(dir, 'missing.json') } })).toThrow(ConfigError);
  });
});
