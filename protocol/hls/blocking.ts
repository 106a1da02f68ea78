/**
 * Blocking Playlist Reload and Playlist Delta Updates (draft-pantos-hls-rfc8216bis-17,
 * section 6.2.5): the delivery directives `_HLS_msn`, `_HLS_part`, `_HLS_skip` of a playlist
 * request, whether the playlist can answer one now, and a bounded wait for it. Pure: no I/O, no
 * clock beyond the timer of `waitUntil`.
 */

/** A query as the HTTP layer parsed it: repeated keys give arrays. */
export type DirectiveQuery = Record<string, string | string[] | undefined>;

export interface DeliveryDirectives {
  /** `_HLS_msn`: hold until the playlist has this Media Sequence Number (6.2.5.2). */
  msn?: number;
  /** `_HLS_part`: with msn, hold until that Partial Segment of segment msn exists. */
  part?: number;
  /** `_HLS_skip=YES|v2`: a Playlist Delta Update is acceptable (6.2.5.1). */
  skip: boolean;
}

export type DirectiveError = { code: 'HLS_BAD_DIRECTIVE'; message: string };

/** Decimal-integer (4.2) that fits a JS number exactly; 15 digits are enough for any MSN. */
const DECIMAL = /^\d{1,15}$/;

function one(q: DirectiveQuery, key: string): string | undefined | DirectiveError {
  const v = q[key];
  if (Array.isArray(v)) return { code: 'HLS_BAD_DIRECTIVE', message: `${key} given ${v.length} times` };
  return v;
}

const isError = (v: unknown): v is DirectiveError => typeof v === 'object' && v !== null && 'code' in v;

/** Reads the delivery directives; malformed ones are an error (the route answers 400). */
export function parseDirectives(q: DirectiveQuery): DeliveryDirectives | DirectiveError {
  const msn = one(q, '_HLS_msn');
  const part = one(q, '_HLS_part');
  const skip = one(q, '_HLS_skip');
  for (const v of [msn, part, skip]) if (isError(v)) return v;
  const out: DeliveryDirectives = { skip: false };
  if (msn !== undefined) {
    if (!DECIMAL.test(msn as string)) return { code: 'HLS_BAD_DIRECTIVE', message: '_HLS_msn must be a decimal integer of at most 15 digits' };
    out.msn = Number(msn);
  }
  if (part !== undefined) {
    if (out.msn === undefined) return { code: 'HLS_BAD_DIRECTIVE', message: '_HLS_part needs _HLS_msn (6.2.5.2)' };
    if (!DECIMAL.test(part as string)) return { code: 'HLS_BAD_DIRECTIVE', message: '_HLS_part must be a decimal integer of at most 15 digits' };
    out.part = Number(part);
  }
  if (skip !== undefined) {
    if (skip !== 'YES' && skip !== 'v2') return { code: 'HLS_BAD_DIRECTIVE', message: '_HLS_skip must be YES or v2' };
    out.skip = true;
  }
  return out;
}

/** Where the playlist stands, as blocking requests see it. */
export interface PlaylistPosition {
  /** MSN of the last completed segment; -1 before the first. */
  lastMsn: number;
  /** MSN the segment in progress has (or the next one will have). */
  openMsn: number;
  /** Parts of the segment in progress completed so far. */
  openParts: number;
  ended: boolean;
}

export type BlockingVerdict = 'ready' | 'wait' | 'too-far';

/**
 * 6.2.5.2: ready when the playlist contains segment msn (or a later one), or, with part, Partial
 * Segment `part` of segment msn (a completed segment has all its parts); too far when msn is more
 * than two past the last segment, or part more than the Advance Part Limit past the last part.
 * An ended playlist answers at once.
 */
export function evaluateBlocking(pos: PlaylistPosition, d: DeliveryDirectives, advancePartLimit: number): BlockingVerdict {
  if (d.msn === undefined || pos.ended) return 'ready';
  if (d.msn > pos.lastMsn + 2) return 'too-far';
  if (d.msn <= pos.lastMsn) return 'ready';
  if (d.part === undefined) return 'wait';
  if (d.msn === pos.openMsn) {
    if (d.part < pos.openParts) return 'ready';
    return d.part - (pos.openParts - 1) > advancePartLimit ? 'too-far' : 'wait';
  }
  // The segment after the one in progress: its parts come after the open segment's remaining ones.
  return d.part + 1 > advancePartLimit ? 'too-far' : 'wait';
}

/** Counts blocked requests per key (a stream) and in total; a slot is refused over either limit. */
export class BlockingSlots {
  private readonly byKey = new Map<string, number>();
  private total = 0;
  constructor(
    readonly perKey: number,
    readonly max: number,
  ) {}

  get active(): number {
    return this.total;
  }

  activeFor(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** A release function (idempotent), or undefined when a limit is reached. */
  acquire(key: string): (() => void) | undefined {
    const n = this.byKey.get(key) ?? 0;
    if (n >= this.perKey || this.total >= this.max) return undefined;
    this.byKey.set(key, n + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byKey.get(key) ?? 1) - 1;
      if (left <= 0) this.byKey.delete(key);
      else this.byKey.set(key, left);
    };
  }
}

export type WaitOutcome = 'ready' | 'timeout' | 'aborted';

export interface WaitOptions {
  /** Registers a callback run on every change (a new part, segment, the end); returns the unregister. */
  subscribe: (onChange: () => void) => () => void;
  /** true once the wait is over. */
  ready: () => boolean;
  timeoutMs: number;
  /** Aborted when the client went away: the wait ends and lets go of everything at once. */
  signal?: AbortSignal;
}

/** Waits for `ready()` after a change, at most `timeoutMs`, ending early on abort. Never rejects. */
export function waitUntil(o: WaitOptions): Promise<WaitOutcome> {
  if (o.signal?.aborted) return Promise.resolve('aborted');
  if (o.ready()) return Promise.resolve('ready');
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: WaitOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      o.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = (): void => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
    const unsubscribe = o.subscribe(() => {
      if (o.ready()) finish('ready');
    });
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
