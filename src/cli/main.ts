#!/usr/bin/env node
// The `dae` command line: commander wiring only; each verb calls the library.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DaeError } from '../errors.js';
import { send } from './send.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function integer(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

const program = new Command('dae')
  .description('run and talk to dae daemons')
  .version(pkg.version)
  .exitOverride()
  .showHelpAfterError();

program
  .command('send')
  .description('call a command on a daemon and print the reply as JSON')
  .argument('<target>', 'host:port, a port, or a unix socket path')
  .argument('<command>', 'the command name')
  .argument('[json-args]', 'a JSON array of arguments (any other JSON value is one argument)')
  .option('-t, --timeout <ms>', 'reply timeout', integer, 10_000)
  .action(async (target: string, command: string, json: string | undefined, options: { timeout: number }) => {
    const value = await send(target, command, json, options);
    process.stdout.write(`${JSON.stringify(value ?? null)}\n`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  const code = error instanceof DaeError ? `${error.code}: ` : '';
  process.stderr.write(`dae: ${code}${(error as Error).message}\n`);
  process.exit(1);
}
