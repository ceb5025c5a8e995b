// In-process daemons for integration tests.
import { Daemon, type DaemonOptions, type Guest } from '../../src/index.js';
import { deferred } from './wire.js';

/** A daemon whose async commands are released by the test, so ordering is checked without sleeps. */
export class TestDaemon extends Daemon {
  override name = 'test';
  readonly gates = new Map<string, ReturnType<typeof deferred<unknown>>>();
  running = 0;
  maxRunning = 0;
  lastGuest: Guest | null = null;

  constructor(options: DaemonOptions = {}) {
    super(options);
  }

  /** Resolves once `count` `wait` handlers are running at once. */
  untilRunning(count: number): Promise<void> {
    if (this.running >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (running: number): void => {
        if (running < count) return;
        this.off('running', check);
        resolve();
      };
      this.on('running', check);
    });
  }

  gate(key: string): ReturnType<typeof deferred<unknown>> {
    let gate = this.gates.get(key);
    if (!gate) {
      gate = deferred<unknown>();
      this.gates.set(key, gate);
    }
    return gate;
  }

  commands = {
    echo: (value: unknown) => value,
    add: (a: number, b: number = 0) => a + b,
    wait: async (key: string) => {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      this.emit('running', this.running);
      try {
        return await this.gate(key).promise;
      } finally {
        this.running--;
      }
    },
    fail: () => {
      throw new Error('plain failure');
    },
    coded: async () => {
      throw Object.assign(new Error('not found here'), { code: 'ERR_NOT_FOUND' });
    },
    big: (bytes: number) => 'x'.repeat(bytes),
    bigint: () => ({ n: 1n }),
    secret: { protected: true, run: () => 'the secret' },
    subscribe: {
      guest: true,
      run: (guest: Guest) => {
        this.lastGuest = guest;
        return true;
      },
    },
    kick: { guest: true, run: (guest: Guest) => guest.close() },
    many: (...values: unknown[]) => values.length,
  };
}

/** Starts a TestDaemon on 127.0.0.1:0. */
export async function startTestDaemon(options: DaemonOptions = {}): Promise<TestDaemon> {
  const daemon = new TestDaemon({ env: {}, ...options });
  await daemon.start();
  return daemon;
}
