import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_CODES, ErrorCode, errorCodeTable, isErrorCode } from '../../common/errors';

const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'errors.md');
/** Where REST errors are answered or matched (protocol/ has its own RTMP/codec codes: RtmpError, MediaFormatError). */
const SERVICE_DIRS = ['bin', 'common', 'discovery', 'edge', 'local', 'mediaserver', 'origin'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Codes written as string literals in the services: `code: 'X'` in bodies (also in a ternary),
 * `code === 'X'` in matches, `new CascadeError('X', ...)`.
 */
function literalCodes(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\bcode(?:\s*===?\s*|:\s*)(?:[^,;}\n]*\?\s*)?'([A-Z][A-Z0-9_]+)'(?:\s*:\s*'([A-Z][A-Z0-9_]+)')?/g)) {
    out.push(m[1]);
    if (m[2]) out.push(m[2]);
  }
  for (const m of text.matchAll(/new CascadeError\(\s*'([A-Z][A-Z0-9_]+)'/g)) out.push(m[1]);
  return out;
}

function docRows(): Array<{ code: string; status: number; summary: string }> {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('<!-- error-codes:start -->');
  const end = text.indexOf('<!-- error-codes:end -->');
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return text
    .slice(start, end)
    .split('\n')
    .map((line) => /^\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ code: m[1], status: Number(m[2]), summary: m[3] }));
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of ERROR_CODES, in order, with their status and meaning', () => {
    const expected = (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => ({
      code,
      status: ERROR_CODES[code].status,
      summary: ERROR_CODES[code].summary,
    }));
    const rows = docRows();
    if (JSON.stringify(rows) !== JSON.stringify(expected)) {
      // Make the fix obvious: the table to paste between the markers.
      process.stderr.write(`docs/errors.md is out of date; the table should be:\n${errorCodeTable()}\n`);
    }
    expect(rows).toEqual(expected);
  });

  it('contains the rendered table verbatim', () => {
    expect(readFileSync(DOC, 'utf8')).toContain(errorCodeTable());
  });

  it('uses UPPER_SNAKE codes and HTTP error statuses', () => {
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });

  it('has every code the services use as a string literal (bodies, matches, CascadeError)', () => {
    const missing: string[] = [];
    let seen = 0;
    for (const dir of SERVICE_DIRS) {
      for (const file of sourceFiles(join(ROOT, dir))) {
        for (const code of literalCodes(readFileSync(file, 'utf8'))) {
          seen++;
          if (!isErrorCode(code)) missing.push(`${relative(ROOT, file)}: ${code}`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(seen).toBeGreaterThan(20);
  });

  it.each([
    ["sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message })", ['METHOD_NOT_ALLOWED']],
    ["send({ code: status >= 500 ? 'INTERNAL' : 'BAD_REQUEST', message })", ['INTERNAL', 'BAD_REQUEST']],
    ["if (err.code === 'STORE_UNAVAILABLE') return", ['STORE_UNAVAILABLE']],
    ["throw new CascadeError('NO_ORIGIN_AVAILABLE', 'none')", ['NO_ORIGIN_AVAILABLE']],
    ["const status = 'TOKEN_AHEAD';", []],
  ])('finds the literal codes in %s', (text, expected) => expect(literalCodes(text)).toEqual(expected));
});
