// How a need moves: pure functions from a need, the time and the facts to the next need (null = no change).
import { decideRestart, type ExitFacts, type RestartPolicy } from '../supervisor/policy.js';
import type { Need } from './records.js';

/** The first need of `need.after` that is not satisfied somewhere on the LAN (its name), or null. */
export function waitsFor(need: Need, needs: ReadonlyMap<string, Need>): string | null {
  return need.after?.find((name) => needs.get(name)?.status !== 'satisfied') ?? null;
}

/** May a machine claim it now? */
export function isClaimable(need: Need, now: number): boolean {
  return need.status === 'unsatisfied' || (need.status === 'backoff' && need.notBefore <= now);
}

/** True while `epoch` is the need's live claim by `machine`. */
export function holdsClaim(need: Need, machine: string, epoch: number): boolean {
  return need.claim !== null && need.claim.machine === machine && need.claim.epoch === epoch && (need.status === 'claimed' || need.status === 'satisfied');
}

/** A claim: the next epoch; the claimer has `need.timeout` ms to make it reachable. */
export function claimNeed(need: Need, machine: string, now: number): Need {
  const epoch = need.epoch + 1;
  return { ...need, status: 'claimed', reason: null, claim: { machine, epoch, at: now }, epoch, notBefore: 0 };
}

/** The claimed run answers: the need is a service (`note`: how that was known, when not by the LAN manager's check). */
export function satisfyNeed(need: Need, note: string | null = null): Need {
  return { ...need, status: 'satisfied', reason: note };
}

/** Back to unsatisfied without counting against the need (its machine went away; it was not its fault). */
export function releaseNeed(need: Need, reason: string): Need {
  return { ...need, status: 'unsatisfied', reason, claim: null, notBefore: 0 };
}

/**
 * The run of a claim ended (exit, failed start, unreachable, claim timeout): the restart policy decides, as it does
 * on one machine. The first restart is immediate, then backoff, then `errored` after a crash loop.
 */
export function failNeed(need: Need, policy: RestartPolicy, exit: ExitFacts, reason: string, now: number): Need {
  const decision = decideRestart({ ...policy, mode: 'always' }, need.history, exit);
  const base = { ...need, claim: null, history: decision.history };
  if (decision.action === 'stop') return { ...base, status: 'errored', reason: `${reason}; ${decision.reason}`, notBefore: 0 };
  if (decision.delay === 0) return { ...base, status: 'unsatisfied', reason, notBefore: 0 };
  return { ...base, status: 'backoff', reason: `${reason}; next try in ${decision.delay} ms`, notBefore: now + decision.delay };
}

export interface Sweep {
  /** What the need becomes; null = unchanged. */
  next: Need | null;
  /** When to look at it again (ms since the epoch); null = only on a change. */
  wakeAt: number | null;
}

export interface SweepFacts {
  now: number;
  /** Ids of the machines registered now. */
  machines: ReadonlySet<string>;
  /** False during the LAN manager's first moments, while machines re-register: nobody is declared lost yet. */
  mayDeclareLost: boolean;
  policy: RestartPolicy;
  /** Every need by name (for `after`): a free need whose dependencies are not satisfied says which it waits for. */
  needs?: ReadonlyMap<string, Need>;
}

/** The timers of one need: claims that timed out, machines that are gone, backoff that ended. */
export function sweepNeed(need: Need, facts: SweepFacts): Sweep {
  const { now } = facts;
  if ((need.status === 'claimed' || need.status === 'satisfied') && need.claim !== null) {
    if (!facts.machines.has(need.claim.machine)) {
      if (!facts.mayDeclareLost) return { next: null, wakeAt: null };
      return { next: releaseNeed(need, `machine ${need.claim.machine} was lost`), wakeAt: null };
    }
    if (need.status === 'claimed') {
      const deadline = need.claim.at + need.timeout;
      if (now >= deadline) {
        const exit = { exitCode: null, signal: null, uptime: 0 };
        return { next: failNeed(need, facts.policy, exit, `not reachable within ${need.timeout} ms of the claim by ${need.claim.machine}`, now), wakeAt: null };
      }
      return { next: null, wakeAt: deadline };
    }
    return { next: null, wakeAt: null };
  }
  if (need.status === 'backoff') {
    if (need.notBefore <= now) return { next: { ...need, status: 'unsatisfied' }, wakeAt: null };
    return { next: null, wakeAt: need.notBefore };
  }
  if (need.status === 'unsatisfied' && facts.needs !== undefined) {
    const first = waitsFor(need, facts.needs);
    const reason = first === null ? null : `waiting for need ${first} to be satisfied`;
    if (first !== null && need.reason !== reason) return { next: { ...need, reason }, wakeAt: null };
    if (first === null && need.reason?.startsWith('waiting for need ')) return { next: { ...need, reason: null }, wakeAt: null };
  }
  return { next: null, wakeAt: null };
}
