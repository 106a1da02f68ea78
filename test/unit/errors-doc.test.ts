import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, ErrorCode, errorCodeTable } from '../../common/errors';

const DOC = join(__dirname, '..', '..', 'docs', 'errors.md');

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
});
