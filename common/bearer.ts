import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens (RFC 6750 section 2.1), the one place they are parsed and compared: the node API's
 * write routes (mediaserver/node-api.ts), discovery's principals (discovery/auth.ts) and the HLS
 * CDN secret (mediaserver/hls-routes.ts). Tokens are compared as SHA-256 digests in constant time,
 * every accepted token every time, and never logged.
 */

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer <token>` header; null when absent or not of that shape. */
export function bearerToken(header: string | readonly string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const m = BEARER.exec(header);
  return m ? m[1] : null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A set of accepted tokens (empty strings are ignored). */
export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[] | undefined) {
    this.digests = (tokens ?? []).filter(Boolean).map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Constant-time membership: the time depends on the number of tokens, not on which one matched. */
  has(token: string | null | undefined): boolean {
    if (token === null || token === undefined) return false;
    const given = digest(token);
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(given, d) || ok;
    return ok;
  }
}
