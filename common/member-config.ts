import { clusterSecretProblem, tokensProblem } from './cluster-credentials';
import { ConfigError } from './config';
import { HostAllowlist } from './host-allowlist';

/**
 * The security rules every member's config shares (docs/security.md): a usable cluster secret, API
 * tokens that are not placeholders, and an `originHosts` list that parses. Throws ConfigError.
 */
export function checkMemberSecurity(config: { clusterSecret: string; apiTokens: readonly string[]; originHosts?: readonly string[] }): void {
  const problem = clusterSecretProblem(config.clusterSecret) ?? tokensProblem('apiTokens', config.apiTokens);
  if (problem) throw new ConfigError(problem);
  if (config.originHosts === undefined) return;
  try {
    new HostAllowlist(config.originHosts);
  } catch (err) {
    throw new ConfigError(`originHosts: ${(err as Error).message}`);
  }
}
