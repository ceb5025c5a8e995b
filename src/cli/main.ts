#!/usr/bin/env node
// The `dae` command line: commander wiring only; each verb calls the library.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DaeError } from '../errors.js';
import type { ListEntry } from '../supervisor/managed.js';
import type { DaemonInfo } from '../supervisor/info.js';
import { callSupervisor, connectSupervisor, home, supervisorRuns } from './control.js';
import { showAndFollow, showLine } from './logs.js';
import { readLog } from '../logs/read.js';
import { MAX_LOG_FILES } from '../supervisor/config.js';
import { addLanCommands } from './lan.js';
import { dashboard, openUrl } from './dashboard.js';
import { colour, json, jsonLine, out } from './output.js';
import { collect, keyValue, since, whole } from './parse.js';
import { send } from './send.js';
import { loadConfig, startBackground, startForeground } from './start.js';
import { systemdUnit } from './startup.js';
import { formatTable } from './table.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

// `dae list | head` closes stdout early: that is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));

function describe(entry: ListEntry): string {
  const why = entry.reason ? ` (${entry.reason})` : '';
  return `${entry.name}${entry.instance > 0 ? `[${entry.instance}]` : ''}: ${entry.status}${entry.pid ? `, pid ${entry.pid}` : ''}${why}\n`;
}

// A verb that starts a daemon succeeds only when it came online (or waits, by its `--after`, for others to be).
function online(entry: ListEntry): void {
  if (entry.status === 'online' || entry.status === 'waiting') return void out(describe(entry));
  throw new DaeError('ERR_NOT_ONLINE', describe(entry).trimEnd());
}

function startedLine(started: { pid: number; port: number; already: boolean; config: string }): string {
  const where = `pid ${started.pid}, port ${started.port}, home ${home().root}`;
  return started.already ? `dae is already running (${where})\n` : `dae started (${where}, config ${started.config})\n`;
}

async function ensureSupervisor(configFile?: string): Promise<void> {
  const started = await startBackground(configFile);
  if (!started.already) out(startedLine(started));
}

const program = new Command('dae')
  .description('run and watch daemons: the dae supervisor and its command line')
  .version(pkg.version)
  .exitOverride()
  .showHelpAfterError();

program
  .command('start')
  .description('start the supervisor in the background (returns when it answers), or start an installed daemon')
  .argument('[name]', 'an installed daemon to start (starting the supervisor if needed)')
  .option('--foreground', 'run the supervisor in this process (init systems, containers)')
  .option('--config <file>', 'config file (default: ./daeconfig.json when there is one, else daeconfig.json in the home, written with every default when missing)')
  .action(async (name: string | undefined, options: { foreground?: boolean; config?: string }) => {
    if (options.foreground) return startForeground(options.config);
    if (name !== undefined) {
      await ensureSupervisor(options.config);
      return online((await callSupervisor('start', name)) as ListEntry);
    }
    out(startedLine(await startBackground(options.config)));
  });

program
  .command('stop')
  .description('stop an installed daemon (it stays stopped until started)')
  .argument('<name>')
  .action(async (name: string) => {
    const entry = (await callSupervisor('stop', name)) as ListEntry;
    // A daemon the LAN placed is not the machine's to keep stopped: the LAN places it again.
    if (entry.lan) return void out(`${name}: stopped and handed back to the LAN (need ${entry.lan.need}); the LAN places it again, on this machine or another\n`);
    out(describe(entry));
  });

program
  .command('restart')
  .description('restart an installed daemon (also clears errored)')
  .argument('<name>')
  .action(async (name: string) => online((await callSupervisor('restart', name)) as ListEntry));

program
  .command('reload')
  .description('zero-downtime restart: a new run on the held sockets, then the old one stops gracefully; one instance at a time')
  .argument('<name>')
  .action(async (name: string) => {
    const result = (await callSupervisor('reload', name)) as { entries: ListEntry[]; reloaded: boolean; reason: string | null };
    for (const entry of result.entries) online(entry);
    if (!result.reloaded) out(`${name}: ${result.reason}\n`);
  });

