// Followers of a daemon's log (the dashboard's tail): what comes while the history is read is not sent twice, pushes
// are batched, and a flood is cut to a bounded backlog with the skipped lines counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Followers, TAIL_EVERY_MS, TAIL_HOLD_BYTES } from '../../src/logs/followers.js';
import type { Guest } from '../../src/daemon/session.js';

class FakeGuest extends EventEmitter {
  pushes: unknown[][] = [];
  ended = false;
  endAfterReplies(): void {
    this.ended = true;
  }

  push(name: string, ...args: unknown[]): boolean {
    this.pushes.push([name, ...args]);
    this.emit('pushed');
    return true;
  }
}

const stored = (...lines: string[]): Buffer => Buffer.from(lines.map((line) => `${line}\n`).join(''));

test('lines stored while the history was read are sent once, after the history, in one push', (t) => {
  // The batching timer is the test's clock.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const followers = new Followers();
  const guest = new FakeGuest();
  const follower = followers.add('web', guest as unknown as Guest);
  followers.offer('web', stored('t1 out a', 't2 out b'));
  followers.offer('other', stored('t3 out elsewhere'));
  assert.deepEqual(guest.pushes, [], 'nothing before the history is read');
  // The history read has `a` and `b` already (written meanwhile); `c` came after.
  followers.offer('web', stored('t4 out c'));
  followers.start('web', follower, ['t0 out z', 't1 out a', 't2 out b']);
  followers.offer('web', stored('t5 out d'));
  t.mock.timers.tick(TAIL_EVERY_MS);
  assert.deepEqual(guest.pushes, [['lines', 'web', ['t4 out c', 't5 out d'], 0]]);
  guest.emit('close');
  followers.offer('web', stored('t6 out e'));
  t.mock.timers.tick(TAIL_EVERY_MS);
  assert.equal(guest.pushes.length, 1, 'a closed follower gets nothing more');
});

test('a line twice in the history is dropped twice, not more; the end of a daemon sends what waits and ends its followers', async () => {
  const followers = new Followers();
  const guest = new FakeGuest();
  const follower = followers.add('web', guest as unknown as Guest);
  followers.offer('web', stored('t1 out same', 't1 out same', 't1 out same'));
  followers.start('web', follower, ['t1 out same', 't1 out same']);
  followers.offer('web', stored('t2 out last'));
  followers.end('web');
  assert.deepEqual(guest.pushes, [['lines', 'web', ['t1 out same', 't2 out last'], 0]], 'at once, not after the timer');
  assert.equal(guest.ended, true);
  guest.emit('close');
});

test('a flood keeps at most the newest 64 KiB and counts what it skipped', async () => {
  const followers = new Followers();
  const guest = new FakeGuest();
  followers.start('web', followers.add('web', guest as unknown as Guest), []);
  const line = 'x'.repeat(1023);
  for (let i = 0; i < 1000; i++) followers.offer('web', stored(`${i} ${line}`));
  await once(guest, 'pushed');
  const [, , records, skipped] = guest.pushes[0] as [string, string, string[], number];
  assert.ok(records.reduce((sum, r) => sum + r.length + 1, 0) <= TAIL_HOLD_BYTES);
  assert.equal(records.length + skipped, 1000);
  assert.ok(records.at(-1)!.startsWith('999 '), 'the newest are kept');
  guest.emit('close');
});
