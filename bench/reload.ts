// Benchmark of a reload under a steady load: 100 Common TCP clients and 20 HTTP keep-alive clients call the same
// fixture while it is reloaded, under dae (held sockets, `dae reload`; one instance, and two rolled one at a time) and
// PM2 (`pm2 reload`, fork mode and cluster mode with two instances), in the same run. A call whose connection closed
// under it is retried once on a new connection (the race no server removes: a request written just as the old run
// closes its connection); what fails even then, and every refused connect, is counted.
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ListEntry } from '../src/index.js';
import { startLoad, type LoadCounts } from '../test/helpers/load.js';
import { startCliSupervisor } from './lib/dae-cli.js';
import { startPm2, type Pm2 } from './lib/pm2.js';
import { startRunEnvironment } from './lib/run-env.js';
import { median } from './lib/stats.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult, type SuiteOptions } from './lib/report.js';
import { untilAccepting } from './lib/accept.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tcp-daemon.js', import.meta.url));
const RELOADS = 3;
const CALLS_BETWEEN = 2000;
const CLIENTS = { tcp: 100, http: 20 };
// Below the ephemeral range (32768+), apart from the supervisor suite's ports.
const PORTS = { dae: 19500, pm2Fork: 19600, pm2Cluster: 19700 };

interface Outcome {
  counts: LoadCounts;
  /** ms each reload took, from the call to its answer. */
  reloadMs: number[];
}

// Load on, `RELOADS` reloads each followed by CALLS_BETWEEN answered calls, load off.
async function underLoad(ports: { tcp: number; http: number }, reload: () => Promise<void>): Promise<Outcome> {
  const load = startLoad(ports, CLIENTS);
  const reloadMs: number[] = [];
  try {
    await load.calls(CALLS_BETWEEN);
    for (let i = 0; i < RELOADS; i++) {
      const started = performance.now();
      await reload();
      reloadMs.push(performance.now() - started);
      await load.calls(CALLS_BETWEEN);
    }
  } finally {
    await load.stop();
  }
  return { counts: load.counts, reloadMs };
}

async function daeRun(instances: number, port: number, log: (line: string) => void): Promise<Outcome> {
  const supervisor = await startCliSupervisor({ port: 0, portrangestart: { tcp: port, http: port + 10, ws: port + 20 } }, FIXTURE);
  try {
    const installed = await supervisor.cli(['install', 'reloaded', FIXTURE, '--instances', String(instances)]);
    if (installed.code !== 0) throw new Error(`dae install failed: ${installed.stderr}`);
    const [entry] = (await supervisor.client.call('list')) as ListEntry[];
    const ports = { tcp: entry!.ports.tcp!, http: entry!.ports.http! };
    log(`dae, ${instances} instance(s): ${RELOADS} reloads under load`);
    return await underLoad(ports, async () => {
      const result = (await supervisor.client.call('reload', 'reloaded')) as { reloaded: boolean; reason: string | null };
      if (!result.reloaded) throw new Error(`dae reload restarted instead: ${result.reason}`);
    });
  } finally {
    await supervisor.stop();
  }
}

// One PM2 daemon per process (PM2 reads PM2_HOME once): the fork-mode and cluster-mode apps are two apps of it.
async function pm2Run(pm2: Pm2, cluster: number | undefined, port: number, log: (line: string) => void): Promise<Outcome> {
  const name = cluster === undefined ? 'fork' : 'cluster';
  await pm2.start([{ name, script: FIXTURE, env: { DAE_TCP_PORT: String(port), DAE_HTTP_PORT: String(port + 10) } }], cluster);
  try {
    await untilAccepting(port, 10_000);
    await untilAccepting(port + 10, 10_000);
    log(`PM2 ${cluster === undefined ? 'fork mode' : `cluster mode, ${cluster} instances`}: ${RELOADS} reloads under load`);
    return await underLoad({ tcp: port, http: port + 10 }, () => pm2.reload(name));
  } finally {
    await pm2.remove([name]);
  }
}

/** Runs the reload suite. */
export async function runReload(options: SuiteOptions = {}): Promise<SuiteResult> {
  const started = performance.now();
  const load = loadavg()[0] ?? NaN;
  const log = (line: string): void => options.log?.(`${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  const environment = startRunEnvironment('reload', { runtime: true });
  try {
    const dae = await daeRun(1, PORTS.dae, log);
    const daeTwo = await daeRun(2, PORTS.dae + 50, log);
    const pm2 = await startPm2();
    const [fork, cluster] = await (async () => {
      try {
        return [await pm2Run(pm2, undefined, PORTS.pm2Fork, log), await pm2Run(pm2, 2, PORTS.pm2Cluster, log)];
      } finally {
        await pm2.close();
      }
    })();
    const figure = (name: string, unit: string, pick: (outcome: Outcome) => number): Figure => ({
      name, unit, better: 'lower', value: pick(dae),
      others: { 'dae ×2': pick(daeTwo), 'PM2 fork': pick(fork), 'PM2 cluster ×2': pick(cluster) },
    });
    const figures: Figure[] = [
      { ...figure(`failed calls during ${RELOADS} reloads under load`, 'calls', (o) => o.counts.failed), target: { kind: 'floor', min: 0 } },
      { ...figure(`refused connects during ${RELOADS} reloads under load`, 'connects', (o) => o.counts.refused), target: { kind: 'floor', min: 0 } },
      figure('calls retried once (connection closed under them)', 'calls', (o) => o.counts.retried),
      figure('longest call under reload', 'ms', (o) => o.counts.longest),
      figure(`reload, median of ${RELOADS}`, 'ms', (o) => median(o.reloadMs)),
    ];
    const describe = (label: string, o: Outcome): string => `${label}: ${o.counts.answered} answered, ${o.counts.refused} refused, ${o.counts.failed} failed, ${o.counts.retried} retried once, reloads ${o.reloadMs.map(formatNumber).join(', ')} ms, ${o.counts.pids.size} pids answered`;
    const notes = [
      `load: ${CLIENTS.tcp} Common TCP clients (one connection each, \`pid\` calls back to back, reconnecting when closed) and ${CLIENTS.http} HTTP clients (POST /pid, one keep-alive agent); ${RELOADS} reloads, each followed by ${CALLS_BETWEEN} answered calls; a call whose connection closed before its answer is retried once on a new connection (the one race no server removes); failed = no answer even then; refused = ECONNREFUSED`,
      `dae: \`reload\` on the control socket, which answers once every instance runs anew (new run online, old one drained); PM2: \`pm2.reload()\` from its API, which answers when PM2 is done`,
      describe('dae', dae), describe('dae ×2', daeTwo), describe('PM2 fork', fork), describe('PM2 cluster ×2', cluster),
      `load average at start ${load.toFixed(2)} on ${availableParallelism()} cores`,
    ];
    return { suite: 'reload', baselineName: '-', others: ['dae ×2', 'PM2 fork', 'PM2 cluster ×2'], figures, notes, seconds: (performance.now() - started) / 1000 };
  } finally {
    await environment.end(log);
  }
}

// `node dist/bench/reload.js` runs this suite alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSuite(await runReload({ log: (line) => console.error(line) })));
}
