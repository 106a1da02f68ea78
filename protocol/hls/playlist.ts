/**
 * HLS media playlists (RFC 8216): rendering of a live sliding-window playlist, and a strict
 * line-by-line parser (tests and diagnostics use it to check what the segmenter serves).
 */

import { createHash } from 'node:crypto';

/** The strong ETag of a playlist's text (RFC 9110 8.8.3): a SHA-1 of its bytes, base64url, quoted. */
export function playlistEtag(text: string): string {
  return `"${createHash('sha1').update(text).digest('base64url')}"`;
}

export interface PlaylistEntry {
  uri: string;
  durationMs: number;
  /** `#EXT-X-DISCONTINUITY` precedes this segment (RFC 8216 4.3.2.3). */
  discontinuity: boolean;
}

export interface MediaPlaylist {
  /** `#EXT-X-VERSION` (4.3.1.2); 3 allows decimal EXTINF durations. */
  version: number;
  /** `#EXT-X-TARGETDURATION` in whole seconds (4.3.3.1). */
  targetDuration: number;
  /** `#EXT-X-MEDIA-SEQUENCE`: sequence number of the first listed segment (4.3.3.2). */
  mediaSequence: number;
  /** `#EXT-X-DISCONTINUITY-SEQUENCE` (4.3.3.3); written only when > 0. */
  discontinuitySequence: number;
  segments: PlaylistEntry[];
  /** `#EXT-X-ENDLIST` (4.3.3.4). */
  ended: boolean;
}

/** `#EXTINF:<seconds with 3 decimals>,` (4.3.2.1; decimal-floating-point needs version >= 3). */
export function formatExtinf(durationMs: number): string {
  return `#EXTINF:${(Math.max(0, durationMs) / 1000).toFixed(3)},`;
}

export function renderPlaylist(p: MediaPlaylist): string {
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${p.version}`,
    `#EXT-X-TARGETDURATION:${p.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`,
  ];
  // Must appear before the first Media Segment (4.3.3.3).
  if (p.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  for (const s of p.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(formatExtinf(s.durationMs), s.uri);
  }
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

export class PlaylistParseError extends Error {
  readonly code = 'PLAYLIST_INVALID';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PlaylistParseError';
  }
}

const HEADER_TAGS = new Set(['#EXT-X-VERSION', '#EXT-X-TARGETDURATION', '#EXT-X-MEDIA-SEQUENCE', '#EXT-X-DISCONTINUITY-SEQUENCE']);

/**
 * Parses a media playlist using only the tags `renderPlaylist` writes; anything else is an error,
 * so tests notice unexpected output. Blank lines and `#` comments are ignored (4.1).
 */
export function parsePlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== '#EXTM3U') throw new PlaylistParseError(1, 'first line must be #EXTM3U (4.3.1.1)');
  const out: MediaPlaylist = { version: 1, targetDuration: -1, mediaSequence: 0, discontinuitySequence: 0, segments: [], ended: false };
  const seen = new Set<string>();
  let pendingDuration: number | undefined;
  let pendingDiscontinuity = false;
  let extinfLine = 0;
  const extinfLines: number[] = [];

  const int = (v: string, n: number): number => {
    if (!/^\d+$/.test(v)) throw new PlaylistParseError(n, `"${v}" is not a decimal-integer`);
    return Number(v);
  };

  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i];
    if (line === '') continue;
    if (out.ended) throw new PlaylistParseError(n, 'content after #EXT-X-ENDLIST');
    if (!line.startsWith('#')) {
      if (pendingDuration === undefined) throw new PlaylistParseError(n, `URI "${line}" without #EXTINF`);
      out.segments.push({ uri: line, durationMs: pendingDuration, discontinuity: pendingDiscontinuity });
      extinfLines.push(extinfLine);
      pendingDuration = undefined;
      pendingDiscontinuity = false;
      continue;
    }
    if (!line.startsWith('#EXT')) continue; // comment
    const colon = line.indexOf(':');
    const tag = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1);
    if (HEADER_TAGS.has(tag)) {
      if (seen.has(tag)) throw new PlaylistParseError(n, `${tag} appears twice`);
      if (out.segments.length > 0 || pendingDuration !== undefined || pendingDiscontinuity) {
        throw new PlaylistParseError(n, `${tag} after the first segment`);
      }
      seen.add(tag);
    }
    switch (tag) {
      case '#EXT-X-VERSION':
        out.version = int(value, n);
        break;
      case '#EXT-X-TARGETDURATION':
        out.targetDuration = int(value, n);
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        out.mediaSequence = int(value, n);
        break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE':
        out.discontinuitySequence = int(value, n);
        break;
      case '#EXT-X-DISCONTINUITY':
        if (pendingDiscontinuity) throw new PlaylistParseError(n, 'two #EXT-X-DISCONTINUITY in a row');
        pendingDiscontinuity = true;
        break;
      case '#EXTINF': {
        const m = /^(\d+(?:\.\d+)?),(.*)$/.exec(value);
        if (!m) throw new PlaylistParseError(n, `bad #EXTINF "${value}"`);
        if (pendingDuration !== undefined) throw new PlaylistParseError(n, 'two #EXTINF without a URI');
        if (m[1].includes('.') && out.version < 3) throw new PlaylistParseError(n, 'decimal #EXTINF needs #EXT-X-VERSION >= 3');
        pendingDuration = Math.round(Number(m[1]) * 1000);
        extinfLine = n;
        break;
      }
      case '#EXT-X-ENDLIST':
        out.ended = true;
        break;
      default:
        throw new PlaylistParseError(n, `unexpected tag ${tag}`);
    }
  }
  if (pendingDuration !== undefined || pendingDiscontinuity) throw new PlaylistParseError(lines.length, 'playlist ends inside a segment');
  if (out.targetDuration < 0) throw new PlaylistParseError(lines.length, '#EXT-X-TARGETDURATION is required (4.3.3.1)');
  out.segments.forEach((s, i) => {
    // 4.3.3.1: every EXTINF rounded to the nearest integer is <= the target duration.
    if (Math.round(s.durationMs / 1000) > out.targetDuration) {
      throw new PlaylistParseError(extinfLines[i], `${s.uri} lasts ${s.durationMs} ms, over the target duration ${out.targetDuration} s`);
    }
  });
  return out;
}