program
  .command('scale')
  .description('run this many instances of a daemon on its held sockets')
  .argument('<name>')
  .argument('<count>', 'instances, from 1 to 64', whole)
  .action(async (name: string, count: number) => {
    for (const entry of (await callSupervisor('scale', name, count)) as ListEntry[]) online(entry);
  });

program
  .command('install')
  .description('install a program as a daemon and start it: a Node script, or any executable')
  .argument('<name>', 'the daemon name ([A-Za-z0-9._-]{1,64})')
  .argument('<program>', 'a .js/.mjs/.cjs script (run with node), an executable file, or a command on PATH')
  .argument('[args...]', 'arguments for the program (after --)')
  .option('--env <KEY=VALUE>', 'environment variable (repeatable)', keyValue, {})
  .option('--cwd <dir>', 'working directory (default: this directory)')
  .addOption(new Option('--restart <policy>', 'restart policy').choices(['always', 'on-failure', 'never']))
  .option('--max-restarts <n>', 'quick exits in a row before errored', whole)
  .option('--min-uptime <ms>', 'an exit sooner than this is a quick exit', whole)
  .option('--stop-signal <signal>', 'signal sent to stop (default SIGTERM)')
  .option('--stop-timeout <ms>', 'SIGKILL after this long', whole)
  .option('--max-memory <bytes>', 'restart when the RSS of its whole process group stays above this', whole)
  .option('--interpreter <path|none>', 'run the program with this (a path or a command), or none: it runs by itself (default: node for .js/.mjs/.cjs)')
  .option('--ready <mode>', 'when a run is ready: report, port, port:<n>, http:<path>, none, or auto (default: a ready report, or up for readyAfter)')
  .option('--health <mode>', 'how a running program is checked: port, port:<n>, http:<path>, none (default: as --ready port/http, else none)')
  .option('--after <name>', 'start only once this daemon is online (repeatable)', collect, [])
  .option('--instances <n>', 'copies on the same sockets, the kernel spreading connections (a dae daemon, or --sockets inherit)', whole)
  .addOption(new Option('--sockets <mode>', 'inherit: the supervisor holds its ports and hands them over at exec as systemd does (LISTEN_FDS); own: it binds its own (default: own, or inherit for a dae daemon)').choices(['inherit', 'own']))
  .action(async (name: string, program: string, args: string[], o: Record<string, unknown>) => {
    // Paths are the CLI's: resolved against its working directory, never the supervisor's. A bare name that is no
    // file here is a command, looked up on PATH.
    const options: Record<string, unknown> = { args, env: o.env, cwd: resolve(typeof o.cwd === 'string' ? o.cwd : '.') };
    for (const key of ['restart', 'maxRestarts', 'minUptime', 'stopSignal', 'stopTimeout', 'maxMemory', 'ready', 'health', 'sockets', 'instances'] as const) {
      if (o[key] !== undefined) options[key] = o[key];
    }
    if (typeof o.interpreter === 'string') options.interpreter = o.interpreter.includes('/') ? resolve(o.interpreter) : o.interpreter;
    if ((o.after as string[]).length > 0) options.after = o.after;
    await ensureSupervisor();
    const command = !program.includes('/') && !existsSync(program) ? program : resolve(program);
    online((await callSupervisor('install', name, command, options)) as ListEntry);
  });

program
  .command('uninstall')
  .description('stop a daemon, forget it and release its ports')
  .argument('<name>')
  .action(async (name: string) => {
    await callSupervisor('uninstall', name);
    out(`${name}: uninstalled\n`);
  });

program
  .command('list')
  .alias('ls')
  .description('every daemon: status, pid, ports, restarts, uptime, cpu, memory, reason')
  .option('--json', 'print the list as JSON, exactly as the `list` command answers it')
  .action(async (options: { json?: boolean }) => {
    const entries = (await callSupervisor('list')) as ListEntry[];
    if (options.json) jsonLine(entries);
    else out(formatTable(entries, colour()));
  });

program
  .command('info')
  .description('one daemon in full')
  .argument('<name>')
  .option('--json', 'print JSON')
  .action(async (name: string, options: { json?: boolean }) => {
    const info = (await callSupervisor('info', name)) as DaemonInfo;
    if (options.json) return void json(info);
    for (const [key, value] of Object.entries(info)) out(`${key.padEnd(12)} ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}\n`);
  });

