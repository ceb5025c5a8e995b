// The sampler's history: a bounded ring per daemon copy; copies that do not run get no sample; a daemon's go with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SampleHistory } from '../../src/supervisor/samples.js';
import type { ListEntry } from '../../src/supervisor/managed.js';

const copy = (name: string, instance: number, pid: number | null, cpu = 1, memory = 100): ListEntry => ({ name, instance, pid, cpu, memory } as unknown as ListEntry);

test('each tick adds a sample per running copy, the ring keeps the newest, and a daemon\'s samples go with it', () => {
  const history = new SampleHistory(3);
  for (let at = 1; at <= 5; at++) {
    const taken = history.record([copy('a', 0, 10, at, at * 10), copy('a', 1, 11), copy('b', 0, null), copy('c', 0, 12, 0, 0)], at);
    assert.deepEqual(taken.map((t) => `${t.name}/${t.instance}`), ['a/0', 'a/1'], 'a copy that does not run, or was not measured yet, gets none');
  }
  assert.deepEqual(history.get('a').find((c) => c.instance === 0)!.samples, [[3, 3, 30], [4, 4, 40], [5, 5, 50]]);
  assert.deepEqual(history.get('b'), []);
  history.forget('a', 1);
  assert.deepEqual(history.get().map((c) => `${c.name}/${c.instance}`), ['a/0']);
  history.forget('a');
  assert.deepEqual(history.get(), []);
});
