// Arity read from handler sources, and the command table built from declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arityOf } from '../../src/daemon/arity.js';
import { buildCommandTable, describeCommands, resolveCommand } from '../../src/daemon/commands.js';
import type { DaeError } from '../../src/errors.js';

test('declared parameters, defaults as optional, rest parameters', () => {
  const cases: Array<[(...args: never[]) => unknown, number, number]> = [
    [() => 1, 0, 0],
    [(a: unknown) => a, 1, 1],
    [(a: unknown, b: unknown) => [a, b], 2, 2],
    [(a: unknown, b: unknown = 1) => [a, b], 1, 2],
    [(a = '(,)', b = [1, 2], c = { d: ')' }) => [a, b, c], 0, 3],
    [(...rest: unknown[]) => rest, 0, Infinity],
    [(a: unknown, ...rest: unknown[]) => [a, rest], 1, Infinity],
    [({ a, b }: { a: unknown; b: unknown }, [c, d]: unknown[]) => [a, b, c, d], 2, 2],
    [async (a: unknown) => a, 1, 1],
    [function named(a: unknown, b = `,${1}`) { return [a, b]; }, 1, 2],
    [(a: unknown, /* , */ b = '\\', ) => [a, b], 1, 2],
  ];
  for (const [fn, required, max] of cases) assert.deepEqual(arityOf(fn), { required, max }, fn.toString());
  const object = { method(a: unknown, b = 2) { return [a, b]; } };
  assert.deepEqual(arityOf(object.method), { required: 1, max: 2 });
  assert.deepEqual(arityOf(new Function('return (x => x)')() as () => unknown), { required: 1, max: 1 });
  assert.deepEqual(arityOf(((a: unknown, b: unknown) => [a, b]).bind(null)), { required: 2, max: 2 });
});

test('the command table refuses bad names, reserved names and non-functions', () => {
  const fail = (declared: Record<string, unknown>, pattern: RegExp): void =>
    assert.throws(() => buildCommandTable(declared as never, {}), (error: DaeError) => error.code === 'ERR_BAD_OPTION' && pattern.test(error.message));
  fail({ 'bad name': () => 1 }, /must be 1-64/);
  fail({ error: () => 1 }, /reserved/);
  fail({ pong: () => 1 }, /reserved/);
  fail({ x: 5 }, /needs a function/);
  fail({ x: { run: () => 1, reply: 'error' } }, /reply name "error" is not the original dae's for it/);
  fail({ items: { run: () => 1, reply: 'itemlist' } }, /reply name "itemlist" is not the original dae's for it/);
  fail({ x: { run: () => 1, spread: true } }, /spread is for built-ins/);
  assert.equal(buildCommandTable({ list: { run: () => [], reply: 'daemons' } }, {}).get('list')!.reply, 'daemons');
  assert.throws(() => buildCommandTable({ ping: () => 1 }, { ping: () => 2 }), /is a built-in/);
});

test('guest handlers do not count the guest; overrides win; options shows arities', () => {
  const table = buildCommandTable({
    sub: { guest: true, run: (_guest: unknown, topic: string) => topic },
    loose: { run: (...args: unknown[]) => args.length },
    fixed: { run: (...args: unknown[]) => args.length, required: 1, params: 2 },
    locked: { protected: true, run: () => 1 },
  }, {});
  assert.deepEqual(describeCommands(table), { sub: 1, loose: -1, fixed: 2, locked: 0 });
  assert.equal((resolveCommand(table, 'fixed', [], true) as { code: string }).code, 'ERR_BAD_ARGS');
  assert.equal((resolveCommand(table, 'fixed', [1, 2, 3], true) as { code: string }).code, 'ERR_BAD_ARGS');
  assert.equal((resolveCommand(table, 'loose', [1, 2, 3, 4], true) as { name: string }).name, 'loose');
  assert.equal((resolveCommand(table, 'locked', [], false) as { code: string }).code, 'ERR_AUTH_REQUIRED');
  assert.equal((resolveCommand(table, '__proto__', [], true) as { code: string }).code, 'ERR_UNKNOWN_COMMAND');
});