program
  .command('logs')
  .description("show a daemon's log (stdout and stderr in the order they came, each line stamped), or without a name the supervisor's own")
  .argument('[name]', 'an installed daemon (default: the supervisor)')
  .option('-n, --lines <n>', 'the newest lines', whole, 50)
  .option('--since <when>', 'only lines since a duration ago (90s, 10m, 2h, 1d) or a time (2026-12-07T10:00:00Z)', since)
  .option('-f, --follow', 'keep printing lines as they come (across rotation and restarts)')
  .addOption(new Option('--json', 'one JSON object per line: {time, stream, line, name} (and instance)').conflicts('raw'))
  .option('--raw', 'the text of each line alone, as the program wrote it')
  .action(async (name: string | undefined, options: { lines: number; since?: number; follow?: boolean; json?: boolean; raw?: boolean }) => {
    const view = options.json ? 'json' : options.raw ? 'raw' : 'text';
    const request = { lines: options.lines, ...(options.since !== undefined ? { since: options.since } : {}) };
    // Without a name, read from the home: the supervisor's log is wanted most when it does not answer.
    const info = name === undefined ? null : ((await callSupervisor('info', name)) as DaemonInfo);
    const history = (): Promise<string[]> => (name === undefined ? readLog(home().log, MAX_LOG_FILES, request) : (callSupervisor('logs', name, request) as Promise<string[]>));
    const print = (line: string): void => void out(`${showLine(line, view, name ?? 'dae', (info?.instances ?? 1) > 1)}\n`);
    if (options.follow) await showAndFollow(info?.log ?? home().log, history, print);
    else (await history()).forEach(print);
  });

program
  .command('dashboard')
  .description("print the address of the supervisor's web dashboard (and its metrics at /metrics)")
  .option('--token', 'sign in through the address: it carries the token (in its #fragment, which no server sees)')
  // Not with --token: a browser's command line (xdg-open's too) is readable by every local user.
  .addOption(new Option('--open', 'open it in the desktop browser too (without the token: command lines are public)').conflicts('token'))
  .action(async (options: { token?: boolean; open?: boolean }) => {
    const url = await dashboard(home(), options);
    out(`${url}\n`);
    if (options.open && !(await openUrl(url))) process.stderr.write('dae: no browser could be opened (xdg-open): open the address above\n');
  });

program
  .command('send')
  .description('call a command on a daemon and print the reply as JSON')
  .argument('<target>', 'an installed daemon name, host:port, a port, or a unix socket path')
  .argument('<command>', 'the command name')
  .argument('[json-args]', 'a JSON array of arguments (any other JSON value is one argument)')
  .option('-t, --timeout <ms>', 'reply timeout', whole, 10_000)
  .option('--token <token>', 'auth with this token first (default: env DAE_TOKEN, which ps does not show); not needed over a unix socket')
  .action(async (target: string, command: string, args: string | undefined, options: { timeout: number; token?: string }) => {
    const value = await send(target, command, args, { ...options, token: options.token ?? process.env.DAE_TOKEN });
    out(`${JSON.stringify(value ?? null)}\n`);
  });

program
  .command('kill')
  .description('stop every daemon gracefully, then the supervisor')
  .option('--keep-daemons', 'stop the supervisor alone; daemons keep running and the next `dae start` adopts them')
  .action(async (options: { keepDaemons?: boolean }) => {
    const running = await supervisorRuns();
    if (!running) return void out('dae is not running\n');
    const client = await connectSupervisor();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await client.call('kill', options.keepDaemons === true);
    await closed;
    out(`dae stopped (pid ${running.pid})${options.keepDaemons ? '; daemons keep running' : ''}\n`);
  });

program
  .command('startup')
  .description('print a systemd unit that starts the supervisor at boot')
  .option('--config <file>', 'config file the unit uses (default: as for dae start)')
  .action((options: { config?: string }) => {
    const { path } = loadConfig(options.config);
    out(systemdUnit({ home: home().root, configPath: path, cwd: process.cwd() }));
  });

addLanCommands(program);

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  const code = error instanceof DaeError ? `${error.code}: ` : '';
  process.stderr.write(`dae: ${code}${(error as Error).message}\n`);
  process.exit(1);
}
