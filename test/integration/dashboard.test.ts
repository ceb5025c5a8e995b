// The supervisor's web dashboard in Debian's Chromium: the page renders a real supervisor's daemons, a killed daemon's
// row changes live, restart needs the token (and a confirmation), the log tail shows what a daemon just printed, a
// page of another origin cannot act; and around it, the door: HTML only to browsers, `dae dashboard`, a port someone
// else holds, the LAN view.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { dirname } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Client, type Dae, type DaeError, type ListEntry } from '../../src/index.js';
import { lanHomePaths, startLanHome, type LanHome } from '../../src/lan/home.js';
import { lanView } from '../../src/supervisor/lan-view.js';
import { launchChromium } from '../helpers/browser.js';
import { dae as cli } from '../helpers/cli.js';
import { fixture, removeHomes, SAMPLE_KV, startDae, tempHome, untilStatus } from '../helpers/supervisor.js';

const BASE = 35000;
let browser: Browser;

before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  removeHomes();
});

function entry(dae: Dae, name: string): ListEntry {
  return dae.list().find((e) => e.name === name && e.instance === 0)!;
}

function httpPort(dae: Dae): number {
  return dae.identity().ports.http as number;
}

// A page that fails on any script error or refused resource (a CSP violation among them).
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
  return { page, errors };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.fill('input[name=token]', token);
  await page.locator('form.signin button[type=submit]').click();
}

