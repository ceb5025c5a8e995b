// The port office: per protocol, the first port at or above the range start that is free now and leased to no one else.
import { createServer } from 'node:net';
import { DaeError } from '../errors.js';
import { commandLine, portHolder } from './process.js';

/** True when `port` can be bound on `host` right now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Chooses a port: pure apart from the `isFree` probe, which tells whether a stranger holds it. */
export async function choosePort(
  start: number,
  leased: ReadonlySet<number>,
  isFree: (port: number) => Promise<boolean>,
  end = 65535,
): Promise<number> {
  for (let port = start; port <= end; port++) {
    if (leased.has(port)) continue;
    if (await isFree(port)) return port;
  }
  throw new DaeError('ERR_NO_PORT', `no free port from ${start} to ${end}`);
}

/** The supervisor's own port is held by someone else: said plainly, naming the holder when /proc tells. */
export function portTaken(host: string, port: number, cause: unknown, key = 'port'): DaeError {
  const holder = portHolder(port);
  const who = holder === null ? '' : ` by pid ${holder} (${commandLine(holder)})`;
  return new DaeError('ERR_START_FAILED', `port ${port} on ${host} is taken${who}: another supervisor (the npm start demo?) or another program listens there; to run a second supervisor, give it another home and another "${key}" in its daeconfig.json`, { cause });
}
