// Admission, the peer tables and the token throttle: pure bookkeeping, tested without sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from '../../src/daemon/admission.js';
import { AuthThrottle } from '../../src/daemon/auth-throttle.js';
import { isLoopback, procAddress, socketKey, socketOwners } from '../../src/daemon/peers.js';

test('network connections share one pool with a cap per peer; unix sockets have their own pool', () => {
  const admission = new Admission({ maxConnections: 4, maxConnectionsPerPeer: 2 });
  const a1 = admission.admit('network', 'uid 1000');
  const a2 = admission.admit('network', 'uid 1000');
  const a3 = admission.admit('network', 'uid 1000');
  assert.equal(a1.ok && a2.ok, true);
  assert.deepEqual(a3, { ok: false, reason: 'serves at most 2 connections of one peer (uid 1000)' });
  assert.equal(admission.admit('network', 'uid 0').ok, true);
  assert.equal(admission.admit('network', 'address 10.0.0.5').ok, true);
  const full = admission.admit('network', 'address 10.0.0.6');
  assert.equal(full.ok, false);
  for (let i = 0; i < 4; i++) assert.equal(admission.admit('unix', null).ok, true, 'the unix pool is apart');
  assert.equal(admission.admit('unix', null).ok, false);
  if (a1.ok) {
    a1.release();
    a1.release();
  }
  assert.equal(admission.count('network'), 3, 'a release counts once');
  assert.equal(admission.admit('network', 'uid 1000').ok, true, 'a released slot is the peer\'s again');
});

test('/proc/net/tcp addresses: IPv4 words in host order, IPv6 and IPv4-mapped in tcp6', () => {
  assert.equal(procAddress({ address: '127.0.0.1', port: 8080 }, 'tcp'), '0100007F:1F90');
  assert.equal(procAddress({ address: '127.0.0.2', port: 1 }, 'tcp'), '0200007F:0001');
  assert.equal(procAddress({ address: '::1', port: 80 }, 'tcp6'), '00000000000000000000000001000000:0050');
  assert.equal(procAddress({ address: '::ffff:127.0.0.1', port: 80 }, 'tcp6'), '0000000000000000FFFF00000100007F:0050');
  assert.equal(procAddress({ address: '127.0.0.1', port: 80 }, 'tcp6'), '0000000000000000FFFF00000100007F:0050');
  assert.equal(isLoopback('127.1.2.3'), true);
  assert.equal(isLoopback('::ffff:127.0.0.1'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('10.0.0.1'), false);
});

test('the uid of a peer is the owner of the socket whose local end is the peer', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0',
    '   1: 0100007F:D431 0100007F:5BA0 01 00000000:00000000 00:00000000 00000000 65534        0 1002 1 0 20 4 30 10 -1',
    '   2: 0100007F:5BA0 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 20 4 30 10 -1',
    '',
  ].join('\n');
  const server = { address: '127.0.0.1', port: 0x5ba0 };
  const attacker = socketKey({ address: '127.0.0.1', port: 0xd431 }, server, 'tcp')!;
  const gone = socketKey({ address: '127.0.0.1', port: 0xd432 }, server, 'tcp')!;
  assert.equal(attacker, '0100007F:D431 0100007F:5BA0');
  assert.deepEqual(socketOwners(table, new Set([attacker, gone])), new Map([[attacker, 65534]]));
  // A socket its process closed (no inode) shows uid 0 in the table: it is nobody's, never root's.
  const closed = '   3: 0100007F:D433 0100007F:5BA0 06 00000000:00000000 03:00000F2C 00000000     0        0 0 3 0000000000000000\n';
  const orphan = socketKey({ address: '127.0.0.1', port: 0xd433 }, server, 'tcp')!;
  assert.deepEqual(socketOwners(table + closed, new Set([orphan])), new Map([[orphan, 'closed']]));
  // A dual-stack listener sees ::ffff:127.0.0.1; the peer's own socket is an IPv4 one.
  assert.equal(socketKey({ address: '::ffff:127.0.0.1', port: 0xd431 }, { address: '::ffff:127.0.0.1', port: 0x5ba0 }, 'tcp'), attacker);
  assert.equal(socketKey({ address: '::1', port: 0xd431 }, server, 'tcp'), null, 'an IPv6 peer is not in the IPv4 table');
  assert.deepEqual(socketOwners('', new Set([attacker])), new Map());
});

test('token failures: three free, then a delay doubling to the cap; attempts of one peer queue; others and success are unaffected', () => {
  const throttle = new AuthThrottle({ free: 3, base: 100, max: 800, forget: 60_000 });
  let now = 0;
  const attempt = (peer: string): number => {
    const at = throttle.slot(peer, now)!;
    now = at;
    throttle.failed(peer, now);
    return at;
  };
  const times = Array.from({ length: 7 }, () => attempt('uid 65534'));
  assert.deepEqual(times, [0, 0, 0, 100, 300, 700, 1500]);
  assert.equal(throttle.slot('uid 0', now), now, 'another peer is never slowed');
  // Attempts at once queue one after the other, up to twice the longest delay ahead; past that, refused at once.
  const first = throttle.slot('uid 65534', now)!;
  const second = throttle.slot('uid 65534', now)!;
  assert.deepEqual([first - now, second - now], [800, 1600]);
  assert.equal(throttle.slot('uid 65534', now), null, 'the queue of one peer stays short');
  throttle.succeeded('uid 65534');
  assert.equal(throttle.slot('uid 65534', now), now, 'a success starts the peer afresh');
  throttle.failed('address 10.0.0.9', 0);
  assert.equal(throttle.size, 1);
  assert.equal(throttle.slot('address 10.0.0.9', 120_000), 120_000, 'a long quiet peer is forgotten');
  const off = new AuthThrottle({ max: 0 });
  for (let i = 0; i < 10; i++) off.failed('x', 5);
  assert.equal(off.slot('x', 5), 5, 'max 0: no delays at all');
});
