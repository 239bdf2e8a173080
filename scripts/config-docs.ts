// Regenerates .env.example and the README's configuration table from the config schema.
// `npm test` checks both are current (test/platform/config.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable, envExample } from '../src/config.ts';

const BEGIN = '<!-- config:begin -->';
const END = '<!-- config:end -->';

writeFileSync('.env.example', envExample());
const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (start < 0 || end < start)
  throw new Error(`README.md needs ${BEGIN} and ${END} around the configuration table`);
writeFileSync(
  'README.md',
  `${readme.slice(0, start + BEGIN.length)}\n${configTable()}\n${readme.slice(end)}`,
);
console.log('wrote .env.example and the README configuration table');
