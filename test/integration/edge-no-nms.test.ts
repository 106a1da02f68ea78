import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * The built edge loads no node-media-server module (the edge runs its own media plane; README
 * "Architecture"). Each entry module is required in a fresh Node process (one short `node -e` each,
 * nothing listens), which reports the node-media-server files in its require.cache. The origin is
 * the control: it must load them, or the check proves nothing. Needs `npm run build`.
 */

const DIST = path.resolve(__dirname, '..', '..', 'dist');

function nmsModulesLoadedBy(entry: string): string[] {
  const script = `require(${JSON.stringify(path.join(DIST, entry))}); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('node-media-server'))));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 })) as string[];
}

test.each(['edge/main.js', 'edge/service.js'])('%s loads no node-media-server module', (entry) => {
  expect(nmsModulesLoadedBy(entry)).toEqual([]);
});

test('control: the origin does load node-media-server', () => {
  expect(nmsModulesLoadedBy('origin/service.js').length).toBeGreaterThan(0);
});
