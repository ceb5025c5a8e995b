// systemd's socket activation, as `sd_listen_fds(3)` reads it: descriptors from 3, `LISTEN_FDS` of them, named by
// `LISTEN_FDNAMES`, meant for the process whose pid is `LISTEN_PID`. A dae supervisor that holds a daemon's sockets
// hands them over the same way.
import { DaeError } from '../errors.js';

/** The first passed descriptor (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

/**
 * The descriptors passed to process `pid`, by name (`tcp`, `http`, `ws`, `unix`; a single unnamed one is `tcp`), or null
 * when none were (or they were meant for another process). The `LISTEN_*` variables are removed from `env`, so
 * children of this process do not take them for theirs.
 */
export function takeListenFds(env: NodeJS.ProcessEnv, pid: number): Map<string, number> | null {
  const count = env.LISTEN_FDS;
  const target = env.LISTEN_PID;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (count === undefined || count === '') return null;
  if (!/^\d+$/.test(count) || Number(count) > 64) throw new DaeError('ERR_BAD_OPTION', `LISTEN_FDS must be a small count, got ${JSON.stringify(count)}`);
  if (target === undefined || Number(target) !== pid) return null;
  const given = names === undefined || names === '' ? [] : names.split(':');
  const fds = new Map<string, number>();
  for (let i = 0; i < Number(count); i++) {
    const name = given[i] ?? (i === 0 ? 'tcp' : `fd${i}`);
    if (!fds.has(name)) fds.set(name, LISTEN_FDS_START + i);
  }
  // A lone descriptor with some other name (a systemd unit's own) is the Common TCP door.
  if (fds.size === 1 && !fds.has('tcp') && !fds.has('unix')) return new Map([['tcp', LISTEN_FDS_START]]);
  return fds;
}
