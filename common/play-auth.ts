/**
 * Play admission, shared by origins and edges (docs/play-auth.md): one decision for RTMP play,
 * HTTP-FLV, HLS playlists and HLS segments, made on the **decoded** path (the stream that would be
 * served), never on the raw request line: `/live/cam%2Em3u8` is `/live/cam.m3u8`.
 *
 * A play is admitted by
 * - nothing, when no play secret is configured (`open`);
 * - a viewer signature `expires` + `sign` over app/name/expires (common/signed-url.ts), which
 *   therefore also covers every segment of that stream until it expires (`signature`);
 * - at an origin only: a member credential of role `edge` in `cascade_auth`
 *   (common/cluster-credentials.ts) made with the origin's cluster secret: the edge checked its
 *   viewers itself and pulls with its own identity (`edge`).
 */
import type { Logger } from './logger';
import { CREDENTIAL_QUERY_PARAM, verifyMemberCredential } from './cluster-credentials';
import { isValidStreamPart } from './stream-name';
import { verifySignedQuery, type SignatureFailure, type StreamQuery } from './signed-url';

export type PlayKind = 'rtmp' | 'flv' | 'playlist' | 'segment';

/** What a play request asks for, after decoding. */
export interface PlayPath {
  app: string;
  name: string;
  kind: PlayKind;
}

export interface PlayPolicy {
  /** HMAC secret of viewer signatures; empty: plays are open. */
  playSecret: string;
  /** Cluster secret whose `edge` credentials are accepted in place of a signature; empty: none are. */
  memberSecret: string;
  /** The longest a viewer signature may still be valid (`signedUrlMaxTtlS`); absent: no limit. */
  maxTtlS?: number;
}

export type PlayVerdict =
  | {
      ok: true;
      by: 'open' | 'signature' | 'edge';
      /** The edge id, when an edge credential admitted the play. */
      member?: string;
      /** The query (no `?`) that proves the admission, for the segment URIs of a served playlist; '' when open. */
      proof: string;
    }
  | { ok: false; reason: SignatureFailure | 'credential'; message: string };

const SEGMENT = /^(.+)-(\d{1,15})\.ts$/;
/** An LL-HLS part (protocol/hls/parts.ts): admitted as a segment of its stream. */
const PART = /^(.+)-part(\d{1,15})\.ts$/;

/** What a decoded HTTP file name under `app` serves: a playlist, a segment, HTTP-FLV, or nothing. */
export function playFileOf(app: string, file: string): PlayPath | null {
  if (file.endsWith('.m3u8')) return { app, name: file.slice(0, -5), kind: 'playlist' };
  if (file.endsWith('.flv')) return { app, name: file.slice(0, -4), kind: 'flv' };
  const m = SEGMENT.exec(file) ?? PART.exec(file);
  return m ? { app, name: m[1], kind: 'segment' } : null;
}

/**
 * Decode, then decide: the play an HTTP request path (`/app/file`, query ignored) stands for,
 * each path segment percent-decoded once, as the routers do. null: not a play path.
 */
export function playPathOf(rawPath: string): PlayPath | null {
  const q = rawPath.indexOf('?');
  const parts = (q < 0 ? rawPath : rawPath.slice(0, q)).split('/');
  if (parts.length !== 3 || parts[0] !== '') return null;
  const app = decode(parts[1]);
  const file = decode(parts[2]);
  return app === null || file === null ? null : playFileOf(app, file);
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null; // bad percent-encoding: not a play path (playPathOf answers null, as documented)
  }
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/** The admission decision (pure; no logging). */
export function decidePlay(policy: PlayPolicy, path: PlayPath, query: StreamQuery, nowMs = Date.now()): PlayVerdict {
  if (!isValidStreamPart(path.app) || !isValidStreamPart(path.name)) return { ok: false, reason: 'malformed', message: 'invalid app or stream name' };
  if (!policy.playSecret) return { ok: true, by: 'open', proof: '' };
  const credential = query[CREDENTIAL_QUERY_PARAM];
  let credentialRefused = false;
  if (credential !== undefined && policy.memberSecret) {
    const cred = single(credential);
    const member = verifyMemberCredential(policy.memberSecret, cred);
    if (member?.role === 'edge' && cred !== undefined) return { ok: true, by: 'edge', member: member.id, proof: `${CREDENTIAL_QUERY_PARAM}=${encodeURIComponent(cred)}` };
    credentialRefused = true;
  }
  const verdict = verifySignedQuery(policy.playSecret, path.app, path.name, query, nowMs, policy.maxTtlS !== undefined ? { maxTtlS: policy.maxTtlS } : {});
  if (verdict.ok) {
    const expires = single(query.expires) ?? '';
    const sign = single(query.sign) ?? '';
    return { ok: true, by: 'signature', proof: `expires=${encodeURIComponent(expires)}&sign=${encodeURIComponent(sign)}` };
  }
  // A credential that is not an edge's of this cluster, and no valid signature beside it.
  if (credentialRefused && verdict.reason === 'missing') return { ok: false, reason: 'credential', message: `${CREDENTIAL_QUERY_PARAM} is not an edge credential of this cluster` };
  return verdict;
}

/** The refusal text clients get (RTMP onStatus description, HTTP 403 message). */
export function refusalText(verdict: Extract<PlayVerdict, { ok: false }>): string {
  return `play not authorized: ${verdict.message}`;
}

export interface PlayCheckContext {
  ip: string;
  /** rtmp, http-flv, hls */
  via: string;
  session?: string;
}

/** decidePlay with the policy of one node, a log line per refusal (never the query) and a refusal hook (metrics). */
export class PlayAuth {
  constructor(
    private readonly policy: PlayPolicy,
    private readonly log: Logger,
    private readonly onRefused: (verdict: Extract<PlayVerdict, { ok: false }>) => void = () => undefined,
  ) {}

  get enabled(): boolean {
    return this.policy.playSecret !== '';
  }

  check(path: PlayPath, query: StreamQuery, ctx: PlayCheckContext): PlayVerdict {
    const verdict = decidePlay(this.policy, path, query);
    const stream = `${path.app}/${path.name}`;
    if (!verdict.ok) {
      this.onRefused(verdict);
      this.log.warn({ stream, session: ctx.session, via: ctx.via, kind: path.kind, ip: ctx.ip, reason: verdict.reason }, 'play refused: not authorized');
    } else if (verdict.by === 'edge' && path.kind !== 'segment') {
      this.log.debug({ stream, session: ctx.session, via: ctx.via, edge: verdict.member }, 'play admitted: edge credential');
    }
    return verdict;
  }
}

/**
 * A served playlist whose segment URIs carry `proof` (the query that admitted the playlist): the
 * URI lines, and the `URI="…"` attributes of tags (LL-HLS parts and preload hints).
 */
export function withSegmentProof(playlist: string, proof: string): string {
  if (!proof) return playlist;
  const add = (uri: string) => `${uri}${uri.includes('?') ? '&' : '?'}${proof}`;
  return playlist.replace(/^(?!#)(\S+)$/gm, add).replace(/^(#[^\n]*?[:,]URI=")([^"\n]*)"/gm, (_m, head: string, uri: string) => `${head}${add(uri)}"`);
}
