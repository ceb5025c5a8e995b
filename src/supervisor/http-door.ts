// The supervisor's HTTP door: `GET /metrics` and the dashboard's files. Opening it may fail (a port someone else
// holds) without failing the supervisor: its daemons and its control socket matter more.
import type { HttpPage } from '../daemon/door.js';
import { dashboardPage } from './dashboard/serve.js';
import type { LanView } from './lan-view.js';
import { CONTENT_TYPE, formatMetrics, ownFigures, type DaemonFigures } from './metrics.js';
import { portTaken } from './ports.js';

/** Opens the door on `port` with `listen`; resolves with why it could not, or null. */
export async function openHttpDoor(listen: () => Promise<number>, host: string, port: number): Promise<string | null> {
  try {
    await listen();
    return null;
  } catch (error) {
    return /EADDRINUSE/.test((error as Error).message) ? portTaken(host, port, error, 'http').message : (error as Error).message;
  }
}

/** What the door serves at `path`: the metrics of `daemons` and of the LAN (counted, when one answers), else a file of
 * the dashboard, else null. */
export async function supervisorPage(path: string, accept: string | undefined, daemons: () => DaemonFigures[], lan: () => Promise<LanView | null>): Promise<HttpPage | null> {
  if (path !== '/metrics') return dashboardPage(path, accept);
  const view = await lan().catch(() => null);
  const figures = view === null ? null : { needs: (view.needs ?? []) as Array<{ status: string }>, services: view.services.length, machines: view.machines?.length ?? 0 };
  return { type: CONTENT_TYPE, body: formatMetrics(daemons(), ownFigures(), figures) };
}
