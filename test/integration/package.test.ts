// What `npm pack` ships: the licence, sources for every source map, and no etcd client for those who do not use etcd
// (`--etcd` without it is a clear coded error naming the packages).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv } from '../helpers/cli.js';
import { removeHomes, tempHome } from '../helpers/supervisor.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
after(removeHomes);

test('the package ships its licence and the sources its maps point at', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(packed!.files.map((file) => file.path));
  assert.ok(files.has('LICENSE'));
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License/);
  const maps = [...files].filter((file) => file.endsWith('.js.map'));
  assert.ok(maps.length > 20);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
    for (const source of sources) assert.ok(files.has(normalize(join(dirname(map), source))), `${map} points at ${source}, which is not shipped`);
  }
  assert.ok(![...files].some((file) => file.startsWith('dist/test') || file.startsWith('dist/bench')), 'no tests or benchmarks');
});

test('etcd3 is an optional peer dependency; --etcd without it says which packages to install', async () => {
  assert.equal(pkg.dependencies!.etcd3, undefined);
  assert.deepEqual(pkg.peerDependenciesMeta!.etcd3, { optional: true });
  assert.deepEqual(pkg.peerDependenciesMeta!.cockatiel, { optional: true });
  // An install without the optional peers: the package and its own dependencies only.
  const project = tempHome();
  const installed = join(project, 'node_modules', 'dae');
  mkdirSync(installed, { recursive: true });
  for (const part of ['package.json', 'dist/src']) cpSync(join(ROOT, part), join(installed, part), { recursive: true });
  const linked = new Set<string>();
  const link = (dependency: string): void => {
    if (linked.has(dependency)) return;
    linked.add(dependency);
    symlinkSync(join(ROOT, 'node_modules', dependency), join(project, 'node_modules', dependency));
    const own = JSON.parse(readFileSync(join(ROOT, 'node_modules', dependency, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const next of Object.keys(own.dependencies ?? {})) link(next);
  };
  for (const dependency of Object.keys(pkg.dependencies!)) link(dependency);
  assert.ok(!linked.has('etcd3') && !linked.has('cockatiel'));
  const home = tempHome();
  const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(installed, 'dist/src/cli/main.js'), 'lan', 'start', '--foreground', '--port', '0', '--ws', '0', '--etcd', 'http://127.0.0.1:1'], { env: { ...baseEnv, DAE_HOME: home }, cwd: project }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^dae: ERR_MISSING_PACKAGE: --etcd needs the npm packages etcd3 and cockatiel, which are not installed: npm install etcd3 cockatiel/);
});
