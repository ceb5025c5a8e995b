// Another local user against the home: a home, folder, token or state they made or could reach is refused or replaced,
// links are never followed, and the CLI never talks to another home's supervisor. Needs root (setpriv to uid 65534).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dae, type DaeError } from '../../src/index.js';
import { ATTACKER_UID, asAttacker, requireRoot } from '../helpers/attacker.js';
import { fails, ok } from '../helpers/cli.js';
import { removeHomes, SAMPLE_KV, tempHome, testConfig } from '../helpers/supervisor.js';

const running: Dae[] = [];
let base = 32000;
function config(): ReturnType<typeof testConfig> {
  base += 10;
  return { ...testConfig(base), portrangestart: { tcp: base, http: base + 200, ws: base + 400 } };
}
async function start(home: string): Promise<Dae> {
  const dae = new Dae({ home, config: config() });
  running.push(dae);
  await dae.start();
  return dae;
}
const mode = (path: string): number => statSync(path).mode & 0o777;
const unsafe = (pattern: RegExp) => (error: DaeError): boolean => error.code === 'ERR_UNSAFE_FILE' && pattern.test(error.message);

before(requireRoot);
afterEach(async () => {
  await Promise.all(running.splice(0).map((dae) => dae.stop().catch(() => undefined)));
});
after(removeHomes);

describe('a home another user made or reached', () => {
  test('a home the attacker created (with a planted token) is refused, not used', async () => {
    const parent = tempHome();
    chmodSync(parent, 0o1777);
    const home = join(parent, 'home');
    const made = asAttacker('sh', '-c', `mkdir -m 700 ${home} && echo planted-token-0123456789abcdef0123456789 > ${home}/token`);
    assert.equal(made.code, 0, made.stderr);
    await assert.rejects(start(home), unsafe(new RegExp(`${home} is owned by uid ${ATTACKER_UID}`)));
  });

  test('a home in a folder others may write (no sticky bit) is refused: they could swap it', async () => {
    const parent = tempHome();
    chmodSync(parent, 0o777);
    await assert.rejects(start(join(parent, 'home')), unsafe(/which others may write/));
  });

  test('a home under a folder the attacker owns (even read-only to others), or under a link of theirs, is refused', async () => {
    const parent = tempHome();
    chmodSync(parent, 0o1777);
    const theirs = join(parent, 'theirs');
    assert.equal(asAttacker('mkdir', '-m', '755', theirs).code, 0);
    await assert.rejects(start(join(theirs, 'home')), unsafe(new RegExp(`lies under ${theirs}, owned by uid ${ATTACKER_UID}, who could replace it`)));
    const link = join(parent, 'link');
    assert.equal(asAttacker('ln', '-s', tempHome(), link).code, 0);
    await assert.rejects(start(join(link, 'home')), unsafe(new RegExp(`lies under ${link}, owned by uid ${ATTACKER_UID}`)));
  });

  test('our own home left open: folders are tightened, a folder the attacker planted in it is refused', async () => {
    const home = tempHome();
    chmodSync(home, 0o777);
    const made = asAttacker('mkdir', '-m', '777', join(home, 'logs'));
    assert.equal(made.code, 0, made.stderr);
    await assert.rejects(start(home), unsafe(/logs is owned by uid 65534/));
    assert.equal(mode(home), 0o700, 'the home itself was tightened before the planted folder was found');
  });

  test('folders with loose modes are tightened and a token others could read is replaced, both logged', async () => {
    const home = tempHome();
    mkdirSync(join(home, 'run'), { mode: 0o755 });
    chmodSync(home, 0o755);
    const old = 'an-old-token-others-could-read-0123456789abcdef';
    writeFileSync(join(home, 'token'), `${old}\n`, { mode: 0o644 });
    const dae = await start(home);
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, 'run')), 0o700);
    const token = readFileSync(join(home, 'token'), 'utf8').trim();
    assert.notEqual(token, old);
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(mode(join(home, 'token')), 0o600);
    const log = readFileSync(dae.paths.log, 'utf8');
    assert.match(log, /token could be read by others: replaced/);
    assert.match(log, /was open to others: mode set to 0700/);
  });

  test('a token or state the attacker owns is refused; a state that is a link is refused', async () => {
    const home = tempHome();
    writeFileSync(join(home, 'token'), `${'a'.repeat(64)}\n`, { mode: 0o600 });
    chownSync(join(home, 'token'), ATTACKER_UID, ATTACKER_UID);
    await assert.rejects(start(home), unsafe(/token is owned by uid 65534/));

    const second = tempHome();
    writeFileSync(join(second, 'elsewhere.json'), '{"version": 1, "daemons": []}\n', { mode: 0o600 });
    symlinkSync(join(second, 'elsewhere.json'), join(second, 'state.json'));
    await assert.rejects(start(second), unsafe(/state.json is a symbolic link/));
  });

  test('a log file planted as a link is never written through: the daemon is errored and the target untouched', async () => {
    const home = tempHome();
    mkdirSync(join(home, 'logs'), { mode: 0o700 });
    const victim = join(tempHome(), 'precious');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(home, 'logs', 'kv.log'));
    const dae = await start(home);
    const entry = await dae.install('kv', SAMPLE_KV);
    assert.equal(entry.status, 'errored');
    assert.match(entry.reason ?? '', /cannot open log files: .*kv\.log is a symbolic link/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });
});

describe('the CLI and the config', () => {
  test('a control socket that is a link to another home\'s is refused: the CLI never talks to that supervisor', async () => {
    const other = await start(tempHome());
    const home = tempHome();
    mkdirSync(join(home, 'run'), { mode: 0o700 });
    symlinkSync(other.paths.socket, join(home, 'run', 'dae.sock'));
    const place = { home, cwd: home };
    await fails(place, 1, /^dae: ERR_UNSAFE_FILE: .*dae.sock is a symbolic link/, 'list');
    await fails(place, 1, /^dae: ERR_UNSAFE_FILE: .*dae.sock is a symbolic link/, 'kill');

    const linked = tempHome();
    symlinkSync(other.paths.run, join(linked, 'run'));
    await fails({ home: linked, cwd: linked }, 1, /^dae: ERR_UNSAFE_FILE: .*run is not a directory/, 'list');
    assert.equal(other.list().length, 0);
    assert.equal(other.status, 'listening', 'the other supervisor was not told to stop');
  });

  test('a daeconfig.json another user owns, or others may write, is refused', async () => {
    const home = tempHome();
    const cwd = tempHome();
    const file = join(cwd, 'daeconfig.json');
    writeFileSync(file, `${JSON.stringify({ ...config(), allowedscripts: ['/tmp'] })}\n`, { mode: 0o644 });
    chmodSync(file, 0o666);
    await fails({ home, cwd }, 1, /^dae: ERR_UNSAFE_FILE: .*daeconfig.json may be written by others \(mode 666/, 'start');
    chmodSync(file, 0o644);
    chownSync(file, ATTACKER_UID, ATTACKER_UID);
    await fails({ home, cwd }, 1, /^dae: ERR_UNSAFE_FILE: .*daeconfig.json is owned by uid 65534/, 'start');
    chownSync(file, 0, 0);
    assert.match(await ok({ home, cwd }, 'start'), /dae started/);
    await ok({ home, cwd }, 'kill');
  });
});
