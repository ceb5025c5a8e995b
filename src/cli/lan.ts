// The LAN verbs, wired: `dae lan start|stop|token`, `dae need add|rm`, `dae needs`, `dae services`.
import { resolve } from 'node:path';
import { type Command } from 'commander';
import { DaeError } from '../errors.js';
import { LAN_DEFAULTS } from '../lan/defaults.js';
import type { Need, Service } from '../lan/records.js';
import { callLan, lanPaths, type LanReach } from './lan-reach.js';
import type { LanStartOptions } from './lan-daemon.js';
import { formatClones, formatNeeds, formatServices, type MachineView } from './lan-tables.js';
import { colour, jsonLine, out } from './output.js';
import { collect, keyValue, port, whole } from './parse.js';

interface NeedAddOptions extends LanReach {
  env: Record<string, string>;
  port: string[];
  pin?: string;
  timeout?: number;
  interpreter?: string;
  ready?: string;
  after: string[];
}

// `dae needs` / `dae services`: what the LAN manager answers, as a table or as JSON.
function listing<T>(program: Command, name: 'needs' | 'services', description: string, format: (items: T[], o: LanReach) => Promise<string> | string): void {
  reaching(program.command(name))
    .description(description)
    .option('--json', `print the ${name} as JSON, as the LAN manager answers them`)
    .action(async (o: LanReach & { json?: boolean }) => {
      const items = (await callLan(o, name)) as T[];
      if (o.json) return void jsonLine(items);
      out(await format(items, o));
    });
}

// Every verb that asks the LAN manager takes the same two options.
function reaching(command: Command): Command {
  return command
    .option('--lan <host:port>', "the LAN manager's WebSocket door (default: this home's LAN manager, over its control socket)")
    .option('--token <token>', 'the cluster token for --lan (default: env DAE_LAN_TOKEN, which ps does not show)');
}

// `--port tcp=15000`: the protocol and range are the LAN manager's to check; the shape is checked here.
function ports(values: readonly string[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const value of values) {
    const match = /^([a-z]+)=(\d{1,5})$/.exec(value);
    if (!match) throw new DaeError('ERR_BAD_ARGS', `--port expects PROTOCOL=PORT (tcp, http or ws), like tcp=15000, got ${JSON.stringify(value)}`);
    result[match[1]!] = Number(match[2]);
  }
  return result;
}

function where(running: { pid: number; port: number; ws: number }): string {
  return `pid ${running.pid}, tcp port ${running.port}, ws port ${running.ws}, home ${lanPaths().root}`;
}

/** Adds the LAN verbs to the program. */
export function addLanCommands(program: Command): void {
  const lan = program.command('lan').description('the LAN manager of this home: the registry of needs and services of a LAN');

  lan
    .command('start')
    .description('start the LAN manager in the background (returns when it answers)')
    .option('--etcd <endpoints>', 'etcd client URLs, comma-separated (default: the embedded registry in the LAN home)')
    .option('--foreground', 'run it in this process (init systems, containers)')
    .option('--host <addr>', 'address of its TCP and WebSocket doors', LAN_DEFAULTS.host)
    .option('--port <n>', 'its Common TCP port (0 = OS-assigned)', port, LAN_DEFAULTS.port)
    .option('--ws <n>', 'its WebSocket port, where machine managers connect (0 = OS-assigned)', port, LAN_DEFAULTS.ws)
    .action(async (options: LanStartOptions & { foreground?: boolean }) => {
      // The LAN manager's code loads only for the verbs that run or stop it.
      const { runLanForeground, startLanBackground } = await import('./lan-daemon.js');
      if (options.foreground) return runLanForeground(options);
      const started = await startLanBackground(options);
      out(`LAN manager ${started.already ? 'is already running' : 'started'} (${where(started)})\ntoken file ${lanPaths().token}\n`);
    });

  lan
    .command('stop')
    .description("stop this home's LAN manager (needs stay; machine managers keep their daemons and re-register)")
    .action(async () => {
      const { stopLan } = await import('./lan-daemon.js');
      const stopped = await stopLan();
      out(stopped ? `LAN manager stopped (pid ${stopped.pid})\n` : 'the LAN manager is not running\n');
    });

  lan
    .command('token')
    .description("print the cluster token (for each machine manager's lantoken), made on first use")
    .action(async () => void out(`${(await import('./lan-daemon.js')).lanToken()}\n`));

  const need = program.command('need').description('what the LAN should run somewhere: add or remove a need');

  reaching(need.command('add'))
    .description('add a need: some machine manager whose allowedscripts hold the script runs it')
    .argument('<instancename>', 'the need name ([A-Za-z0-9._-]{1,64})')
    .argument('<script>', 'the Node script (resolved against this directory), as the machines see it')
    .argument('[args...]', 'arguments for the script (after --)')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', keyValue, {})
    .option('--port <protocol=port>', 'a port the daemon must get, like tcp=15000 (repeatable)', collect, [])
    .option('--pin <address|cidr>', 'run only on the machine advertising this address, or inside this IPv4 CIDR')
    .option('--timeout <ms>', 'a claim not reachable within this counts as a failed start (restart policy)', whole)
    .option('--interpreter <path|none>', 'run the program with this interpreter (an absolute path, inside the machines\' allowedscripts), or none')
    .option('--ready <mode>', 'when a copy is ready, and how the LAN manager checks it: report, port, port:<n>, http:<path>, none, auto')
    .option('--after <need>', 'claim it only once this need is satisfied somewhere on the LAN (repeatable)', collect, [])
    .action(async (instancename: string, script: string, args: string[], o: NeedAddOptions) => {
      const input = {
        instancename, script: resolve(script), args, env: o.env, ports: ports(o.port), pin: o.pin, timeout: o.timeout,
        interpreter: o.interpreter === undefined || o.interpreter === 'none' ? o.interpreter : resolve(o.interpreter), ready: o.ready,
        after: o.after.length > 0 ? o.after : undefined,
      };
      const added = (await callLan(o, 'need.add', input)) as Need;
      out(`need ${added.instancename} added: ${added.script} (${added.status})\n`);
    });

  reaching(need.command('rm'))
    .description('remove a need: the machine running it stops it')
    .argument('<instancename>')
    .action(async (instancename: string, o: LanReach) => {
      await callLan(o, 'need.rm', instancename);
      out(`need ${instancename} removed\n`);
    });

  // Under the needs: a machine whose id a second live process presented (a cloned home), which would explain a lot.
  listing(program, 'needs', 'every need: status, machine, epoch, script, reason', async (needs: Need[], o) =>
    formatNeeds(needs, colour()) + formatClones((await callLan(o, 'machines')) as MachineView[]));
  listing(program, 'services', 'every running, reachable service of the LAN: machine, address, pid, ports (no token needed)', (services: Service[]) => formatServices(services));
}
