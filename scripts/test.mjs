// Runs every compiled test with node's own runner, and a coverage floor on the pure protocol code.
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run('npx', [
  'c8', '--reporter=text-summary', '--include=dist/src/protocol/**', '--check-coverage', '--lines=95', '--branches=90',
  'node', '--test', '--test-concurrency=2', 'dist/test/',
]);
