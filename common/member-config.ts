import { Type } from '@sinclair/typebox';
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

const HOST_ENTRIES =
  'Entries: loopback, private (RFC 1918, fc00::/7), an address, a CIDR, a host name with * wildcards (`*.origins.example.net`), or * (anything). Comma-separated or JSON. docs/security.md.';

/**
 * The `clusterSecret` config field, the same in every member's schema: env only (a flag would show in
 * ps), empty by default. `use` says what this role does with it.
 */
export function clusterSecretField(use: string) {
  return Type.String({
    default: '',
    envOnly: true,
    description: `Shared cluster secret (at least 32 characters; env only, never a flag: it would show in ps). ${use} \`npm start\` generates one. docs/security.md.`,
  });
}

/** The `originHosts` allowlist field of discovery and edges; `use` says what it guards in this role. */
export function originHostsField(use: string) {
  return Type.Array(Type.String({ minLength: 1 }), { default: ['loopback', 'private'], description: `${use} ${HOST_ENTRIES}` });
}
