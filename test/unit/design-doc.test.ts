/**
 * docs/design.md is cited from the source as "docs/design.md section N" (also "sections 3–5",
 * "sections 5 and 7"): every cited N must be a numbered `## N.` heading there, so a renumbered or
 * removed section cannot leave dangling citations behind.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', '.git', '.cascade', 'coverage']);
const EXTENSIONS = /\.(ts|js|mjs|md|json|ya?ml|cfg|env)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return EXTENSIONS.test(name) ? [path] : [];
  });
}

/** The section numbers of the `## N. Title` headings. */
function designSections(text: string): Set<number> {
  return new Set([...text.matchAll(/^## (\d+)\. \S/gm)].map((m) => Number(m[1])));
}

/** Every section number a text cites: "section 4", "sections 3–5" (a range), "sections 5 and 7". */
function citedSections(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/(?:docs\/design|DESIGN)\.md\W{0,3}sections? (\d+)(?:\s*(–|-|and|,)\s*(\d+))?/g)) {
    const first = Number(m[1]);
    const last = m[3] === undefined ? first : Number(m[3]);
    if (m[2] === '–' || m[2] === '-') for (let n = first; n <= last; n++) out.push(n);
    else out.push(...(m[2] === undefined ? [first] : [first, last]));
  }
  return out;
}

describe('docs/design.md citations', () => {
  const sections = designSections(readFileSync(join(ROOT, 'docs', 'design.md'), 'utf8'));

  test('has the sections 1 to 15, numbered like the original design notes', () => {
    expect([...sections].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  test.each([
    ['see docs/design.md section 4.', [4]],
    ['docs/design.md sections 3–5', [3, 4, 5]],
    ['(docs/design.md sections 5 and 7)', [5, 7]],
    ['DESIGN.md section 8 lists', [8]],
    ['no citation here', []],
  ])('parses %j', (text, expected) => expect(citedSections(text)).toEqual(expected));

  test('every citation in the repository names an existing section', () => {
    const dangling: string[] = [];
    let count = 0;
    for (const file of files(ROOT)) {
      if (file.endsWith(join('docs', 'design.md'))) continue;
      for (const n of citedSections(readFileSync(file, 'utf8'))) {
        count++;
        if (!sections.has(n)) dangling.push(`${relative(ROOT, file)}: section ${n}`);
      }
    }
    expect(dangling).toEqual([]);
    expect(count).toBeGreaterThan(50);
  });
});
