// A steady load on one daemon, as the reload test and benchmark need it: Common TCP clients calling in a loop (each
// on its own connection, reconnecting when the daemon closes it) and HTTP keep-alive requests. A call that meets a
// connection the old run is closing is retried once on a new connection (the one race no server can remove: a
// request written on an idle kept-alive connection just as the server closes it); what still fails is counted.
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'node:http';

export interface LoadCounts {
  /** Calls answered. */
  answered: number;
  /** Connections refused (ECONNREFUSED): must stay 0 while the sockets are held. */
  refused: number;
  /** Calls retried once after their connection closed under them. */
  retried: number;
  /** Calls that failed even after the retry. */
  failed: number;
  /** The slowest answered call (ms). */
  longest: number;
  /** Distinct pids that answered. */
  pids: Set<number>;
  /** What the failed calls met, by kind (`tcp: <line>`, `tcp: closed`, `http: <status or error>`). */
  failures: Map<string, number>;
}

type Outcome = { ok: true; pid: number } | { ok: false; refused: boolean; why: string };

// One Common TCP client: one connection at a time, one call at a time.
class TcpCaller {
  #socket: Socket | null = null;
  #buffer = '';
  #pending: ((outcome: Outcome) => void) | null = null;

  constructor(private readonly port: number) {}

  /** One call; `fresh`: on a new connection. */
  call(fresh = false): Promise<Outcome> {
    if (fresh) this.close();
    return new Promise((resolve) => {
      this.#pending = resolve;
      const socket = this.#socket ?? this.#open();
      socket.write('pid\n');
    });
  }

  #open(): Socket {
    const socket = connect({ port: this.port, host: '127.0.0.1' });
    this.#socket = socket;
    this.#buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let newline: number;
      while ((newline = this.#buffer.indexOf('\n')) !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        const match = /^pid \[(\d+)\]$/.exec(line);
        this.#settle(match ? { ok: true, pid: Number(match[1]) } : { ok: false, refused: false, why: `tcp: ${line.slice(0, 80)}` });
      }
    });
    const gone = (error?: NodeJS.ErrnoException): void => {
      if (this.#socket === socket) this.#socket = null;
      this.#settle({ ok: false, refused: error?.code === 'ECONNREFUSED', why: `tcp: ${error?.code ?? 'closed'}` });
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
    return socket;
  }

  #settle(outcome: Outcome): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.(outcome);
  }

  close(): void {
    const socket = this.#socket;
    this.#socket = null;
    socket?.destroy();
  }
}

// One HTTP request (POST /pid) on a kept-alive connection of `agent`, or on a new one (`agent` false).
function httpCall(port: number, agent: Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/pid', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 && /^\d+$/.test(body.trim()) ? { ok: true, pid: Number(body.trim()) } : { ok: false, refused: false, why: `http: ${res.statusCode} ${body.slice(0, 80)}` }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, refused: false, why: `http: ${error.code ?? error.message}` }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, refused: error.code === 'ECONNREFUSED', why: `http: ${error.code ?? error.message}` }));
    req.end('[]');
  });
}

/** Runs `tcp` Common TCP clients on `ports.tcp` and `http` keep-alive clients on `ports.http` until `stop()`. */
export function startLoad(ports: { tcp: number; http: number }, clients: { tcp: number; http: number }): { counts: LoadCounts; stop(): Promise<LoadCounts>; calls(n: number): Promise<void> } {
  const counts: LoadCounts = { answered: 0, refused: 0, retried: 0, failed: 0, longest: 0, pids: new Set(), failures: new Map() };
  let running = true;
  let stopped: Promise<LoadCounts> | null = null;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  const agent = new Agent({ keepAlive: true, maxSockets: clients.http });
  // The retry goes on a new connection.
  const loop = async (once: () => Promise<Outcome>, again: () => Promise<Outcome>): Promise<void> => {
    while (running) {
      const started = performance.now();
      let outcome = await once();
      if (!outcome.ok && !outcome.refused) {
        counts.retried++;
        outcome = await again();
      }
      if (outcome.ok) {
        counts.answered++;
        counts.pids.add(outcome.pid);
        counts.longest = Math.max(counts.longest, performance.now() - started);
      } else if (outcome.refused) counts.refused++;
      else {
        counts.failed++;
        counts.failures.set(outcome.why, (counts.failures.get(outcome.why) ?? 0) + 1);
      }
      for (const waiter of waiters.filter((w) => counts.answered >= w.at)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const callers = Array.from({ length: clients.tcp }, () => new TcpCaller(ports.tcp));
  const loops = [
    ...callers.map((caller) => loop(() => caller.call(), () => caller.call(true))),
    ...Array.from({ length: clients.http }, () => loop(() => httpCall(ports.http, agent), () => httpCall(ports.http, false))),
  ];
  return {
    counts,
    /** Resolves once `n` more calls were answered. */
    calls: (n) => new Promise((resolve) => waiters.push({ at: counts.answered + n, resolve })),
    stop: () => (stopped ??= (async () => {
      running = false;
      await Promise.all(loops);
      for (const caller of callers) caller.close();
      agent.destroy();
      return counts;
    })()),
  };
}
