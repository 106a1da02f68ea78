/**
 * The pure half of the chaos suite: what the samplers recorded in, the table's numbers out.
 * Every function here is a plain computation over timestamps (ms epoch) with table tests in
 * test/unit/chaos-analysis.test.ts; nothing here starts a process or opens a socket.
 */

/** A half-open time window [start, end). */
export interface Window {
  start: number;
  end: number;
}

/**
 * The longest wall-clock gap a viewer saw between media messages in [from, to]: between
 * consecutive arrivals, from `from` to the first arrival and from the last arrival to `to` (a viewer
 * that stopped receiving has been waiting since its last message). Arrivals outside the range are
 * ignored. With no arrival in the range the whole range is one gap.
 */
export function maxArrivalGap(arrivals: readonly number[], from: number, to: number): number {
  if (to <= from) return 0;
  let max = 0;
  let prev = from;
  for (const at of arrivals) {
    if (at < from || at > to) continue;
    max = Math.max(max, at - prev);
    prev = at;
  }
  return Math.max(max, to - prev);
}

/** One poll of an origin's node API: the streams it listed as live ("app/name"), or null when it did not answer. */
export interface OriginSample {
  at: number;
  streams: readonly string[] | null;
}

/**
 * The windows in which `stream` was live according to one origin's samples. A sample's state holds
 * until that origin's next sample (the last one until `end`); an unanswered poll counts as not live
 * (a dead or frozen process serves nothing).
 */
export function liveWindows(samples: readonly OriginSample[], stream: string, end: number): Window[] {
  const out: Window[] = [];
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i];
    if (!s.streams?.includes(stream)) continue;
    const until = Math.min(end, i + 1 < sorted.length ? sorted[i + 1].at : end);
    if (until <= s.at) continue;
    const last = out[out.length - 1];
    if (last && last.end === s.at) last.end = until;
    else out.push({ start: s.at, end: until });
  }
  return out;
}

/** The windows covered by both lists (each sorted and non-overlapping, as liveWindows returns them). */
export function intersectWindows(a: readonly Window[], b: readonly Window[]): Window[] {
  const out: Window[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i].start, b[j].start);
    const end = Math.min(a[i].end, b[j].end);
    if (end > start) {
      const last = out[out.length - 1];
      if (last && last.end === start) last.end = end;
      else out.push({ start, end });
    }
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return out;
}

export function longestWindow(windows: readonly Window[]): number {
  return windows.reduce((max, w) => Math.max(max, w.end - w.start), 0);
}

/**
 * The longest window in which two origins both listed the same stream as live, over every stream
 * and every pair of origins, with who and what it was.
 */
export function longestDualServing(
  origins: Readonly<Record<string, readonly OriginSample[]>>,
  streams: readonly string[],
  end: number,
): { ms: number; stream?: string; origins?: [string, string] } {
  let best: { ms: number; stream?: string; origins?: [string, string] } = { ms: 0 };
  const ids = Object.keys(origins).sort();
  for (const stream of streams) {
    const windows = new Map(ids.map((id) => [id, liveWindows(origins[id], stream, end)]));
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const ms = longestWindow(intersectWindows(windows.get(ids[i]) ?? [], windows.get(ids[j]) ?? []));
        if (ms > best.ms) best = { ms, stream, origins: [ids[i], ids[j]] };
      }
    }
  }
  return best;
}

/**
 * One poll of discovery's `GET /v1/streams`: stream ("app/name") → owning origin id, or null when
 * discovery did not answer with fresh data (no answer, an error, or a stale answer from its cache).
 */
export interface DirectorySample {
  at: number;
  owners: Readonly<Record<string, string>> | null;
}

/** The latest sample taken at or before `at`, if any. */
function latestAt(samples: readonly OriginSample[], at: number): OriginSample | undefined {
  let found: OriginSample | undefined;
  for (const s of samples) if (s.at <= at && (!found || s.at >= found.at)) found = s;
  return found;
}

/**
 * Whether this discovery answer lists every stream on an origin that (by its own latest poll at or
 * before the answer) has the stream live.
 */
