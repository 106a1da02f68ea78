import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfigDocs } from '../../../local/config-docs';

test('docs/configuration.md matches the config schemas (run `npm run docs:config`)', () => {
  const file = readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');
  expect(file).toBe(renderConfigDocs());
});
