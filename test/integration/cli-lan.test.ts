// `dae lan`, `dae need`, `dae needs` and `dae services` end to end: the real binary, a LAN manager in one temporary
// DAE_HOME and a machine manager (`dae start` with lanmanageraddress) in another. Teardown kills every process of
// both homes even when the test failed.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Client, type ListEntry } from '../../src/index.js';
import type { Need, Service } from '../../src/lan/records.js';
import { alive, dae, fails, ok, processesWhere, sigkill, type Place } from '../helpers/cli.js';
import { SAMPLE_KV, removeHomes, tempHome } from '../helpers/supervisor.js';

const POLL_LIMIT_MS = 15_000;
// The machine manager's leases: inside 31000–32000, away from the other CLI tests' ranges.
const MACHINE_PORTS = { tcp: 31500, http: 31600, ws: 31700 };
const MACHINE_ADDRESS = '127.0.0.2';
const STARTED = /^LAN manager (started|is already running) \(pid (\d+), tcp port (\d+), ws port (\d+), home (.+)\)\ntoken file (.+)\n$/;

const places: Place[] = [];

function place(): Place {
  const p = { home: tempHome(), cwd: tempHome() };
  places.push(p);
  return p;
}

/** Every live process of a home: supervisors, LAN managers, the daemons they spawned, stray CLI runs. */
function homeProcesses(p: Place): number[] {
  return processesWhere((env) => env.includes(`DAE_HOME=${p.home}`) || env.includes(`DAE_RUNTIME_DIR=${join(p.home, 'run')}`));
}

afterEach(async () => {
  for (const p of places.splice(0)) {
    await dae(p, 'kill');
    await dae(p, 'lan', 'stop');
    for (const pid of homeProcesses(p)) sigkill(pid);
  }
});
after(removeHomes);

/** `dae lan start` on OS-assigned ports, its report parsed. */
async function lanStart(p: Place): Promise<{ already: boolean; pid: number; tcp: number; ws: number; home: string; token: string }> {
  const stdout = await ok(p, 'lan', 'start', '--port', '0', '--ws', '0');
  const match = STARTED.exec(stdout);
  assert.ok(match, `not a LAN start report: ${JSON.stringify(stdout)}`);
  return { already: match[1] !== 'started', pid: Number(match[2]), tcp: Number(match[3]), ws: Number(match[4]), home: match[5]!, token: match[6]! };
}

