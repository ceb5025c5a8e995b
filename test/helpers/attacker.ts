// Another local user, for the hostile-user tests: commands run as uid/gid 65534 (nobody) through util-linux setpriv.
// The tests need root to switch users; without it (or without setpriv) they fail loudly, they never pass silently.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const ATTACKER_UID = 65534;

const SETPRIV = ['--reuid', String(ATTACKER_UID), '--regid', String(ATTACKER_UID), '--clear-groups', '--'];

/** Fails the test unless this process may act as another user. */
export function requireRoot(): void {
  assert.equal(process.getuid?.(), 0, 'the hostile-user tests switch to another uid with setpriv: run them as root (CI does)');
  assert.equal(spawnSync('setpriv', ['--version']).status, 0, 'setpriv (util-linux) is missing');
}

/** Runs a command as the attacker and waits for it; returns its exit code and output. */
export function asAttacker(command: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  requireRoot();
  const run = spawnSync('setpriv', [...SETPRIV, command, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Starts a long-running process as the attacker. */
export function spawnAttacker(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  requireRoot();
  return spawn('setpriv', [...SETPRIV, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
}
