// `dae list` as a table: what a row says beyond the columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from '../../src/cli/table.js';
import type { ListEntry } from '../../src/supervisor/managed.js';

const entry: ListEntry = {
  name: 'kv', instance: 0, pid: 42, status: 'online', ports: { tcp: 15000 }, socket: null, restarts: 0, uptime: 5, cpu: 1, memory: 1 << 20,
  lastExit: null, reason: null, script: '/kv.js', adopted: false, lastHealth: null, logBehind: false,
};

test('a daemon whose log path is behind the disk says so in its row', () => {
  assert.doesNotMatch(formatTable([entry], false), /logs held/);
  assert.match(formatTable([{ ...entry, logBehind: true }], false), /^kv\s+online\s+42\s.*logs held: the disk is behind, its output waits$/m);
});
