/**
 * Credentials derived from one cluster secret (docs/security.md "Identities").
 *
 * Every member proves who it is with `ROLE:ID:MAC`, where MAC = hex HMAC-SHA256(clusterSecret,
 * `cascade/ROLE/ID`). Discovery, origins and edges that hold the cluster secret recompute the MAC
 * and compare in constant time, so one secret handed out by the launcher (or a Kubernetes Secret)
 * gives each origin and edge its own identity without a key per member: the credential of
 * origin-1 cannot act as origin-2, and a stranger without the secret can forge none.
 *
 * Roles:
 * - `origin:ID` — may register, heartbeat, claim, renew and release as origin ID (and nothing else).
 * - `edge:ID`   — may read discovery with fencing tokens, and pull any stream from an origin
 *                 without a viewer's signature (the edge checked the viewer itself).
 * - `admin:ID`  — everything (drain, delete, avoid marks); `npm start` writes one to a 0600 file.
 *
 * Ids follow the origin/edge id rule (`[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`), so `:` never occurs in one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { envName } from './config';

export type MemberRole = 'origin' | 'edge' | 'admin';

export interface MemberIdentity {
  role: MemberRole;
  id: string;
}

/** Shortest cluster secret accepted (64 hex digits are generated; 32 characters is the floor). */
export const MIN_CLUSTER_SECRET_LENGTH = 32;

/** Query parameter that carries a member credential on RTMP and HTTP pulls (never logged: redactUrl). */
export const CREDENTIAL_QUERY_PARAM = 'cascade_auth';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CREDENTIAL = /^(origin|edge|admin):([A-Za-z0-9][A-Za-z0-9_.-]{0,63}):([0-9a-f]{64})$/;

function mac(secret: string, role: MemberRole, id: string): string {
  return createHmac('sha256', secret).update(`cascade/${role}/${id}`).digest('hex');
}

/** The credential of member `role:id` under `secret`. */
export function memberCredential(secret: string, role: MemberRole, id: string): string {
  if (secret.length < MIN_CLUSTER_SECRET_LENGTH) throw new Error('cluster secret too short to derive credentials from');
  if (!ID.test(id)) throw new Error(`member id "${id}" is not a valid id`);
  return `${role}:${id}:${mac(secret, role, id)}`;
}

/** Who a credential belongs to, or null when it is malformed or not made with `secret`. */
export function verifyMemberCredential(secret: string, credential: string | undefined): MemberIdentity | null {
  if (!secret || credential === undefined) return null;
  const m = CREDENTIAL.exec(credential);
  if (!m) return null;
  const role = m[1] as MemberRole;
  const expected = Buffer.from(mac(secret, role, m[2]), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(m[3], 'hex'))) return null;
  return { role, id: m[2] };
}

/** Shortest admin/API token or discovery token accepted (`openssl rand -hex 32` makes 64 characters). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * What example files and deploy manifests put where a secret belongs: `REPLACE…`, `change-me` /
 * `changeme` anywhere, or a value that starts with `example`, `secret` or `password`.
 */
const PLACEHOLDER = /^(REPLACE|example|secret|password)|change-?me/i;

/**
 * Why a configured token or secret (`key` names it in the message, with its env var) is unusable:
 * a placeholder, or shorter than MIN_TOKEN_LENGTH characters; null when it is fine or empty (off).
 * The value itself never appears in the message (it ends up in logs).
 */
export function placeholderProblem(key: string, value: string): string | null {
  if (value === '') return null;
  const env = envName(key);
  if (PLACEHOLDER.test(value)) return `${key} still holds a placeholder (${env}): generate a real one (openssl rand -hex 32)`;
  if (value.length < MIN_TOKEN_LENGTH) return `${key} is shorter than ${MIN_TOKEN_LENGTH} characters (${env}): generate a real one (openssl rand -hex 32)`;
  return null;
}

/** The first problem of a token list (`apiTokens`), or null. */
export function tokensProblem(key: string, tokens: readonly string[]): string | null {
  for (const token of tokens) {
    const problem = placeholderProblem(key, token);
    if (problem) return problem;
  }
  return null;
}

/** Why a configured cluster secret is unusable, or null when it is fine. */
export function clusterSecretProblem(secret: string): string | null {
  if (secret === '') return null;
  if (PLACEHOLDER.test(secret)) return 'clusterSecret still holds a placeholder: generate one (openssl rand -hex 32)';
  if (secret.length < MIN_CLUSTER_SECRET_LENGTH) return `clusterSecret is shorter than ${MIN_CLUSTER_SECRET_LENGTH} characters: generate one (openssl rand -hex 32)`;
  return null;
}
