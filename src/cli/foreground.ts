// The background supervisor's own entry (`dae start` spawns it): the supervisor alone, without the command line's
// parser and verbs, which it never uses (megabytes less for the process that runs all day). `--config <file>`.
import { startForeground } from './start.js';

const at = process.argv.indexOf('--config');
await startForeground(at === -1 ? undefined : process.argv[at + 1]);
