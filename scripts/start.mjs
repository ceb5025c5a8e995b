// `npm start`: npm packages when missing, a build, then the demo in this very process, so the SIGTERM or SIGINT that
// npm forwards (timeout, an IDE's stop button, Ctrl-C) reaches it and stops everything it started.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

await import('./setup.mjs');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-p', '.'], { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
if (build.status !== 0) process.exit(build.status ?? 1);
await import('../dist/sample/main.js');
