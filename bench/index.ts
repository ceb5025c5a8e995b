// Runs every benchmark suite (or those named on the command line) and prints each table, then a summary.
// `--check` makes the exit code 1 when a figure misses its target. Environment: `BENCH_ROUNDS` (rounds per
// figure), `BENCH_AGGREGATE` (`best` or `median` of them), `BENCH_CPU_PROF=dir` (server children write
// CPU profiles there); the rounds and aggregate settings apply to common-tcp and doors (supervisor and lan have fixed
// counts).
import { runCommonTcp } from './common-tcp.js';
import { runSupervisor } from './supervisor.js';
import { runDoors } from './doors.js';
import { runLan } from './lan.js';
import { runPrograms } from './programs.js';
import { runReload } from './reload.js';
import { runLogs } from './logs.js';
import { runDashboard } from './dashboard.js';
import { formatSuite, verdict, type SuiteResult } from './lib/report.js';

interface Suite {
  readonly name: string;
  run(): Promise<SuiteResult>;
}

const argv = process.argv.slice(2);
const check = argv.includes('--check');
const wanted = argv.filter((arg) => !arg.startsWith('--'));
const rounds = process.env.BENCH_ROUNDS === undefined ? undefined : Number(process.env.BENCH_ROUNDS);
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
  throw new Error(`BENCH_ROUNDS must be an integer >= 1, got ${JSON.stringify(process.env.BENCH_ROUNDS)}`);
}
const how = process.env.BENCH_AGGREGATE;
if (how !== undefined && how !== 'best' && how !== 'median') throw new Error(`BENCH_AGGREGATE must be best or median, got ${JSON.stringify(how)}`);
const profileDir = process.env.BENCH_CPU_PROF;
const serverExecArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
const log = (line: string): void => void process.stderr.write(`  … ${line}\n`);

const suites: readonly Suite[] = [
  { name: 'common-tcp', run: () => runCommonTcp({ log, serverExecArgv, ...(rounds === undefined ? {} : { rounds }), ...(how === undefined ? {} : { aggregate: how }) }) },
  { name: 'supervisor', run: () => runSupervisor({ log }) },
  { name: 'doors', run: () => runDoors({ log, serverExecArgv, ...(rounds === undefined ? {} : { rounds }), ...(how === undefined ? {} : { aggregate: how }) }) },
  { name: 'lan', run: () => runLan({ log }) },
  { name: 'programs', run: () => runPrograms({ log }) },
  { name: 'reload', run: () => runReload({ log }) },
  { name: 'logs', run: () => runLogs({ log }) },
  { name: 'dashboard', run: () => runDashboard({ log }) },
];

const unknown = wanted.filter((name) => !suites.some((suite) => suite.name === name));
if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(', ')}; known: ${suites.map((s) => s.name).join(', ')}`);

const results: SuiteResult[] = [];
for (const suite of suites) {
  if (wanted.length > 0 && !wanted.includes(suite.name)) continue;
  process.stderr.write(`${suite.name}\n`);
  const result = await suite.run();
  results.push(result);
  console.log(`${formatSuite(result)}\n`);
}

const judged = results.flatMap((result) => result.figures.map((figure) => ({ suite: result.suite, figure, verdict: verdict(figure) })));
const below = judged.filter((entry) => entry.verdict === 'below');
const targets = judged.filter((entry) => entry.verdict !== null).length;
console.log(`summary: ${targets - below.length}/${targets} targets met${below.length ? `; below: ${below.map((e) => `${e.suite} ${e.figure.name}`).join(', ')}` : ''}`);
if (check && below.length > 0) process.exitCode = 1;