export function listsEveryOwner(sample: DirectorySample, origins: Readonly<Record<string, readonly OriginSample[]>>, streams: readonly string[]): boolean {
  if (!sample.owners) return false;
  for (const stream of streams) {
    const owner = sample.owners[stream];
    if (owner === undefined) return false;
    if (!latestAt(origins[owner] ?? [], sample.at)?.streams?.includes(stream)) return false;
  }
  return true;
}

/**
 * How long after `healAt` discovery listed every stream on its live owner again, for good: the
 * first correct answer after the last incorrect one, minus `healAt`. 0 when every answer from just
 * before `healAt` on was correct (discovery never lost track); null when the last answer was still
 * incorrect (it did not recover in the observed window).
 */
export function relistedAfter(
  directory: readonly DirectorySample[],
  origins: Readonly<Record<string, readonly OriginSample[]>>,
  streams: readonly string[],
  healAt: number,
): number | null {
  const sorted = [...directory].sort((a, b) => a.at - b.at);
  const firstAfter = sorted.findIndex((s) => s.at >= healAt);
  if (firstAfter < 0) return null;
  // The answer just before the heal counts too: if it was already wrong, the heal did not fix it by itself.
  const from = Math.max(0, firstAfter - 1);
  let lastBad = -1;
  for (let i = from; i < sorted.length; i++) if (!listsEveryOwner(sorted[i], origins, streams)) lastBad = i;
  if (lastBad < 0) return 0;
  if (lastBad === sorted.length - 1) return null;
  return Math.max(0, sorted[lastBad + 1].at - healAt);
}

/** The most telling line of a failed start: a config problem (`/key: ...`), else an `...Error:` line, else the last line. */
export function firstErrorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^\/\w+: /.test(l)) ?? lines.find((l) => /^\w*Error\b/.test(l)) ?? lines[lines.length - 1] ?? '(no output)';
}

// ------------------------------------------------------------------ the table

export type ScenarioStatus = 'measured' | 'skipped' | 'error';

/** One row of the chaos table (also the summary part of each scenario in the JSON results). */
export interface ScenarioRow {
  scenario: string;
  status: ScenarioStatus;
  /** Encoders whose ffmpeg was disconnected at least once after the fault, of `publishers`. */
  publishersLost: number;
  publishers: number;
  /** Viewers whose connection to the edge closed at least once after the fault, of `viewers`. */
  viewersDisconnected: number;
  viewers: number;
  /** Largest arrival gap between media messages at any viewer, fault to end of observation. */
  maxViewerGapMs: number | null;
  /** relistedAfter: ms after the heal; null: not within the observed window. */
  relistedMs: number | null;
  /** How long after the heal the scenario kept observing (bounds relistedMs when it is null). */
  observedMs: number;
  /** longestDualServing over every stream and origin pair. */
  dualServingMs: number;
  notes: string[];
}

function ms(v: number | null): string {
  if (v === null) return '—';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

/** One cell; pipes and newlines would break the row. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

export const TABLE_COLUMNS = ['scenario', 'publishers lost', 'viewers disconnected', 'max viewer gap', 'relisted after heal', 'dual-serving window', 'notes'] as const;

/** The chaos table as GitHub markdown, one row per scenario in the given order. */
export function renderTable(rows: readonly ScenarioRow[]): string {
  const lines = [`| ${TABLE_COLUMNS.join(' | ')} |`, `|${TABLE_COLUMNS.map((c) => (c === 'scenario' || c === 'notes' ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) {
    const measured = r.status === 'measured';
    const cells = measured
      ? [
          r.scenario,
          `${r.publishersLost}/${r.publishers}`,
          `${r.viewersDisconnected}/${r.viewers}`,
          ms(r.maxViewerGapMs),
          r.relistedMs === null ? `not within ${ms(r.observedMs)}` : ms(r.relistedMs),
          ms(r.dualServingMs),
          r.notes.join('; '),
        ]
      : [r.scenario, '—', '—', '—', '—', '—', `${r.status}: ${r.notes.join('; ')}`];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}
