import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDocs } from '../common/config';
import { OriginConfigSchema } from '../origin/config';
import { EdgeConfigSchema } from '../edge/config';
import { DiscoveryConfigSchema } from '../discovery/config';

/** docs/configuration.md, generated from the TypeBox schemas (a test keeps the file in step). */
export function renderConfigDocs(): string {
  return [
    '# Configuration',
    '',
    'Generated from the TypeBox schemas by `npm run docs:config`; a test fails when this file and the code disagree.',
    'Every key can be set by a flag (`cascade origin --rtmp-port 1938`) or an environment variable',
    '(`CASCADE_RTMP_PORT=1938`); flags win over env, env over defaults. Lists take a comma-separated',
    'value or a JSON array.',
    '',
    '## discovery',
    '',
    configDocs(DiscoveryConfigSchema),
    '',
    '## origin',
    '',
    configDocs(OriginConfigSchema),
    '',
    '## edge',
    '',
    configDocs(EdgeConfigSchema),
    '',
  ].join('\n');
}

if (require.main === module) {
  writeFileSync(path.resolve(__dirname, '..', '..', 'docs', 'configuration.md'), renderConfigDocs());
}
