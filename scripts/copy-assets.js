// `npm run build` runs this after tsc: copies the static files that tsc does not emit into dist/
// (today the web console's page, script and style: discovery/console/ → dist/discovery/console/).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const ASSET_DIRS = ['discovery/console'];

for (const dir of ASSET_DIRS) {
  const from = path.join(root, dir);
  const to = path.join(root, 'dist', dir);
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.isFile()) fs.copyFileSync(path.join(from, e.name), path.join(to, e.name));
  }
}
