/**
 * Signed publish and play URLs: `rtmp://host/app/name?expires=<unix s>&sign=<hex>` with
 * sign = HMAC-SHA256(secret, `app/name/expires`) in lower-case hex. The signature covers the app,
 * the stream name and the expiry, so a URL cannot be reused for another stream or after it expires.
 * Verification compares in constant time. Never log a signed URL unredacted (common/logger redactUrl).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureFailure = 'missing' | 'malformed' | 'expired' | 'invalid' | 'too-long';

/** Default and bounds of the longest a signed URL may be valid (config `signedUrlMaxTtlS`). */
export const DEFAULT_SIGNED_URL_MAX_TTL_S = 86_400;
export const MIN_SIGNED_URL_MAX_TTL_S = 60;
export const MAX_SIGNED_URL_MAX_TTL_S = 366 * 86_400;

export interface VerifyOptions {
  /**
   * The furthest `expires` may lie ahead of now, in seconds: a URL valid for longer is refused
   * (`too-long`), so a leaked URL cannot be used for years. Absent: no limit (callers that serve
   * clients should always pass it; origins pass `signedUrlMaxTtlS`).
   */
  maxTtlS?: number;
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: SignatureFailure; message: string };

/** A stream's query as node-media-server parses it (`querystring.parse`). */
export type StreamQuery = Record<string, string | string[] | undefined>;

const EXPIRES = /^\d{1,12}$/;
const SIGN = /^[0-9a-fA-F]{64}$/;

export function signature(secret: string, app: string, name: string, expires: number): string {
  return createHmac('sha256', secret).update(`${app}/${name}/${expires}`).digest('hex');
}

/** `expires=<unix s>&sign=<hex>` valid for `ttlSeconds` from `nowMs`. */
export function signedQuery(secret: string, app: string, name: string, ttlSeconds: number, nowMs = Date.now()): string {
  if (!secret) throw new Error('empty secret: nothing to sign with');
  const expires = Math.floor(nowMs / 1000) + Math.max(0, Math.floor(ttlSeconds));
  return `expires=${expires}&sign=${signature(secret, app, name, expires)}`;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/** Checks `expires` and `sign` of a stream query against app/name (and `expires` against `opts.maxTtlS`). */
export function verifySignedQuery(secret: string, app: string, name: string, query: StreamQuery, nowMs = Date.now(), opts: VerifyOptions = {}): SignatureVerdict {
  const rawExpires = query.expires;
  const rawSign = query.sign;
  if (rawExpires === undefined && rawSign === undefined) return { ok: false, reason: 'missing', message: 'the URL is not signed (expires and sign missing)' };
  const expires = single(rawExpires);
  const sign = single(rawSign);
  if (expires === undefined || !EXPIRES.test(expires)) return { ok: false, reason: 'malformed', message: 'expires must be a unix time in seconds' };
  if (sign === undefined || !SIGN.test(sign)) return { ok: false, reason: 'malformed', message: 'sign must be 64 hex digits (HMAC-SHA256)' };
  const expected = Buffer.from(signature(secret, app, name, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sign, 'hex'))) return { ok: false, reason: 'invalid', message: 'signature does not match' };
  // Checked after the signature so an attacker learns nothing about expiry from forged URLs.
  const nowS = Math.floor(nowMs / 1000);
  if (Number(expires) < nowS) return { ok: false, reason: 'expired', message: 'the signed URL has expired' };
  if (opts.maxTtlS !== undefined && Number(expires) > nowS + opts.maxTtlS) {
    return { ok: false, reason: 'too-long', message: `expires is more than signedUrlMaxTtlS (${opts.maxTtlS} s) ahead: sign a shorter-lived URL` };
  }
  return { ok: true };
}

/** Parses a query string (`a=1&b=2`, with or without `?`) into the shape NMS gives sessions. */
export function parseQuery(query: string): StreamQuery {
  const out: StreamQuery = {};
  for (const [k, v] of new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}
