// Who may hold a connection: the network doors share one pool with a cap per peer well below it; unix sockets (the
// owner's alone) have their own pool, so no network flood can starve the control socket or the ready channel.
export type Pool = 'network' | 'unix';

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerPeer: number;
}

export type Admitted = { ok: true; release(): void } | { ok: false; reason: string };

/** Counts connections per pool and per peer; pure bookkeeping, no sockets. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #pools = new Map<Pool, number>();
  readonly #peers = new Map<string, number>();

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Admits a connection of `peer` (a uid or an address; unix connections need none) or says why not. */
  admit(pool: Pool, peer: string | null): Admitted {
    const { maxConnections, maxConnectionsPerPeer } = this.#limits;
    const inPool = this.#pools.get(pool) ?? 0;
    if (inPool >= maxConnections) return { ok: false, reason: `serves at most ${maxConnections} ${pool === 'unix' ? 'unix socket' : 'network'} connections` };
    const ofPeer = peer === null ? 0 : (this.#peers.get(peer) ?? 0);
    if (peer !== null && ofPeer >= maxConnectionsPerPeer) return { ok: false, reason: `serves at most ${maxConnectionsPerPeer} connections of one peer (${peer})` };
    this.#pools.set(pool, inPool + 1);
    if (peer !== null) this.#peers.set(peer, ofPeer + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#pools.set(pool, (this.#pools.get(pool) ?? 1) - 1);
        if (peer === null) return;
        const left = (this.#peers.get(peer) ?? 1) - 1;
        if (left === 0) this.#peers.delete(peer);
        else this.#peers.set(peer, left);
      },
    };
  }

  /** Connections held now, per pool. */
  count(pool: Pool): number {
    return this.#pools.get(pool) ?? 0;
  }
}
