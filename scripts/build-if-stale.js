// `npm start` runs this first: compile TypeScript when dist/ is missing or older than any source file
// (the console's static files count as sources too), then copy the static files (cheap, always).
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'dist', 'bin', 'cascade.js');
const dirs = ['bin', 'common', 'protocol', 'origin', 'edge', 'discovery', 'local', 'mediaserver', 'types'];

function newest(dir) {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : /\.(ts|html|css|js)$/.test(e.name) ? fs.statSync(p).mtimeMs : 0);
  }
  return t;
}

const built = fs.existsSync(target) ? fs.statSync(target).mtimeMs : 0;
const source = Math.max(...dirs.map((d) => newest(path.join(root, d))), fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs);
if (source > built) {
  process.stdout.write('building (dist/ is older than the sources)...\n');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
}
require('./copy-assets.js');
