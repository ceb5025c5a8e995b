// Origin and Host checks of the browser-facing doors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAllowedHost, isAllowedOrigin } from '../../src/daemon/origin.js';

test('Host: loopback names pass, with or without a port; others only when configured', () => {
  for (const host of ['localhost', 'localhost:8080', '127.0.0.1', '127.0.0.1:16000', '127.1.2.3:1', '[::1]', '[::1]:16000', 'LOCALHOST']) {
    assert.equal(isAllowedHost(host, []), true, host);
  }
  for (const host of ['evil.example', 'evil.example:16000', '127.0.0.1.evil.example', 'localhost.evil', '0.0.0.0', '', undefined]) {
    assert.equal(isAllowedHost(host, []), false, String(host));
  }
  assert.equal(isAllowedHost('box.lan:16000', ['box.lan']), true);
  assert.equal(isAllowedHost('Box.LAN', ['box.lan']), true);
  assert.equal(isAllowedHost('other.lan', ['box.lan']), false);
  // `*`: every name (a LAN manager bound beyond loopback, reached by machines under any of its names).
  assert.equal(isAllowedHost('10.0.0.5:23552', ['*']), true);
  assert.equal(isAllowedHost(undefined, ['*']), false);
});

test('Origin: absent passes; present only when allowed', () => {
  assert.equal(isAllowedOrigin(undefined, []), true);
  assert.equal(isAllowedOrigin('http://evil.example', []), false);
  assert.equal(isAllowedOrigin('null', []), false);
  assert.equal(isAllowedOrigin('http://localhost:3000', ['http://localhost:3000']), true);
  assert.equal(isAllowedOrigin('http://localhost:3001', ['http://localhost:3000']), false);
});

test("Origin: the door's own (a page it served) passes, never through a wildcard Host", () => {
  assert.equal(isAllowedOrigin('http://127.0.0.1:23555', [], '127.0.0.1:23555'), true);
  assert.equal(isAllowedOrigin('http://localhost:23555', [], 'LOCALHOST:23555'), true);
  assert.equal(isAllowedOrigin('http://localhost:23556', [], 'localhost:23555'), false);
  assert.equal(isAllowedOrigin('https://localhost:23555', [], 'localhost:23555'), false);
  assert.equal(isAllowedOrigin('http://box.lan:23555', [], 'box.lan:23555', ['box.lan']), true);
  // DNS rebinding: evil.example now resolves to the door; its page's origin equals its Host.
  assert.equal(isAllowedOrigin('http://evil.example:23552', [], 'evil.example:23552', ['*']), false);
  assert.equal(isAllowedOrigin('http://evil.example:23552', [], 'evil.example:23552'), false);
});
