/**
 * The layering of docs/design.md section 1, checked on the import statements: `protocol/` (pure
 * codecs) imports nothing above it, and within it MPEG-TS does not depend on HLS; `common/` imports
 * no service; the discovery client shares no module with the discovery server's HTTP code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Repository-relative paths (without extension) of the relative modules a file imports or re-exports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?from '(\.{1,2}\/[^']+)'/gms)].map((m) => relative(ROOT, resolve(dirname(file), m[1])));
}

function violations(dir: string, forbidden: (target: string) => boolean): string[] {
  return sourceFiles(join(ROOT, dir)).flatMap((file) => importsOf(file).filter(forbidden).map((t) => `${relative(ROOT, file)} -> ${t}`));
}

const under = (...dirs: string[]) => (target: string): boolean => dirs.some((d) => target === d || target.startsWith(`${d}/`));

test('protocol/ imports nothing outside protocol/', () => {
  expect(violations('protocol', (t) => !under('protocol')(t))).toEqual([]);
});

test('protocol/mpegts does not import protocol/hls', () => {
  expect(violations('protocol/mpegts', under('protocol/hls'))).toEqual([]);
});

test('common/ imports no service or media-server module', () => {
  expect(violations('common', under('discovery', 'origin', 'edge', 'mediaserver', 'local', 'bin'))).toEqual([]);
});

test('the discovery client does not import the server side of discovery', () => {
  const server = ['discovery/sse', 'discovery/app', 'discovery/route-context', 'discovery/service', 'discovery/store'];
  expect(importsOf(join(ROOT, 'discovery', 'client.ts')).filter((t) => under(...server)(t))).toEqual([]);
});

test('the import scan sees imports and re-exports', () => {
  expect(importsOf(join(ROOT, 'protocol', 'hls', 'types.ts'))).toContain('protocol/mpegts/media-message');
  expect(importsOf(join(ROOT, 'discovery', 'client.ts'))).toContain('protocol/sse');
});

test('test/unit stays in-process: no ffmpeg, no spawned media server, no Redis (those tests live in test/integration)', () => {
  const outside = /\/usr\/bin\/ff(mpeg|probe)|\bFFMPEG\b|\bFFPROBE\b|helpers\/redis-shared|from 'ioredis'|require\.resolve\('node-media-server'\)|helpers\/(cluster|encoders|players)'|\bstartService\(|\bstartCommand\(/;
  const offenders = sourceFiles(join(ROOT, 'test', 'unit'))
    .filter((file) => file !== __filename && outside.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file));
  expect(offenders).toEqual([]);
});
