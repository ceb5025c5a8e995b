// `GET /metrics` on the supervisor's HTTP door: its daemons and itself in Prometheus's text format (version 0.0.4).
// The figures come in, the text goes out (and `ownFigures` reads this process's).
import type { ListEntry } from './managed.js';
import { STATUSES } from './spec.js';

/** One copy of a daemon as the metrics show it. */
export interface DaemonFigures {
  entry: ListEntry;
  /** CPU time of its current run's process group (s), as last sampled. */
  cpuSeconds: number;
  /** When its current run started (s since the epoch), or null when none runs. */
  startTime: number | null;
}

/** The supervisor's own process. */
export interface ProcessFigures {
  cpuSeconds: number;
  residentBytes: number;
  startTime: number;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** This process's own figures, now. */
export function ownFigures(): ProcessFigures {
  const { user, system } = process.cpuUsage();
  return { cpuSeconds: (user + system) / 1e6, residentBytes: process.memoryUsage.rss(), startTime: Date.now() / 1000 - process.uptime() };
}

// A label value: backslash, double quote and newline escaped.
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

/** The LAN as this supervisor sees it (see `lan-view.ts`): its needs' statuses, and how many services and machines. */
export interface LanFigures {
  needs: ReadonlyArray<{ status: string }>;
  services: number;
  machines: number;
}

const NEED_STATUSES = ['unsatisfied', 'claimed', 'satisfied', 'backoff', 'errored'];

/** The exposition: each metric once with its HELP and TYPE, then its series (the LAN's when there is one). */
export function formatMetrics(daemons: readonly DaemonFigures[], supervisor: ProcessFigures, lan: LanFigures | null = null): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, series: Array<[Record<string, string>, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of series) {
      const text = Object.entries(labels).map(([key, v]) => `${key}="${label(v)}"`).join(',');
      lines.push(`${name}${text === '' ? '' : `{${text}}`} ${number(value)}`);
    }
  };
  const of = (d: DaemonFigures): Record<string, string> => ({ name: d.entry.name, instance: String(d.entry.instance) });
  metric('dae_daemon_up', 'gauge', 'Whether the daemon copy is online (1) or not (0).', daemons.map((d) => [of(d), d.entry.status === 'online' ? 1 : 0]));
  metric('dae_daemon_status', 'gauge', 'The daemon copy\'s status: 1 for the current one.', daemons.flatMap((d) => STATUSES.map((status): [Record<string, string>, number] => [{ ...of(d), status }, d.entry.status === status ? 1 : 0])));
  metric('dae_daemon_restarts_total', 'counter', 'Restarts of the daemon copy since it was installed.', daemons.map((d) => [of(d), d.entry.restarts]));
  metric('dae_daemon_cpu_seconds_total', 'counter', 'CPU time of the current run\'s process group, in seconds (starts again with each run).', daemons.map((d) => [of(d), d.cpuSeconds]));
  metric('dae_daemon_memory_bytes', 'gauge', 'Resident memory of the current run\'s process group, in bytes.', daemons.map((d) => [of(d), d.entry.memory]));
  metric('dae_daemon_start_time_seconds', 'gauge', 'When the current run started, in seconds since the epoch.', daemons.filter((d) => d.startTime !== null).map((d) => [of(d), d.startTime!]));
  metric('dae_daemon_last_exit_code', 'gauge', 'The exit code of the last run that ended (absent when none did, or it ended by a signal).', daemons.filter((d) => d.entry.lastExit?.code != null).map((d) => [of(d), d.entry.lastExit!.code!]));
  metric('dae_daemon_log_behind', 'gauge', 'Whether the daemon\'s output is held back because its log path is behind the disk (1) or not (0).', daemons.map((d) => [of(d), d.entry.logBehind ? 1 : 0]));
  if (lan !== null) {
    metric('dae_lan_needs', 'gauge', 'The LAN\'s needs, by status.', NEED_STATUSES.map((status) => [{ status }, lan.needs.filter((need) => need.status === status).length]));
    metric('dae_lan_services', 'gauge', 'The LAN\'s services: needs that run and answer somewhere.', [[{}, lan.services]]);
    metric('dae_lan_machines', 'gauge', 'Machines registered with the LAN.', [[{}, lan.machines]]);
  }
  metric('process_cpu_seconds_total', 'counter', 'CPU time of the supervisor, in seconds.', [[{}, supervisor.cpuSeconds]]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory of the supervisor, in bytes.', [[{}, supervisor.residentBytes]]);
  metric('process_start_time_seconds', 'gauge', 'When the supervisor started, in seconds since the epoch.', [[{}, supervisor.startTime]]);
  return `${lines.join('\n')}\n`;
}
