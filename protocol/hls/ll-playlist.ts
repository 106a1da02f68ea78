/**
 * Low-Latency HLS media playlists (draft-pantos-hls-rfc8216bis-17): rendering, and a parser that
 * reads back what the renderer writes (tests and diagnostics).
 *
 * The playlist is a regular RFC 8216 live playlist (every completed segment has its EXTINF and URI,
 * so players that do not know LL-HLS read it as before) with the low-latency tags added:
 * EXT-X-SERVER-CONTROL (4.4.3.8), EXT-X-PART-INF (4.4.3.7), EXT-X-PROGRAM-DATE-TIME (4.4.4.6)
 * before every segment, EXT-X-PART (4.4.4.9) for the segments near the live edge and for the
 * segment in progress, EXT-X-PRELOAD-HINT (4.4.5.3) for the part being written, and, in a
 * Playlist Delta Update, EXT-X-SKIP (4.4.5.2).
 */
import { formatExtinf } from './playlist';

export interface LlPart {
  uri: string;
  durationMs: number;
  /** The part starts with a keyframe: `INDEPENDENT=YES`. */
  independent: boolean;
}

export interface LlSegment {
  uri: string;
  durationMs: number;
  discontinuity: boolean;
  /** Wall clock (ms since epoch) of the segment's first frame: EXT-X-PROGRAM-DATE-TIME. */
  programDateTimeMs: number;
  /** Listed parts; empty for segments more than three target durations from the live edge. */
  parts: LlPart[];
}

/** The segment being written: its parts so far, no EXTINF yet. */
export interface LlOpenSegment {
  discontinuity: boolean;
  programDateTimeMs: number;
  parts: LlPart[];
}

export interface LlPlaylist {
  /** 3 for a full playlist; a delta update (EXT-X-SKIP) needs 9 (section 8). */
  version: number;
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  partTargetMs: number;
  partHoldBackMs: number;
  /** CAN-SKIP-UNTIL in ms (at least six target durations, 4.4.3.8); absent: no delta updates. */
  canSkipUntilMs?: number;
  /** Segments replaced by EXT-X-SKIP at the top (a delta update); 0 or absent: full playlist. */
  skippedSegments?: number;
  /** Completed segments after the skipped ones, oldest first. */
  segments: LlSegment[];
  open?: LlOpenSegment;
  /** URI of the part being written (`EXT-X-PRELOAD-HINT:TYPE=PART`). */
  preloadHint?: string;
  ended: boolean;
}

/** Seconds with three decimals, as EXTINF uses: attribute decimal-floating-point values. */
export function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** ISO 8601 with milliseconds and zone (4.4.4.6). */
export function programDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

function partLine(p: LlPart): string {
  return `#EXT-X-PART:DURATION=${seconds(p.durationMs)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`;
}

export function renderLlPlaylist(p: LlPlaylist): string {
  const control = ['CAN-BLOCK-RELOAD=YES', `PART-HOLD-BACK=${seconds(p.partHoldBackMs)}`];
  if (p.canSkipUntilMs !== undefined) control.push(`CAN-SKIP-UNTIL=${seconds(p.canSkipUntilMs)}`);
  const skipped = p.skippedSegments ?? 0;
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${skipped > 0 ? Math.max(9, p.version) : p.version}`,
    `#EXT-X-TARGETDURATION:${p.targetDuration}`,
    `#EXT-X-SERVER-CONTROL:${control.join(',')}`,
    `#EXT-X-PART-INF:PART-TARGET=${seconds(p.partTargetMs)}`,
    `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`,
  ];
  if (p.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  for (const s of p.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${programDateTime(s.programDateTimeMs)}`);
    for (const part of s.parts) lines.push(partLine(part));
    lines.push(formatExtinf(s.durationMs), s.uri);
  }
  if (p.open && !p.ended) {
    if (p.open.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${programDateTime(p.open.programDateTimeMs)}`);
    for (const part of p.open.parts) lines.push(partLine(part));
  }
  if (p.preloadHint !== undefined && !p.ended) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${p.preloadHint}"`);
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** A parsed attribute list (4.2): `KEY=value` pairs, quoted strings unquoted. */
export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Z0-9-]+)=("[^"\r\n]*"|[^,]*)(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length && (m = re.exec(text)) !== null) {
    out.set(m[1], m[2].startsWith('"') ? m[2].slice(1, -1) : m[2]);
    at = re.lastIndex;
  }
  if (at !== text.length) throw new Error(`bad attribute list "${text}"`);
  return out;
}

