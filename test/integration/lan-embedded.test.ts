// The LAN on the embedded registry (the default): the whole behaviour suite.
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRegistry } from '../../src/index.js';
import { lanScenarios } from '../helpers/lan-scenarios.js';
import { removeHomes } from '../helpers/supervisor.js';

const dir = mkdtempSync(join(tmpdir(), 'dae-lan-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  removeHomes();
});
let rigs = 0;

lanScenarios('embedded', async () => {
  // One file per rig: a restarted LAN manager reads the needs its predecessor wrote.
  const file = join(dir, `needs-${rigs++}.json`);
  return { portBase: 27000, openRegistry: async () => new EmbeddedRegistry(file) };
});
