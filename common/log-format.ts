/**
 * Human-readable log lines for a terminal (issue 17 part 3): every role prints pino JSON, and when its
 * stdout is a TTY (or CASCADE_LOG_FORMAT=pretty) this formatter turns each JSON line into
 *
 *   12:01:02.345 INFO  origin-1  stream published  stream=live/demo token=17
 *
 * Containers, CI and files (stdout not a TTY) keep one JSON object per line. The formatter sees
 * lines after pino's redaction, so censored fields stay `[redacted]`; it adds nothing.
 */

export type LogFormat = 'json' | 'pretty';

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '\x1b[90m' },
  20: { label: 'DEBUG', color: '\x1b[36m' },
  30: { label: 'INFO ', color: '\x1b[32m' },
  40: { label: 'WARN ', color: '\x1b[33m' },
  50: { label: 'ERROR', color: '\x1b[31m' },
  60: { label: 'FATAL', color: '\x1b[35m' },
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Fields shown in the prefix (or not at all) rather than as key=value. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'v']);
/**
 * The "who" right after the level: an origin's or edge's own id (its `service` names the role and
 * its child loggers carry `origin` / `edge`), else the service. Discovery's lines about origin X keep
 * `origin=X` as a field, so the column always names the process that wrote the line.
 */
function whoOf(obj: Record<string, unknown>): { key: string | undefined; who: string } {
  const service = typeof obj.service === 'string' ? obj.service : '';
  const own = service === 'origin' || service === 'edge' ? obj[service] : undefined;
  if (typeof own === 'string' && own !== '') return { key: service, who: own };
  return { key: undefined, who: service };
}
/** A long value is cut here in the key=value part. */
const MAX_VALUE = 200;

/**
 * `json` or `pretty` for a process: CASCADE_LOG_FORMAT (`json` | `pretty`) when set, else pretty
 * exactly when stdout is a TTY.
 */
export function logFormatFor(env: NodeJS.ProcessEnv, stdoutIsTty: boolean): LogFormat {
  const asked = env.CASCADE_LOG_FORMAT?.trim().toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  return stdoutIsTty ? 'pretty' : 'json';
}

/** Colors unless NO_COLOR is set (https://no-color.org) or TERM is dumb. */
export function useColor(env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  return isTty && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

function clock(time: unknown): string {
  const d = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date(NaN);
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  return d.toISOString().slice(11, 23);
}

/** C0 and C1 control characters and DEL: never written raw to a terminal (a logged value could carry escape sequences). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with every control character shown as `\uXXXX`. */
export function withoutControls(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function value(v: unknown): string {
  let text: string;
  if (typeof v === 'string') text = /^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  else if (v === undefined) text = 'undefined';
  else text = JSON.stringify(v) ?? String(v);
  text = withoutControls(text);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
}

/** One parsed pino line → one human line (no trailing newline). Pure. */
export function formatLogLine(obj: Record<string, unknown>, opts: { color: boolean }): string {
  const lvl = LEVELS[typeof obj.level === 'number' ? obj.level : 30] ?? { label: String(obj.level).toUpperCase().padEnd(5), color: '' };
  const { key: whoKey, who: rawWho } = whoOf(obj);
  const who = withoutControls(rawWho);
  const msg = typeof obj.msg === 'string' ? withoutControls(obj.msg) : '';
  const parts: string[] = [];
  let err: { stack?: unknown; message?: unknown } | undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (HIDDEN.has(k) || k === whoKey) continue;
    if (k === 'err' && v !== null && typeof v === 'object') {
      err = v as { stack?: unknown; message?: unknown };
      parts.push(`err=${value((v as { message?: unknown }).message ?? v)}`);
      continue;
    }
    parts.push(`${k}=${value(v)}`);
  }
  const c = (code: string, text: string): string => (opts.color && code ? `${code}${text}${RESET}` : text);
  let line = `${c(DIM, clock(obj.time))} ${c(lvl.color, lvl.label)} ${who ? `${who.padEnd(9)} ` : ''}${msg}`;
  if (parts.length > 0) line += `  ${c(DIM, parts.join(' '))}`;
  // Errors at error/fatal keep their stack (indented) so a crash is readable.
  if (err && typeof err.stack === 'string' && (obj.level as number) >= 50) line += `\n    ${err.stack.split('\n').slice(1, 8).map((l) => withoutControls(l.trim())).join('\n    ')}`;
  return line;
}

/** A JSON log line (what pino writes) → the human line with `\n`; a line that is not JSON passes through. */
export function prettifyLine(line: string, opts: { color: boolean }): string {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (!text.startsWith('{')) return `${text}\n`;
  try {
    const obj = JSON.parse(text) as unknown;
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return `${text}\n`;
    return `${formatLogLine(obj as Record<string, unknown>, opts)}\n`;
  } catch {
    return `${text}\n`;
  }
}

/**
 * A pino destination writing human lines to `out` (synchronously, like pino's default stdout
 * destination, so nothing is lost when the process exits).
 */
export function prettyDestination(out: { write(chunk: string): unknown }, opts: { color: boolean }): { write(chunk: string): void } {
  return {
    write(chunk: string): void {
      // pino writes one line per call; be safe with several.
      let text = '';
      for (const line of chunk.split('\n')) if (line !== '') text += prettifyLine(line, opts);
      out.write(text);
    },
  };
}
