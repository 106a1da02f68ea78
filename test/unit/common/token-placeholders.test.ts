/**
 * The shared placeholder check (common/cluster-credentials.ts placeholderProblem) where each role
 * loads its config: discovery's and the edge's apiTokens, the origin's apiTokens and discoveryToken.
 * What the deploy files ship (REPLACE…, change-me) must stop a member at start, not run it open.
 */
import { ConfigError } from '../../../common/config';
import { loadDiscoveryConfig } from '../../../discovery/config';
import { loadEdgeConfig } from '../../../edge/config';
import { loadOriginConfig } from '../../../origin/config';

const GOOD = 'f'.repeat(64);
const loaders: Record<string, (env: Record<string, string>) => unknown> = {
  discovery: (env) => loadDiscoveryConfig({ env }),
  origin: (env) => loadOriginConfig({ env }),
  edge: (env) => loadEdgeConfig({ env }),
};

const cases: Array<[string, Record<string, string>, RegExp | null]> = [];
for (const role of Object.keys(loaders)) {
  cases.push(
    [role, { CASCADE_API_TOKENS: GOOD }, null],
    [role, { CASCADE_API_TOKENS: `${GOOD},admin-token-0123456789` }, null],
    [role, { CASCADE_API_TOKENS: 'REPLACE-with-openssl-rand-hex-32' }, /apiTokens .*placeholder.*CASCADE_API_TOKENS/],
    [role, { CASCADE_API_TOKENS: 'change-me-admin-token' }, /apiTokens still holds a placeholder/],
    [role, { CASCADE_API_TOKENS: 'compose-admin-token-change-me' }, /apiTokens still holds a placeholder/],
    [role, { CASCADE_API_TOKENS: `${GOOD},example-token-0123456789` }, /apiTokens still holds a placeholder/],
    [role, { CASCADE_API_TOKENS: 'password-0123456789' }, /apiTokens still holds a placeholder/],
    [role, { CASCADE_API_TOKENS: 'tok-1' }, /apiTokens is shorter than 16 characters/],
  );
}
cases.push(
  ['origin', { CASCADE_DISCOVERY_TOKEN: GOOD }, null],
  ['origin', { CASCADE_DISCOVERY_TOKEN: 'change-me-discovery-token' }, /discoveryToken still holds a placeholder \(CASCADE_DISCOVERY_TOKEN\)/],
  ['origin', { CASCADE_DISCOVERY_TOKEN: 'secret-discovery-token' }, /discoveryToken still holds a placeholder/],
  ['origin', { CASCADE_DISCOVERY_TOKEN: 'tok-2' }, /discoveryToken is shorter than 16/],
  // the example file's REPLACE placeholders keep their own message (origin-config.test.ts)
  ['origin', { CASCADE_DISCOVERY_TOKEN: 'REPLACE-me' }, /discoveryToken still hold the example's REPLACE placeholder/],
  ['origin', { CASCADE_PUBLISH_SECRET: 'changeme-changeme-changeme' }, /publishSecret still holds a placeholder/],
  ['discovery', { CASCADE_HOST: '0.0.0.0', CASCADE_API_TOKENS: 'change-me-discovery-token' }, /apiTokens still holds a placeholder/],
);

describe('tokens: placeholders and short values refuse to start', () => {
  test.each(cases)('%s %j', (role, env, problem) => {
    const load = (): unknown => loaders[role](env);
    if (problem === null) {
      expect(load).not.toThrow();
      return;
    }
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(problem);
    // the message never repeats the token
    for (const value of Object.values(env)) {
      try {
        load();
      } catch (err) {
        expect((err as Error).message).not.toContain(value);
      }
    }
  });
});