/** What `parseLlPlaylist` reads back. */
export interface ParsedLlPlaylist {
  version: number;
  targetDuration: number;
  mediaSequence: number;
  serverControl: Map<string, string>;
  partTargetS: number;
  skippedSegments: number;
  segments: Array<{ uri: string; durationS: number; discontinuity: boolean; programDateTime?: string; parts: Array<{ uri: string; durationS: number; independent: boolean }> }>;
  /** Parts after the last EXTINF (the segment in progress). */
  openParts: Array<{ uri: string; durationS: number; independent: boolean }>;
  preloadHint?: string;
  ended: boolean;
}

/** Lenient reader of LL playlists (unknown tags are skipped); throws on malformed tags it knows. */
export function parseLlPlaylist(text: string): ParsedLlPlaylist {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== '#EXTM3U') throw new Error('first line must be #EXTM3U');
  const out: ParsedLlPlaylist = { version: 1, targetDuration: -1, mediaSequence: 0, serverControl: new Map(), partTargetS: -1, skippedSegments: 0, segments: [], openParts: [], ended: false };
  let parts: ParsedLlPlaylist['openParts'] = [];
  let duration: number | undefined;
  let discontinuity = false;
  let pdt: string | undefined;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (!line.startsWith('#')) {
      if (duration === undefined) throw new Error(`URI ${line} without EXTINF`);
      out.segments.push({ uri: line, durationS: duration, discontinuity, programDateTime: pdt, parts });
      parts = [];
      duration = undefined;
      discontinuity = false;
      pdt = undefined;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-VERSION':
        out.version = Number(value);
        break;
      case '#EXT-X-TARGETDURATION':
        out.targetDuration = Number(value);
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        out.mediaSequence = Number(value);
        break;
      case '#EXT-X-SERVER-CONTROL':
        out.serverControl = parseAttributes(value);
        break;
      case '#EXT-X-PART-INF':
        out.partTargetS = Number(parseAttributes(value).get('PART-TARGET'));
        break;
      case '#EXT-X-SKIP':
        out.skippedSegments = Number(parseAttributes(value).get('SKIPPED-SEGMENTS'));
        break;
      case '#EXT-X-DISCONTINUITY':
        discontinuity = true;
        break;
      case '#EXT-X-PROGRAM-DATE-TIME':
        if (Number.isNaN(Date.parse(value))) throw new Error(`bad date ${value}`);
        pdt = value;
        break;
      case '#EXT-X-PART': {
        const a = parseAttributes(value);
        const uri = a.get('URI');
        const d = Number(a.get('DURATION'));
        if (!uri || !Number.isFinite(d)) throw new Error(`bad EXT-X-PART ${value}`);
        parts.push({ uri, durationS: d, independent: a.get('INDEPENDENT') === 'YES' });
        break;
      }
      case '#EXT-X-PRELOAD-HINT': {
        const a = parseAttributes(value);
        if (a.get('TYPE') !== 'PART' || !a.get('URI')) throw new Error(`bad EXT-X-PRELOAD-HINT ${value}`);
        out.preloadHint = a.get('URI');
        break;
      }
      case '#EXTINF':
        duration = Number(value.split(',')[0]);
        break;
      case '#EXT-X-ENDLIST':
        out.ended = true;
        break;
      default:
        break;
    }
  }
  out.openParts = parts;
  return out;
}
