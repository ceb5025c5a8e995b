// The etcd test harness, and the etcd facts the etcd backend relies on, checked with the real etcd3 client.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import { ExponentialBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions, type Lease, type Watcher } from 'etcd3';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdMember } from '../helpers/etcd.js';

// A write sent to a survivor just after the leader died is held until etcd's own ~5 s request timeout: the deadline
// ends it sooner and the retry policy sends it again.
const CALL_DEADLINE_MS = 1_000;

type WatchBackoff = NonNullable<IOptions['faultHandling']>['watchBackoff'];

/** Clients, leases and watchers of one test, released at its end so nothing keeps the process alive. */
class Resources {
  readonly #clients: Etcd3[] = [];
  readonly #leases: Lease[] = [];
  readonly #watchers: Watcher[] = [];

  /** An etcd3 client configured as the etcd note says: no per-host breaker, short watch backoff, deadlines. */
  client(endpoints: string[]): Etcd3 {
    const client = new Etcd3({
      hosts: endpoints,
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), {
          maxAttempts: 10,
          backoff: new ExponentialBackoff({ initialDelay: 20, maxDelay: 300 }),
        }),
        // etcd3 types this as a cockatiel IBackoff but calls it as the IBackoffFactory that cockatiel exports.
        watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) as unknown as WatchBackoff,
      },
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    });
    this.#clients.push(client);
    return client;
  }

  lease(client: Etcd3, ttl: number): Lease {
    const lease = client.lease(ttl);
    this.#leases.push(lease);
    return lease;
  }

  /** A watcher on `prefix` that etcd has acknowledged (only a connected watcher can be cancelled). */
  async watch(client: Etcd3, prefix: string): Promise<Watcher> {
    const watcher = await client.watch().prefix(prefix).create();
    this.#watchers.push(watcher);
    return watcher;
  }

  async release(): Promise<void> {
    await Promise.all(this.#watchers.splice(0).map((watcher) => watcher.cancel()));
    for (const lease of this.#leases.splice(0)) lease.release();
    for (const client of this.#clients.splice(0)) client.close();
  }
}

/** Resolves with the keys of the next `count` put/delete events, as `put key` / `delete key`. */
function nextEvents(watcher: Watcher, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    const seen: string[] = [];
    const record = (kind: string) => (kv: { key: Buffer }) => {
      seen.push(`${kind} ${kv.key.toString()}`);
      if (seen.length !== count) return;
      watcher.off('put', onPut).off('delete', onDelete);
      resolve(seen);
    };
    const onPut = record('put');
    const onDelete = record('delete');
    watcher.on('put', onPut).on('delete', onDelete);
  });
}

describe('etcd harness: one member', { timeout: 30_000 }, () => {
  let member: EtcdMember;
  const use = new Resources();

  before(async () => {
    member = await startEtcd();
  });
  afterEach(() => use.release());
  after(() => member?.stop());

  test('the member has a loopback endpoint and a pid', () => {
    assert.match(member.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(member.pid > 0);
    assert.ok(member.running);
  });

  test('put then get', async () => {
    const client = use.client([member.endpoint]);
    await client.put('harness/greeting').value('hello');
    assert.equal(await client.get('harness/greeting').string(), 'hello');
  });

  test('create-if-absent: two racing clients, exactly one winner each time', async () => {
    const a = use.client([member.endpoint]);
    const b = use.client([member.endpoint]);
    const create = (client: Etcd3, key: string, who: string) =>
      client.if(key, 'Create', '==', 0).then(client.put(key).value(who)).commit();
    for (let round = 0; round < 50; round++) {
      const key = `race/${round}`;
      const [ra, rb] = await Promise.all([create(a, key, 'a'), create(b, key, 'b')]);
      assert.equal(Number(ra.succeeded) + Number(rb.succeeded), 1, `round ${round}: one winner`);
      assert.equal(await a.get(key).string(), ra.succeeded ? 'a' : 'b', `round ${round}: the winner's value`);
    }
  });

  test('a leased key disappears when its lease is revoked', async () => {
    const client = use.client([member.endpoint]);
    const lease = use.lease(client, 10);
    await lease.put('leased/key').value('v');
    assert.equal(await client.get('leased/key').string(), 'v');
    await lease.revoke();
    assert.equal(await client.get('leased/key').string(), null);
  });

  test('a prefix watch delivers a put and a delete, in order', async () => {
    const client = use.client([member.endpoint]);
    const watcher = await use.watch(client, 'watched/');
    const events = nextEvents(watcher, 2);
    await client.put('unwatched/x').value('ignored');
    await client.put('watched/a').value('1');
    await client.delete().key('watched/a');
    assert.deepEqual(await events, ['put watched/a', 'delete watched/a']);
  });

  // Last in this suite: it restarts the shared member.
  test('after a restart on the same data directory, data survives and client and watch recover', async () => {
    const client = use.client([member.endpoint]);
    const watcher = await use.watch(client, 'restart/');
    // The watch must have seen this put before the restart, or it replays it after (etcd resumes from its last revision).
    const seen = nextEvents(watcher, 1);
    await client.put('restart/before').value('yes');
    assert.deepEqual(await seen, ['put restart/before']);
    const pid = member.pid;
    const reconnected = once(watcher, 'connected');
    await member.restart();
    assert.notEqual(member.pid, pid);

    const events = nextEvents(watcher, 1);
    await client.put('restart/after').value('ok');
    assert.equal(await client.get('restart/before').string(), 'yes');
    assert.equal(await client.get('restart/after').string(), 'ok');
    await reconnected;
    assert.deepEqual(await events, ['put restart/after']);
  });
});

describe('etcd harness: three members', { timeout: 30_000 }, () => {
  let cluster: EtcdCluster;
  const use = new Resources();

  before(async () => {
    cluster = await startEtcdCluster(3);
  });
  afterEach(() => use.release());
  after(() => cluster?.stop());

  test('three members on distinct loopback endpoints', () => {
    assert.equal(cluster.members.length, 3);
    assert.deepEqual(cluster.endpoints, cluster.members.map((member) => member.endpoint));
    assert.equal(new Set(cluster.endpoints).size, 3);
  });

  test('the cluster keeps accepting writes after its leader is killed', async () => {
    const client = use.client(cluster.endpoints);
    await client.put('cluster/before').value('1');

    // Kill the leader: the case that needs an election.
    const status = await client.maintenance.status();
    const { members } = await client.cluster.memberList({});
    const leaderName = members.find((member) => member.ID === status.leader)?.name;
    const leader = cluster.members.find((member) => member.name === leaderName);
    assert.ok(leader, `leader ${status.leader} is one of ours`);
    await leader.kill('SIGKILL');
    assert.equal(leader.running, false);

    for (let i = 0; i < 10; i++) await client.put(`cluster/after/${i}`).value(String(i));
    assert.equal(await client.get('cluster/before').string(), '1');
    assert.equal((await client.getAll().prefix('cluster/after/').keys()).length, 10);
  });
});

describe('etcd harness: missing binary', () => {
  test('startEtcd says how to install etcd instead of skipping', async () => {
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      await assert.rejects(startEtcd(), {
        code: 'ERR_ETCD_NOT_FOUND',
        message: 'etcd not found: run npm run test:all, which installs etcd-server',
      });
    } finally {
      if (path === undefined) delete process.env['PATH'];
      else process.env['PATH'] = path;
    }
  });
});