/** Runs `dae <args>` (JSON out) until `condition` holds: each round is one real CLI round trip, no sleeps; bounded. */
async function until<T>(p: Place, args: readonly string[], what: string, condition: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const run = await dae(p, ...args);
    const value = run.code === 0 ? (JSON.parse(run.stdout) as T) : null;
    if (value !== null && condition(value)) return value;
    if (Date.now() > deadline) {
      const last = run.code === 0 ? run.stdout.trim() : `exit ${run.code}: ${run.stderr.trim()}`;
      assert.fail(`waited ${POLL_LIMIT_MS} ms for ${what}; last \`dae ${args.join(' ')}\`: ${last}`);
    }
  }
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('the LAN through the CLI', () => {
  test('lan start, need add, a machine manager serves it, needs/services/list show it, need rm removes it, lan stop', async () => {
    const lan = place();
    const machine = place();
    const lanHome = join(lan.home, 'lan');

    // Start in the background; a second start finds it answering.
    const started = await lanStart(lan);
    assert.deepEqual([started.already, started.home, started.token], [false, lanHome, join(lanHome, 'token')]);
    assert.ok(started.tcp > 0 && started.ws > 0 && started.tcp !== started.ws, 'port 0 became real ports');
    assert.equal(readFileSync(join(lanHome, 'dae.lock'), 'utf8').trim(), String(started.pid));
    assert.deepEqual(JSON.parse(readFileSync(join(lanHome, 'run', 'dae.port'), 'utf8')), { tcp: started.tcp, ws: started.ws });
    const again = await lanStart(lan);
    assert.deepEqual(again, { ...started, already: true });

    // Private: the LAN home 0700, the token file and the control socket 0600.
    for (const dir of [lanHome, join(lanHome, 'run')]) assert.equal(mode(dir), 0o700, `${dir} is 0700`);
    for (const file of [started.token, join(lanHome, 'run', 'dae.sock'), join(lanHome, 'dae.log')]) assert.equal(mode(file), 0o600, `${file} is 0600`);
    const token = (await ok(lan, 'lan', 'token')).trim();
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(readFileSync(started.token, 'utf8').trim(), token);

    // A need, its script given relative to the working directory.
    const script = relative(lan.cwd, SAMPLE_KV);
    assert.ok(!script.startsWith('/'));
    assert.equal(await ok(lan, 'need', 'add', 'kv', script, '--env', 'GREETING=hi'), `need kv added: ${SAMPLE_KV} (unsatisfied)\n`);
    const [added, ...none] = JSON.parse(await ok(lan, 'needs', '--json')) as Need[];
    assert.deepEqual(none, []);
    assert.deepEqual([added?.instancename, added?.script, added?.status, added?.claim, added?.env], ['kv', SAMPLE_KV, 'unsatisfied', null, { GREETING: 'hi' }]);
    assert.match(await ok(lan, 'needs'), new RegExp(`^instancename\\s+status\\s+machine\\s+epoch\\s+script\\s+reason\nkv\\s+unsatisfied\\s+-\\s+-\\s+${SAMPLE_KV}\n$`));
    assert.deepEqual(JSON.parse(await ok(lan, 'services', '--json')), []);
    assert.match(await ok(lan, 'services'), /^no services /);
    assert.equal(mode(join(lanHome, 'state.json')), 0o600, 'the needs file is 0600');

    // A machine manager joins with the token; it runs the need at its advertised address.
    const config = join(machine.cwd, 'machine.json');
    writeFileSync(config, JSON.stringify({
      port: 0, portrangestart: MACHINE_PORTS, liveness: { interval: 100, misses: 3 }, adoptTimeout: 3000,
      lanmanageraddress: `127.0.0.1:${started.ws}`, lantoken: token, advertisedaddress: MACHINE_ADDRESS, allowedscripts: [dirname(SAMPLE_KV)],
    }));
    assert.match(await ok(machine, 'start', '--config', config), /^dae started \(pid \d+, port \d+, home /);
    const machineId = readFileSync(join(machine.home, 'machine-id'), 'utf8').trim();
    const [service] = await until<Service[]>(lan, ['services', '--json'], 'kv to be served', (services) => services.some((s) => s.instancename === 'kv'));
    assert.ok(service);
    assert.deepEqual([service.machine, service.ports.tcp], [{ id: machineId, address: MACHINE_ADDRESS }, MACHINE_PORTS.tcp]);
    assert.ok(alive(service.pid));
    // The daemon binds the advertised address (DAE_HOST), and it is kv.
    const client = await Client.connect({ host: MACHINE_ADDRESS, port: MACHINE_PORTS.tcp });
    try {
      assert.deepEqual(await client.call('whois').then((who) => [(who as { name: string }).name, (who as { pid: number }).pid]), ['kv', service.pid]);
    } finally {
      client.destroy();
    }
    await fails(lan, 1, /^dae: ERR_CONNECTION_FAILED: 127\.0\.0\.1:31500: ECONNREFUSED\n$/, 'send', `127.0.0.1:${MACHINE_PORTS.tcp}`, 'ping');

    const [satisfied] = JSON.parse(await ok(lan, 'needs', '--json')) as Need[];
    assert.deepEqual([satisfied?.status, satisfied?.claim?.machine, satisfied?.claim?.epoch], ['satisfied', machineId, service.epoch]);
    assert.match(await ok(lan, 'needs'), new RegExp(`\nkv\\s+satisfied\\s+${machineId}\\s+${service.epoch}\\s+${SAMPLE_KV}\n$`));
    assert.match(await ok(lan, 'services'), new RegExp(
      `^instancename\\s+machine\\s+address\\s+pid\\s+tcp\\s+http\\s+ws\\s+since\nkv\\s+${machineId}\\s+127\\.0\\.0\\.2\\s+${service.pid}\\s+${MACHINE_PORTS.tcp}\\s+\\S+\\s+\\S+\\s+${service.since}\n$`));
    const listed = (JSON.parse(await ok(machine, 'list', '--json')) as ListEntry[]).find((e) => e.name === 'kv');
    assert.deepEqual([listed?.status, listed?.pid, listed?.lan], ['online', service.pid, { need: 'kv', epoch: service.epoch }]);
    assert.match(await ok(machine, 'list'), new RegExp(`\nkv\\s+online\\s+${service.pid}\\s.*\\skv \\(epoch ${service.epoch}\\)`));

    // Over the WebSocket door: the token from --token or DAE_LAN_TOKEN; services need none; a wrong one is refused.
    const door = `127.0.0.1:${started.ws}`;
    const [byFlag, byEnv, services] = await Promise.all([
      ok(lan, 'needs', '--json', '--lan', door, '--token', token),
      ok({ ...lan, env: { DAE_LAN_TOKEN: token } }, 'needs', '--json', '--lan', door),
      ok(lan, 'services', '--json', '--lan', door),
      fails(lan, 1, /^dae: ERR_AUTH_FAILED: /, 'needs', '--lan', door, '--token', 'not-the-cluster-token'),
      fails(lan, 1, /^dae: ERR_AUTH_REQUIRED: `need\.add` takes the cluster token: --token <token> or env DAE_LAN_TOKEN/, 'need', 'add', 'x', script, '--lan', door),
    ]);
    assert.deepEqual([JSON.parse(byFlag), JSON.parse(byEnv), JSON.parse(services)], [[satisfied], [satisfied], [service]]);

    // Bad input: a coded error and exit 1 (a malformed number is a usage error: exit 2); nothing is added.
    await Promise.all([
      fails(lan, 1, /^dae: ERR_BAD_ARGS: --port expects PROTOCOL=PORT .*"tcp"\n$/, 'need', 'add', 'x', script, '--port', 'tcp'),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: ports\.smtp: the protocols are tcp, http and ws\n$/, 'need', 'add', 'x', script, '--port', 'smtp=25'),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: ports\.tcp must be a port from 1 to 65535, got 70000\n$/, 'need', 'add', 'x', script, '--port', 'tcp=70000'),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: pin must be an address or an IPv4 CIDR/, 'need', 'add', 'x', script, '--pin', '10.0.0.0/99'),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: timeout must be a whole number of ms from 100 to 86400000, got 5/, 'need', 'add', 'x', script, '--timeout', '5'),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: name must be /, 'need', 'add', 'a:b', script),
      fails(lan, 1, /^dae: ERR_BAD_ARGS: env must map NAME to string \(no DAE\* names\)/, 'need', 'add', 'x', script, '--env', 'DAE_HOST=0.0.0.0'),
      fails(lan, 1, /^dae: ERR_NEED_EXISTS: /, 'need', 'add', 'kv', script),
      fails(lan, 1, /^dae: ERR_NO_SUCH_NEED: no need named nope\n$/, 'need', 'rm', 'nope'),
      fails(lan, 2, /expected a whole number/, 'need', 'add', 'x', script, '--timeout', 'soon'),
    ]);
    assert.deepEqual((JSON.parse(await ok(lan, 'needs', '--json')) as Need[]).map((n) => n.instancename), ['kv']);

    // A script outside the machine's allowedscripts (here one that does not exist) is never run: the need says why.
    assert.equal(await ok(lan, 'need', 'add', 'ghost', 'nope.js'), `need ghost added: ${join(lan.cwd, 'nope.js')} (unsatisfied)\n`);
    const declined = await until<Need[]>(lan, ['needs', '--json'], 'the machine to decline ghost', (needs) => /outside allowedscripts/.test(needs.find((n) => n.instancename === 'ghost')?.reason ?? ''));
    assert.equal(declined.find((n) => n.instancename === 'ghost')?.status, 'unsatisfied');
    assert.match(await ok(lan, 'needs'), /\nghost\s+unsatisfied\s+-\s+-\s+\S+nope\.js\s+machine \S+: \S+nope\.js is outside allowedscripts/);
    assert.deepEqual((JSON.parse(await ok(lan, 'services', '--json')) as Service[]).map((s) => s.instancename), ['kv']);
    assert.equal((JSON.parse(await ok(machine, 'list', '--json')) as ListEntry[]).some((e) => e.name === 'ghost'), false);

    // dae stop on the machine hands the daemon back to the LAN, which places it again (a new epoch), and says so.
    assert.equal(await ok(machine, 'stop', 'kv'), 'kv: stopped and handed back to the LAN (need kv); the LAN places it again, on this machine or another\n');
    assert.equal(alive(service.pid), false);
    const [placedAgain] = await until<Service[]>(lan, ['services', '--json'], 'kv to be placed again', (services) => services.some((s) => s.instancename === 'kv' && s.epoch > service.epoch));

    // need rm: the service goes and the machine stops and forgets the daemon.
    assert.equal(await ok(lan, 'need', 'rm', 'kv'), 'need kv removed\n');
    assert.deepEqual(JSON.parse(await ok(lan, 'services', '--json')), []);
    await until<ListEntry[]>(machine, ['list', '--json'], 'the machine to drop kv', (entries) => !entries.some((e) => e.name === 'kv'));
    assert.equal(alive(placedAgain!.pid), false, 'the daemon is gone once the machine dropped it');

    // Stop: the machine manager, then the LAN manager; the needs left are kept for the next start.
    assert.match(await ok(machine, 'kill'), /^dae stopped \(pid \d+\)\n$/);
    assert.equal(await ok(lan, 'lan', 'stop'), `LAN manager stopped (pid ${started.pid})\n`);
    assert.equal(alive(started.pid), false, 'lan stop returns once the LAN manager is gone');
    for (const file of ['dae.lock', 'run/dae.sock', 'run/dae.port']) assert.equal(existsSync(join(lanHome, file)), false, `${file} is removed`);
    assert.equal(await ok(lan, 'lan', 'stop'), 'the LAN manager is not running\n');
    await fails(lan, 1, /^dae: ERR_NOT_RUNNING: no LAN manager runs on .*\(start one with: dae lan start, or reach one with --lan <host:port>\)\n$/, 'needs');
    await fails(lan, 1, /^dae: ERR_NOT_RUNNING: no LAN manager answers: .*ECONNREFUSED/, 'services', '--lan', door);

    const restarted = await lanStart(lan);
    assert.equal(restarted.already, false);
    assert.deepEqual((JSON.parse(await ok(lan, 'needs', '--json')) as Need[]).map((n) => n.instancename), ['ghost']);
    assert.equal((await ok(lan, 'lan', 'token')).trim(), token, 'the token is kept');
    assert.equal(await ok(lan, 'lan', 'stop'), `LAN manager stopped (pid ${restarted.pid})\n`);
  });

  test('--help for every LAN verb; `dae --help` lists them', async () => {
    const p = place();
    const verbs = [['lan'], ['lan', 'start'], ['lan', 'stop'], ['lan', 'token'], ['need'], ['need', 'add'], ['need', 'rm'], ['needs'], ['services']];
    const runs = await Promise.all([...verbs.map((verb) => dae(p, ...verb, '--help')), dae(p, '--help')]);
    verbs.forEach((verb, i) => {
      assert.equal(runs[i]!.code, 0, `${verb.join(' ')} --help: ${runs[i]!.stderr}`);
      assert.match(runs[i]!.stdout, new RegExp(`^Usage: dae ${verb.join(' ')}\\b`));
    });
    for (const verb of ['lan', 'need', 'needs', 'services']) assert.match(runs.at(-1)!.stdout, new RegExp(`^  ${verb}\\b`, 'm'));
    assert.equal(existsSync(join(p.home, 'lan')), false, '--help starts nothing');
  });
});
