// Runs every compiled test file with node's own runner, with a coverage floor on the pure protocol code.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

// Only *.test.js: a directory argument would make the runner execute fixture daemons as tests.
const files = readdirSync('dist/test', { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.test.js'))
  .sort()
  .map((file) => `dist/test/${file}`);

const result = spawnSync('npx', [
  'c8', '--reporter=text-summary', '--include=dist/src/protocol/**', '--check-coverage', '--lines=95', '--branches=90',
  'node', '--test', '--test-concurrency=2', ...files,
], { stdio: 'inherit' });
process.exit(result.status ?? 1);
