// What a starting supervisor does with the runs an earlier one left: a pure decision from the state and one scan of
// /proc (the processes carrying a run secret). Applying it (adopting, killing, starting) is the supervisor's.
import type { RunProcess } from './runs.js';
import type { DaemonSpec, PersistedState, RunRecord } from './spec.js';

export interface TakeBack {
  /** Daemons to keep (each with the restarts recorded), and the run to adopt when one is alive and recorded. */
  keep: Array<{ spec: DaemonSpec; instance: number; restarts: number; adopt: (RunRecord & { pid: number }) | null; start: boolean }>;
  /** Daemons a LAN placed, which a supervisor that follows no LAN manager gives back (stops and forgets). */
  giveBack: DaemonSpec[];
  /** Runs whose processes must die first: unadoptable, or of daemons given back or stopped. */
  reap: RunRecord[];
  /** Processes of this home that no record knows (one per run secret). */
  strays: RunProcess[];
}

// The process an earlier supervisor spawned for `run`: its recorded pid, or (a record written ahead of the spawn) the
// earliest group leader that carries its secret.
function leaderOf(run: RunRecord, processes: readonly RunProcess[]): RunProcess | undefined {
  const leaders = processes.filter((item) => item.pid === item.pgid && (run.pid === null || item.pid === run.pid));
  return leaders.sort((a, b) => a.started - b.started)[0];
}

/** Decides, for every recorded daemon and every process found, what a starting supervisor does. */
export function decideTakeBack(state: PersistedState, found: readonly RunProcess[], options: { runtimeDir: string; followsLan: boolean }): TakeBack {
  const plan: TakeBack = { keep: [], giveBack: [], reap: [], strays: [] };
  const known = new Set<string>();
  // Every copy: instance 0 (`run`), the other instances, and the new run of a reload cut short (same instance, later).
  const copies = state.daemons.flatMap(({ spec, run, restarts = 0, copies: more = [] }) => [{ spec, run, restarts, instance: 0 }, ...more.map((copy) => ({ spec, ...copy }))]);
  for (const { spec, run, restarts, instance } of copies) {
    if (run !== null) known.add(run.secret);
    const mine = run === null ? [] : found.filter((item) => item.secret === run.secret);
    // Placed by a LAN this supervisor no longer follows: nobody would start, restart or keep it.
    if (spec.lan !== undefined && !options.followsLan) {
      if (instance === 0) plan.giveBack.push(spec);
      if (mine.length > 0) plan.reap.push(run!);
      continue;
    }
    const leader = run === null || spec.stopped ? undefined : leaderOf(run, mine);
    // An instance past the count (scaled down while the supervisor died) is not kept.
    if (instance >= (spec.instances ?? 1)) {
      if (run !== null && mine.length > 0) plan.reap.push(run);
      continue;
    }
    // One copy per instance. A second record is a reload's new run, cut short before it took over (after that the old
    // one is no longer recorded): it was never proven, so the old run keeps serving and the new one goes; it is kept
    // only when the old one is gone.
    const earlier = plan.keep.findIndex((item) => item.spec.name === spec.name && item.instance === instance);
    const alive = run !== null && leader !== undefined;
    if (earlier !== -1) {
      const other = plan.keep[earlier]!;
      if (!alive || other.adopt !== null) {
        if (run !== null && mine.length > 0) plan.reap.push(run);
        continue;
      }
      plan.keep.splice(earlier, 1);
    }
    if (alive) {
      plan.keep.push({ spec, instance, restarts, adopt: { ...run, pid: leader.pid }, start: false });
      continue;
    }
    if (run !== null && mine.length > 0) plan.reap.push(run);
    plan.keep.push({ spec, instance, restarts, adopt: null, start: !spec.stopped });
  }
  for (const stray of found) {
    if (stray.runtimeDir !== options.runtimeDir || known.has(stray.secret)) continue;
    known.add(stray.secret);
    plan.strays.push(stray);
    plan.reap.push({ pid: stray.pgid, secret: stray.secret, startedAt: 0 });
  }
  return plan;
}
