// `dae list` as a readable table: pure formatting, colour only when asked.
import type { ListEntry } from '../supervisor/managed.js';

const COLOURS: Record<string, string> = {
  online: '32', starting: '36', waiting: '36', stopping: '33', backoff: '33', stopped: '90', errored: '31', satisfied: '32', claimed: '36', unsatisfied: '33',
};

function bytes(n: number): string {
  if (n <= 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds: number): string {
  if (seconds <= 0) return '-';
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** Aligned columns; with `colour`, the status column (index 1) is painted. */
export function formatColumns(header: readonly string[], rows: readonly string[][], colour: boolean): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[], paint: boolean): string => cells.map((cell, i) => {
    const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]!);
    return paint && i === 1 && colour ? `\u001b[${COLOURS[cell] ?? '0'}m${padded}\u001b[0m` : padded;
  }).join('  ').trimEnd();
  return [line(header, false), ...rows.map((row) => line(row, true))].join('\n') + '\n';
}

/** Formats `list` entries as aligned columns; `colour` paints the status. */
export function formatTable(entries: readonly ListEntry[], colour: boolean): string {
  if (entries.length === 0) return 'no daemons installed (dae install <name> <script>)\n';
  const header = ['name', 'status', 'pid', 'tcp', 'http', 'ws', 'restarts', 'uptime', 'cpu', 'memory', 'need', 'reason'];
  const copies = new Map<string, number>();
  for (const e of entries) copies.set(e.name, (copies.get(e.name) ?? 0) + 1);
  const rows = entries.map((e) => [
    // Instances of one daemon: name[instance].
    (copies.get(e.name) ?? 1) > 1 ? `${e.name}[${e.instance}]` : e.name, e.status, e.pid === null ? '-' : String(e.pid),
    String(e.ports.tcp ?? '-'), String(e.ports.http ?? '-'), String(e.ports.ws ?? '-'),
    String(e.restarts), duration(e.uptime), e.pid === null ? '-' : `${e.cpu}%`, bytes(e.memory),
    e.lan ? `${e.lan.need} (epoch ${e.lan.epoch})` : '-',
    // Up again after the supervisor ended a run (hung, over max-memory): the cause stays in view.
    [e.reason ?? (e.status === 'online' && e.restarts > 0 && e.lastExit?.reason ? `restarted: ${e.lastExit.reason}` : null),
      e.portHeldBy ? `port ${e.portHeldBy.port} held by pid ${e.portHeldBy.pid ?? '?'}` : null,
      e.logBehind ? 'logs held: the disk is behind, its output waits' : null].filter(Boolean).join('; '),
  ]);
  return formatColumns(header, rows, colour);
}
