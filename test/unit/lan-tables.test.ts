// `dae needs` tables: a machine whose id a second live process presented is named under the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatClones } from '../../src/cli/lan-tables.js';

test('a warning line per machine with a refused copy, nothing otherwise', () => {
  assert.equal(formatClones([{ id: 'm-1', address: '10.0.0.2' }]), '');
  assert.equal(
    formatClones([{ id: 'm-1', address: '10.0.0.2', clone: { address: '10.0.0.3', remote: '10.0.0.3', at: '2026-12-07T08:00:00.000Z' } }, { id: 'm-2', address: '10.0.0.4' }]),
    'warning: machine m-1 (10.0.0.2): a second live process with its id and key was refused at 10.0.0.3 (connection from 10.0.0.3, last 2026-12-07T08:00:00.000Z): a cloned home? give it a fresh machine-id and machine-key\n',
  );
});
