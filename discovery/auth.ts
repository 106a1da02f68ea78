import type { FastifyRequest } from 'fastify';
import { bearerToken, TokenSet } from '../common/bearer';
import { verifyMemberCredential } from '../common/cluster-credentials';
import { CascadeError } from '../common/errors';

/**
 * Who is calling discovery, and what they may do (docs/security.md "Discovery").
 *
 * - `admin`: an `apiTokens` token or an `admin:` member credential. Everything.
 * - `origin X`: the member credential of origin X (derived from the cluster secret). May register,
 *   heartbeat, deregister, claim, renew, release and avoid **as X only**, and read.
 * - `edge X`: an edge credential. Reads (with fencing tokens); its own edge registry entry
 *   (heartbeat, deregister: `edgeWrite` + `actAsEdge`); no other writes.
 * - `reader`: a `readTokens` token. Reads (with fencing tokens); no writes.
 * - `anonymous`: no Authorization header. Reads unless `protectReads`; fencing tokens are left out.
 *
 * A discovery without any credential configured (no cluster secret, no API token) is open: every
 * caller is admin. It refuses to start on a non-loopback address (config.ts, protected mode).
 * Tokens are compared as SHA-256 digests in constant time and never logged.
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'origin'; id: string }
  | { kind: 'edge'; id: string }
  | { kind: 'reader' }
  | { kind: 'anonymous' };

export type AuthHook = (request: FastifyRequest) => Promise<void>;

export interface AuthConfig {
  apiTokens: readonly string[];
  readTokens: readonly string[];
  protectReads: boolean;
  clusterSecret: string;
}

const OPEN: Principal = { kind: 'admin' };
const ANONYMOUS: Principal = { kind: 'anonymous' };

export class DiscoveryAuth {
  /** Whether writes need a credential (an API token or a cluster secret is configured). */
  readonly enabled: boolean;
  /** Whether any credential at all is configured (otherwise every caller is admin). */
  private readonly anyCredential: boolean;
  private readonly adminTokens: TokenSet;
  private readonly readTokens: TokenSet;
  private readonly principals = new WeakMap<FastifyRequest, Principal>();

  constructor(private readonly config: AuthConfig) {
    this.adminTokens = new TokenSet(config.apiTokens);
    this.readTokens = new TokenSet(config.readTokens);
    this.enabled = config.apiTokens.length > 0 || config.clusterSecret !== '';
    this.anyCredential = this.enabled || config.readTokens.length > 0;
  }

  /** The caller of a request; a present but unknown credential is 401 (never silently anonymous). */
  identify(request: FastifyRequest): Principal {
    const known = this.principals.get(request);
    if (known) return known;
    const principal = this.resolve(request);
    this.principals.set(request, principal);
    return principal;
  }

  private resolve(request: FastifyRequest): Principal {
    if (!this.anyCredential) return OPEN;
    const header = request.headers.authorization;
    if (header === undefined) return ANONYMOUS;
    const token = bearerToken(header);
    if (token === null) throw new CascadeError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    const member = verifyMemberCredential(this.config.clusterSecret, token);
    if (member) return member.role === 'admin' ? { kind: 'admin' } : { kind: member.role, id: member.id };
    if (this.adminTokens.has(token)) return { kind: 'admin' };
    if (this.readTokens.has(token)) return { kind: 'reader' };
    throw new CascadeError('UNAUTHORIZED', 'the bearer token is not valid here');
  }

  /** onRequest of reads: identifies the caller; anonymous callers are refused when reads are protected. */
  readonly read: AuthHook = async (request) => {
    const who = this.identify(request);
    if (who.kind === 'anonymous' && this.config.protectReads) throw new CascadeError('UNAUTHORIZED', 'reads need Authorization: Bearer <token> on this discovery');
  };

  /** onRequest of writes: a member or admin credential; which origin it may act for is checked by `actAs`. */
  readonly write: AuthHook = async (request) => {
    const who = this.identify(request);
    if (!this.enabled) return;
    if (who.kind === 'anonymous') throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <credential>');
    if (who.kind === 'reader' || who.kind === 'edge') throw new CascadeError('FORBIDDEN', `a ${who.kind} credential may read but not write`);
  };

  /** onRequest of an edge's own writes (its registration and heartbeat): an edge or admin credential. */
  readonly edgeWrite: AuthHook = async (request) => {
    const who = this.identify(request);
    if (!this.enabled) return;
    if (who.kind === 'anonymous') throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <edge credential>');
    if (who.kind !== 'edge' && who.kind !== 'admin') throw new CascadeError('FORBIDDEN', 'only an edge (or an admin) may do this');
  };

  /** 403 unless the caller is admin or edge `edgeId` itself. */
  actAsEdge(request: FastifyRequest, edgeId: string): void {
    const who = this.identify(request);
    if (who.kind === 'admin' || !this.enabled) return;
    if (who.kind === 'edge' && who.id === edgeId) return;
    throw new CascadeError('FORBIDDEN', who.kind === 'edge' ? `this credential is edge ${who.id}'s; it cannot act as edge ${edgeId}` : 'only the edge itself (or an admin) may do this');
  }

  /** onRequest of administrative routes. */
  readonly admin: AuthHook = async (request) => {
    const who = this.identify(request);
    if (who.kind === 'anonymous') throw new CascadeError('UNAUTHORIZED', 'this route needs Authorization: Bearer <admin token>');
    if (who.kind !== 'admin') throw new CascadeError('FORBIDDEN', 'this route needs an admin token');
  };

  /** 403 unless the caller is admin or origin `originId` itself. */
  actAs(request: FastifyRequest, originId: string): void {
    const who = this.identify(request);
    if (who.kind === 'admin' || !this.enabled) return;
    if (who.kind === 'origin' && who.id === originId) return;
    if (who.kind === 'origin') throw new CascadeError('FORBIDDEN', `this credential is origin ${who.id}'s; it cannot act as origin ${originId}`);
    throw new CascadeError('FORBIDDEN', 'only the origin itself (or an admin) may do this');
  }

  /** Whether answers to this caller may carry fencing tokens (any authenticated caller; anyone while writes are open). */
  seesTokens(request: FastifyRequest): boolean {
    return !this.enabled || this.identify(request).kind !== 'anonymous';
  }
}
