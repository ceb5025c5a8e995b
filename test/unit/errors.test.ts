// The error table is a contract: the codes in the code and in the README's table are the same set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DaeError, ERRORS, fromWire, toWireError } from '../../src/errors.js';

test('every code is documented in the README error table, and every documented code exists', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Error codes'));
  const documented = new Set([...section.matchAll(/^\|\s*`(ERR_[A-Z_]+)`/gm)].map((match) => match[1]));
  assert.ok(documented.size > 0, 'the README has an error table under "## Error codes"');
  assert.deepEqual([...documented].sort(), Object.keys(ERRORS).sort());
});

test('errors cross the wire as {code, message}, never a stack', () => {
  assert.deepEqual(toWireError(new DaeError('ERR_BAD_ARGS', 'no')), { code: 'ERR_BAD_ARGS', message: 'no' });
  assert.deepEqual(toWireError(new Error('boom')), { code: 'ERR_COMMAND_FAILED', message: 'boom' });
  assert.deepEqual(toWireError(Object.assign(new Error('x'), { code: 'ERR_MINE' })), { code: 'ERR_MINE', message: 'x' });
  assert.deepEqual(toWireError(Object.assign(new Error('x'), { code: 'ENOENT' })), { code: 'ERR_COMMAND_FAILED', message: 'x' });
  assert.deepEqual(toWireError('text'), { code: 'ERR_COMMAND_FAILED', message: 'text' });
  assert.deepEqual(toWireError(42), { code: 'ERR_COMMAND_FAILED', message: 'command failed' });
  assert.deepEqual(toWireError({ code: 'ERR_OBJ', message: 5 }), { code: 'ERR_OBJ', message: 'command failed' });
});

test('the client rebuilds errors from the wire and tolerates a malformed peer', () => {
  const error = fromWire({ code: 'ERR_NOT_FOUND', message: 'gone' });
  assert.ok(error instanceof DaeError);
  assert.equal(error.code, 'ERR_NOT_FOUND');
  assert.equal(error.message, 'gone');
  assert.equal(fromWire('nonsense').code, 'ERR_PROTOCOL');
  assert.equal(fromWire({ code: 'ERR_X' }).message, 'ERR_X');
});
