// `dae dashboard`: the dashboard's address, from the doors the running supervisor wrote in its home (`run/dae.port`).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DaeError } from '../errors.js';
import { loadToken, type HomePaths } from '../supervisor/home.js';
import { supervisorRuns } from './control.js';

/** What `run/dae.port` says: `{"tcp": <port>, "http": <port or null>, "host": <address>, "httpError"?: <why not>}`. */
interface Doors {
  tcp: number;
  http: number | null;
  host: string;
  httpError?: string;
}

/** The address a browser on this machine reaches `host` at: a wildcard bind is reached on loopback. Pure. */
export function dashboardUrl(doors: Pick<Doors, 'host' | 'http'>, token?: string): string {
  const host = doors.host === '0.0.0.0' || doors.host === '::' || doors.host === '' ? '127.0.0.1' : doors.host;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${doors.http}/${token === undefined ? '' : `#token=${encodeURIComponent(token)}`}`;
}

/** The URL of the running supervisor's dashboard (with the token in its fragment when asked: the page takes it and
 * keeps it for that tab only; the fragment never reaches a server). */
export async function dashboard(paths: HomePaths, options: { token?: boolean }): Promise<string> {
  if ((await supervisorRuns(paths)) === null) throw new DaeError('ERR_NOT_RUNNING', `dae is not running (home ${paths.root}): dae start`);
  const doors = JSON.parse(readFileSync(paths.portFile, 'utf8')) as Doors;
  if (doors.http === null) {
    throw new DaeError('ERR_NOT_RUNNING', doors.httpError !== undefined ? `the dashboard is off: ${doors.httpError}` : 'the dashboard is off: "http" is null in the config (set a port, 23555 by default, and restart dae)');
  }
  return dashboardUrl(doors, options.token === true ? loadToken(paths) : undefined);
}

/** Asks the desktop to open `url` (xdg-open, open); says so when none can. */
export function openUrl(url: string): Promise<boolean> {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  return new Promise((resolve) => {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
