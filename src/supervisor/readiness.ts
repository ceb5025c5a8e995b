// When a run is ready, and how its health is checked: the modes (`--ready`, `--health`) and pure decisions over what
// was observed. Probing sockets is `probe.ts`'s.
import { DaeError } from '../errors.js';

/** `report`: a dae Daemon's ready report; `port`/`http`: a probe answers; `none`: at once; `auto`: a report, or
 * staying up for `readyAfter` without one. */
export type ReadyMode =
  | { kind: 'report' }
  | { kind: 'port'; port: number | null }
  | { kind: 'http'; path: string; port: number | null }
  | { kind: 'none' }
  | { kind: 'auto' };

export type HealthMode = { kind: 'port'; port: number | null } | { kind: 'http'; path: string; port: number | null } | { kind: 'none' };

const PORT = /^port(?::(\d{1,5}))?$/;
const HTTP = /^http(?::(\d{1,5}))?:(\/[\x21-\x7e]*)$/;

function probeMode(text: string, what: string): { kind: 'port'; port: number | null } | { kind: 'http'; path: string; port: number | null } | null {
  const port = PORT.exec(text);
  if (port) return { kind: 'port', port: checkPort(port[1], what) };
  const http = HTTP.exec(text);
  if (http) return { kind: 'http', port: checkPort(http[1], what), path: http[2]! };
  return null;
}

function checkPort(text: string | undefined, what: string): number | null {
  if (text === undefined) return null;
  const port = Number(text);
  if (port < 1 || port > 65535) throw new DaeError('ERR_BAD_ARGS', `${what}: port ${port} is not from 1 to 65535`);
  return port;
}

/** Parses `--ready` (`report`, `port`, `port:<n>`, `http:<path>`, `http:<n>:<path>`, `none`, `auto`). */
export function parseReady(text: unknown): ReadyMode {
  if (text === 'report' || text === 'none' || text === 'auto') return { kind: text };
  const probe = typeof text === 'string' ? probeMode(text, 'option ready') : null;
  if (probe !== null) return probe;
  throw new DaeError('ERR_BAD_ARGS', `option ready must be report, port, port:<n>, http:<path>, none or auto, got ${JSON.stringify(text)}`);
}

/** Parses `--health` (`port`, `port:<n>`, `http:<path>`, `http:<n>:<path>`, `none`). */
export function parseHealth(text: unknown): HealthMode {
  if (text === 'none') return { kind: 'none' };
  const probe = typeof text === 'string' ? probeMode(text, 'option health') : null;
  if (probe !== null) return probe;
  throw new DaeError('ERR_BAD_ARGS', `option health must be port, port:<n>, http:<path> or none, got ${JSON.stringify(text)}`);
}

/** The health check a readiness mode implies when none is given: the same probe, or none. */
export function defaultHealth(ready: string): string {
  const mode = parseReady(ready);
  return mode.kind === 'port' || mode.kind === 'http' ? ready : 'none';
}

/** True when a `port` probe decides a daemon's readiness or health: meaningless on a held socket (it accepts into the
 * backlog whatever the program does). */
export function probesPort(spec: { ready?: string; health?: string }): boolean {
  const ready = spec.ready ?? 'auto';
  return parseReady(ready).kind === 'port' || parseHealth(spec.health ?? defaultHealth(ready)).kind === 'port';
}

/** What has been seen of a starting run. */
export interface ReadyFacts {
  /** It sent a dae ready report (its secret on the control socket). */
  reported: boolean;
  /** The last probe of its port or URL answered. */
  probed: boolean;
  /** ms since it was spawned. */
  upFor: number;
  /** `auto`: this long up without a report counts as ready (ms). */
  readyAfter: number;
}

/** Whether a starting run is ready now. */
export function isReady(mode: ReadyMode, facts: ReadyFacts): boolean {
  switch (mode.kind) {
    case 'report': return facts.reported;
    case 'port':
    case 'http': return facts.probed;
    case 'none': return true;
    case 'auto': return facts.reported || facts.upFor >= facts.readyAfter;
  }
}

/** Words for a mode, as `list` and messages show it. */
export function describeMode(mode: ReadyMode | HealthMode): string {
  if (mode.kind === 'port') return mode.port === null ? 'its port accepting' : `port ${mode.port} accepting`;
  if (mode.kind === 'http') return `GET ${mode.path}${mode.port === null ? '' : ` on port ${mode.port}`} answering 2xx`;
  return mode.kind;
}