describe('the dashboard in Chromium', () => {
  let dae: Dae;
  let token: string;
  before(async () => {
    dae = await startDae(BASE, { http: 0, sampleInterval: 200 });
    token = readFileSync(dae.paths.token, 'utf8').trim();
    await dae.install('web', fixture('echo'));
    await dae.install('kv', SAMPLE_KV);
  });
  after(() => dae?.stop());

  test('renders the daemons, changes a killed one\'s row live, restarts only with the token, tails its log', async () => {
    const { page, errors } = await openPage();
    await page.goto(`http://127.0.0.1:${httpPort(dae)}/`);
    const web = page.locator('.row[data-name="web"]');
    const first = entry(dae, 'web');
    await web.locator('.pid', { hasText: String(first.pid) }).waitFor();
    await page.locator('.row[data-name="kv"] .status', { hasText: 'online' }).waitFor();
    assert.match(await web.locator('.ports').innerText(), new RegExp(`tcp ${first.ports.tcp}`));
    // Read-only without the token, and it says why.
    assert.equal(await web.locator('button').count(), 0);
    assert.match(await page.locator('.readonly').innerText(), /need the home's token/);
    // Samples arrive as the sampler ticks: the sparkline gets drawn.
    await web.locator('.cpu svg polyline').waitFor({ state: 'attached' });

    // Killed: the row follows the feed (a restart, a new pid) without reloading the page.
    const online = untilStatus(dae, 'web', 'online');
    process.kill(first.pid!, 'SIGKILL');
    await online;
    const second = entry(dae, 'web');
    assert.notEqual(second.pid, first.pid);
    await web.locator('.pid', { hasText: String(second.pid) }).waitFor();
    await web.locator('.restarts', { hasText: '1' }).waitFor();

    // Without the token, the page's own WebSocket cannot restart it either.
    const refused = await page.evaluate((port) => new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.onopen = () => ws.send('restart ["web"]');
      ws.onmessage = (message) => {
        resolve(String(message.data));
        ws.close();
      };
    }), httpPort(dae));
    assert.match(refused, /^error \[\{"code":"ERR_AUTH_REQUIRED"/);
    assert.equal(entry(dae, 'web').pid, second.pid);

    // A wrong token is refused and said so; the right one, kept for the tab only, shows the buttons.
    await signIn(page, 'not-the-token');
    await page.locator('.notice', { hasText: 'sign-in refused: ERR_AUTH_FAILED' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await signIn(page, token);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.deepEqual(await page.evaluate('[sessionStorage.getItem("dae-token"), localStorage.length]'), [token, 0]);

    // Restart asks first; "No" does nothing; "Yes" restarts it (a new pid, in the row too).
    await web.locator('button[data-verb=restart]').click();
    await web.getByRole('button', { name: 'No' }).click();
    assert.equal(entry(dae, 'web').pid, second.pid);
    const restarted = untilStatus(dae, 'web', 'online');
    await web.locator('button[data-verb=restart]').click();
    await web.locator('button[data-confirm=restart]').click();
    await restarted;
    const third = entry(dae, 'web');
    assert.notEqual(third.pid, second.pid);
    await web.locator('.pid', { hasText: String(third.pid) }).waitFor();

    // Its page: the timeline has the kill and the restarts; the log tail shows a line it prints now, and search finds it.
    await web.locator('.name a').click();
    await page.locator('h1', { hasText: 'web' }).waitFor();
    await page.locator('.timeline li', { hasText: 'SIGKILL' }).first().waitFor();
    await page.locator('.logs .muted', { hasText: 'live' }).waitFor();
    const client = await Client.connect({ port: third.ports.tcp! });
    await client.call('log', 1, 'printed-just-now', 'err');
    await client.close();
    const line = page.locator('.tail .line.err', { hasText: 'printed-just-now 0' });
    await line.waitFor();
    assert.match(await line.locator('time').innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    await page.fill('input[aria-label="search the log"]', 'just-now');
    assert.equal(await page.locator('.tail .line').count(), 1);
    assert.equal(await page.locator('.tail mark').innerText(), 'just-now');
    await page.locator('.chart canvas').waitFor();

    // Signed out, the log is protected and says so.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('.locked', { hasText: 'Logs are protected' }).waitFor();
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a page of another origin cannot act, even with the token', async () => {
    const foreign: Server = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
    foreign.listen(0, '127.0.0.1');
    await once(foreign, 'listening');
    const { page } = await openPage();
    try {
      await page.goto(`http://127.0.0.1:${(foreign.address() as { port: number }).port}/`);
      const before = entry(dae, 'web').pid;
      const tried = await page.evaluate(async ({ port, token }) => {
        const ws = await new Promise<string>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
          socket.onopen = () => resolve('opened');
          socket.onerror = () => resolve('refused');
        });
        const post = await fetch(`http://127.0.0.1:${port}/restart`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '["web"]' }).then((r) => `status ${r.status}`, () => 'blocked');
        const blind = await fetch(`http://127.0.0.1:${port}/restart`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '["web"]' }).then(() => 'sent', () => 'blocked');
        return { ws, post, blind };
      }, { port: httpPort(dae), token });
      assert.deepEqual(tried, { ws: 'refused', post: 'blocked', blind: 'sent' });
      assert.equal(entry(dae, 'web').pid, before, 'nothing restarted');
    } finally {
      await page.close();
      foreign.close();
    }
  });

  test('the door: the page only for browsers, behind a strict policy; dae dashboard prints its address', async () => {
    const url = `http://127.0.0.1:${httpPort(dae)}/`;
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+'; .*frame-ancestors 'none'/);
    assert.match(await page.text(), /<script type="module" src="\/app\/main.js">/);
    assert.equal(((await (await fetch(url)).json()) as { name: string }).name, 'Dae', 'other clients get its identity');
    assert.equal((await fetch(`${url}vendor/preact.mjs`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.notEqual((await fetch(`${url}app/../../package.json`)).status, 200);
    const place = { home: dae.paths.root, cwd: dae.paths.root };
    assert.deepEqual(await cli(place, 'dashboard'), { code: 0, stdout: `${url}\n`, stderr: '' });
    assert.equal((await cli(place, 'dashboard', '--token')).stdout, `${url}#token=${token}\n`);
    // A browser's command line is public: the token never goes there.
    const both = await cli(place, 'dashboard', '--token', '--open');
    assert.deepEqual([both.code, both.stdout], [2, '']);
    assert.match(both.stderr, /'--open' cannot be used with option '--token'/);
  });
});

test('tail: refused without its effects, one per connection and daemon, ended when the daemon is uninstalled', async () => {
  const dae = await startDae(BASE + 700);
  try {
    await dae.install('web', fixture('echo'));
    const { tcp } = entry(dae, 'web').ports;
    const tailer = await Client.connect({ port: dae.port });
    const pushes: unknown[][] = [];
    tailer.on('push', (name: string, args: unknown[]) => pushes.push([name, ...args]));
    await assert.rejects(tailer.call('tail', 'web'), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
    await tailer.call('auth', readFileSync(dae.paths.token, 'utf8').trim());
    for (const lines of [-1, 1001, 1.5, '10', null]) await assert.rejects(tailer.call('tail', 'web', lines), (error: DaeError) => error.code === 'ERR_BAD_ARGS', String(lines));
    await assert.rejects(tailer.call('tail', 'nobody'), (error: DaeError) => error.code === 'ERR_NOT_INSTALLED');
    // Asked twice: the second replaces the first, so each line comes once.
    await tailer.call('tail', 'web', 0);
    await tailer.call('tail', 'web', 0);
    const printer = await Client.connect({ port: tcp! });
    await printer.call('log', 3, 'once');
    await printer.close();
    const got = new Promise<void>((resolve) => tailer.on('push', (name: string, args: unknown[]) => name === 'lines' && (args[1] as string[]).some((l) => l.endsWith('once 2')) && resolve()));
    await got;
    assert.deepEqual(pushes.filter(([name]) => name === 'tailend'), [], 'no tail ended, none refused pushed one');
    assert.deepEqual(pushes.flatMap(([name, , records]) => (name === 'lines' ? (records as string[]) : [])).map((r) => r.replace(/^\S+ /, '')), ['out once 0', 'out once 1', 'out once 2']);
    const ended = new Promise((resolve) => tailer.on('push', (name: string, args: unknown[]) => name === 'tailend' && resolve(args)));
    await dae.uninstall('web');
    assert.deepEqual(await ended, ['web']);
    await tailer.close();
  } finally {
    await dae.stop();
  }
});

test('an HTTP port someone else holds closes the dashboard, not the supervisor; dae dashboard says why', async () => {
  const squatter = createTcpServer().listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const port = (squatter.address() as { port: number }).port;
  const dae = await startDae(BASE + 300, { http: port });
  try {
    assert.equal(dae.identity().ports.http, undefined);
    const doors = JSON.parse(readFileSync(dae.paths.portFile, 'utf8')) as { http: null; httpError: string };
    assert.equal(doors.http, null);
    assert.match(doors.httpError, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is taken by pid ${process.pid}.*"http"`));
    const run = await cli({ home: dae.paths.root, cwd: dae.paths.root }, 'dashboard');
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`^dae: ERR_NOT_RUNNING: the dashboard is off: port ${port} on 127.0.0.1 is taken`));
    assert.equal((await dae.install('web', fixture('echo'))).status, 'online', 'the supervisor works');
  } finally {
    await dae.stop();
    squatter.close();
  }
  const off = await startDae(BASE + 400);
  try {
    const run = await cli({ home: off.paths.root, cwd: off.paths.root }, 'dashboard');
    assert.match(run.stderr, /the dashboard is off: "http" is null in the config/);
  } finally {
    await off.stop();
  }
});

test('the LAN view and metrics: services for anyone, needs and machines (with heartbeats) with the token', async () => {
  const home = tempHome();
  const lan: LanHome = await startLanHome(lanHomePaths(home), { port: 0, ws: 0 });
  const dae = await startDae(BASE + 500, { http: 0, lanmanageraddress: `127.0.0.1:${lan.manager.identity().ports.ws}`, lantoken: lan.token, allowedscripts: [dirname(fixture('echo'))] }, home);
  try {
    const served = new Promise<void>((resolve) => {
      const look = (): void => void lan.registry.listServices().then((services) => services.length > 0 && (stop(), resolve()));
      const stop = lan.registry.watch(look);
      look();
    });
    await lan.manager.addNeed({ instancename: 'svc', script: fixture('echo') });
    await served;
    const guest = await Client.connect({ port: dae.port });
    const open = (await guest.call('lan')) as { from: string; services: Array<{ instancename: string }>; needs: null; machines: null };
    assert.deepEqual([open.from, open.services.map((s) => s.instancename), open.needs, open.machines], ['machine', ['svc'], null, null]);
    await guest.call('auth', readFileSync(dae.paths.token, 'utf8').trim());
    const signed = (await guest.call('lan')) as { needs: Array<{ instancename: string; status: string }>; machines: Array<{ heartbeat: string }> };
    await guest.close();
    assert.deepEqual(signed.needs.map((n) => [n.instancename, n.status]), [['svc', 'satisfied']]);
    assert.equal(signed.machines.length, 1);
    assert.ok(Date.now() - Date.parse(signed.machines[0]!.heartbeat) < 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort(dae)}/metrics`)).text();
    assert.match(metrics, /^dae_lan_needs\{status="satisfied"\} 1$/m);
    assert.match(metrics, /^dae_lan_services 1$/m);
    assert.match(metrics, /^dae_lan_machines 1$/m);

    const { page, errors } = await openPage();
    await page.goto(`http://127.0.0.1:${httpPort(dae)}/#/lan`);
    await page.locator('.lan td', { hasText: 'svc' }).first().waitFor();
    await page.locator('.locked', { hasText: 'Needs and machines are protected' }).waitFor();
    await signIn(page, readFileSync(dae.paths.token, 'utf8').trim());
    await page.locator('.lan .status', { hasText: 'satisfied' }).waitFor();
    await page.locator('.lan td', { hasText: /ago$/ }).waitFor();
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await dae.stop();
    await lan.close();
  }
});

test('a LAN manager in the supervisor\'s home (dae lan start) is its LAN view; without one there is none', async () => {
  const dae = await startDae(BASE + 600, { http: 0 });
  let lan: LanHome | null = null;
  try {
    assert.equal(await lanView(null, dae.paths.root), null);
    const guest = await Client.connect({ port: dae.port });
    lan = await startLanHome(lanHomePaths(dae.paths.root), { port: 0, ws: 0 });
    await lan.manager.addNeed({ instancename: 'elsewhere', script: fixture('echo') });
    // Anyone may ask, as often as they like: reads are shared, so the LAN manager sees a connection a second at most.
    let connections = 0;
    lan.manager.on('guest', () => connections++);
    const began = Date.now();
    const answers = await Promise.all(Array.from({ length: 200 }, () => guest.call('lan')));
    const seconds = Math.ceil((Date.now() - began) / 1000);
    assert.ok(connections <= seconds + 1, `${connections} connections to the LAN manager for 200 reads in ${seconds} s`);
    assert.deepEqual(answers[199], { from: 'home', services: [], needs: null, machines: null });
    await guest.call('auth', readFileSync(dae.paths.token, 'utf8').trim());
    const signed = (await guest.call('lan')) as { needs: Array<{ instancename: string; status: string }>; machines: unknown[] };
    assert.deepEqual([signed.needs.map((n) => [n.instancename, n.status]), signed.machines], [[['elsewhere', 'unsatisfied']], []]);
    await guest.close();
    await lan.close();
    lan = null;
    assert.equal(await lanView(null, dae.paths.root), null, 'gone with it');
  } finally {
    await lan?.close();
    await dae.stop();
  }
});
