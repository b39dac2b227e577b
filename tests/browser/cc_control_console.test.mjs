// The cc-control console (GET / of the cc-control listener) in real headless Chromium (Debian's
// chromium, driven by playwright-core), against `ccbridge serve --profiles cc-control` running a
// fake terminal program: sign in with a UI token made through the admin API, create a session,
// see its banner in xterm.js, type a line and see it echoed, raise a permission menu, approve it
// from its card, see the states converge (list and GET /api/sessions/{id}/events), stop it.
// Also the console's headers (CSP, nosniff, no-cache + ETag) and the plain-text 404.
// Env: CCB_BIN, CCB_BROWSER_NODE_MODULES, CCB_ARTIFACTS, CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ARTIFACTS, failed, launch, startServe, stopServer, test } from './harness.mjs';
const ADMIN = 'a'.repeat(64);

// A stand-in for the interactive CLI (as tests/server/cc_control_common.py's): a banner, then
// each line read is answered; "flood N" prints N lines; "menu" prints a Claude Code style
// permission menu.
const FAKE_TERMINAL = `#!/bin/sh
printf 'fake-claude ready\\r\\n'
while IFS= read -r line; do
  case "$line" in
    flood*) i=1; while [ "$i" -le "\${line#flood }" ]; do printf 'line %04d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n' "$i"; i=$((i+1)); done; printf 'flood done\r\n' ;;
    menu) printf ' Bash command\\r\\n   touch f\\r\\n Do you want to proceed?\\r\\n \\342\\235\\257 1. Yes\\r\\n   2. No\\r\\n\\r\\n Esc to cancel \\302\\267 Tab to amend\\r\\n' ;;
    *) printf 'got:%s\\r\\n' "$line" ;;
  esac
done
`;

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'ccb-console-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const cli = join(dir, 'fake-claude');
  writeFileSync(cli, FAKE_TERMINAL);
  chmodSync(cli, 0o755);
  const s = await startServe(['--root', root, '--cli', cli, '--profiles', 'cc-control', '--admin-token', ADMIN,
    '--token-db', join(dir, 'cc.db'), '--audit-path', join(dir, 'audit.jsonl'), '--enable-prompt-detection',
    '--ring-buffer-bytes', '4096', '--exit-wait-ms', '500', '--term-wait-ms', '500'], { cwd: dir });
  return { ...s, root };
}

async function json(s, method, path, token, body) {
  const r = await fetch(s.base + path, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body) });
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

const browser = await launch();
const s = await startServer();

await test('console routes: page, assets, headers, licence, 404', async () => {
  const page = await fetch(s.base + '/');
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.doesNotMatch(await page.text(), /<script>/, 'no inline script');

  const js = await fetch(s.base + '/console/xterm.js');
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const etag = js.headers.get('etag');
  assert.ok(etag);
  assert.equal((await fetch(s.base + '/console/xterm.js', { headers: { 'If-None-Match': etag } })).status, 304);
  assert.match(await (await fetch(s.base + '/console/xterm-LICENSE.txt')).text(), /MIT License|Permission is hereby granted/);

  for (const p of ['/nope', '/console/', '/console/missing.js', '/index.html']) {
    const r = await fetch(s.base + p);
    assert.equal(r.status, 404, p);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await r.text(), '404 page not found\n');
  }
  assert.equal((await fetch(s.base + '/', { method: 'POST' })).status, 405);
});

await test('console: create, see the screen, type, approve, states converge, stop', async () => {
  const { token } = await json(s, 'POST', '/admin/tokens', ADMIN, { type: 'ui', role: 'owner', name: 'console-test' });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems = [];
  const dropped = /WebSocket is closed before the connection is established/;  // the test's own
  page.on('console', (m) => { if ((m.type() === 'error' || m.type() === 'warning') && !dropped.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  // Keeps the page's WebSockets and the frames it sends, to drop the connection mid-session.
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.testSockets = [];
    window.testSent = [];
    window.testOffline = false;  // while set, connections fail at once
    window.WebSocket = class extends Native {
      constructor(url) {
        super(url);
        window.testSockets.push(this);
        if (window.testOffline) this.close();
      }
      send(data) { window.testSent.push(JSON.parse(data)); super.send(data); }
    };
  });
  await page.goto(s.base + '/');
  await page.fill('#token', token);
  await page.click('#login button');
  await page.waitForSelector('#servers tbody tr', { timeout: 10000 });
  assert.match(await page.textContent('#servers tbody'), /srv-local.*online/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ccbridge.cc-control.token')), token);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'connected', null, { timeout: 10000 });

  await page.fill('#cwd', s.root);
  await page.click('#create button');
  const row = await page.waitForSelector('#sessions tbody tr.current', { timeout: 10000 });
  const sid = await row.getAttribute('data-session-id');
  const screen = (text) => page.waitForFunction((t) => window.ccConsole.lines().some((l) => l.includes(t)), text, { timeout: 10000 });
  await screen('fake-claude ready');
  const cell = (c) => `#sessions tr[data-session-id="${sid}"] td.${c}`;
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === 'running', cell('status'), { timeout: 10000 });
  // The terminal was created at the browser's size (cols/rows from xterm).
  const created = (await json(s, 'GET', '/api/sessions', token)).sessions.find((x) => x.session_id === sid);
  assert.equal(created.cwd, s.root);

  await page.click('#term');
  await page.keyboard.type('hello console');
  await page.keyboard.press('Enter');
  await screen('got:hello console');

  // A dropped connection: the console reconnects and re-attaches from the last seq it saw, so
  // nothing is written twice.
  const seqBefore = (await json(s, 'GET', '/api/sessions', token)).sessions.find((x) => x.session_id === sid).latest_agent_out_seq;
  await page.evaluate(() => window.testSockets[0].close());
  await page.waitForFunction(() => window.testSockets.length === 2 && window.testSockets[1].readyState === 1, null, { timeout: 10000 });
  const reattach = await page.waitForFunction(() => window.testSent.filter((f) => f.type === 'attach')[1], null, { timeout: 10000 });
  assert.deepEqual(await reattach.jsonValue(), { type: 'attach', data: { session_id: sid, since_seq: seqBefore } });
  await page.keyboard.type('after reconnect');
  await page.keyboard.press('Enter');
  await screen('got:after reconnect');
  const lines = await page.evaluate(() => window.ccConsole.lines());
  assert.equal(lines.filter((l) => l.includes('fake-claude ready')).length, 1, lines.join('\n'));
  assert.equal(lines.filter((l) => l.includes('got:hello console')).length, 1, lines.join('\n'));

  // Offline while more output than the ring holds (4096 bytes) goes by (typed by a second
  // client): the re-attach cannot be served from the last seq, so a snapshot flagged as such
  // comes, and the terminal is reset and redrawn from it.
  const seqOffline = (await json(s, 'GET', '/api/sessions', token)).sessions.find((x) => x.session_id === sid).latest_agent_out_seq;
  await page.evaluate(() => { window.testOffline = true; window.testSockets[1].close(); });
  const other = await browser.newPage();
  await other.goto(s.base + '/console/xterm-LICENSE.txt');  // this origin (the server checks it)
  await other.evaluate(([url, id]) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onclose = () => reject(new Error('the second client was closed'));
    let out = '';
    ws.onopen = () => ws.send(JSON.stringify({ type: 'attach', data: { session_id: id } }));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === 'attach_ok') ws.send(JSON.stringify({ type: 'term_in', session_id: id, data_b64: btoa('flood 200\r') }));
      if (f.type === 'term_out') out += atob(f.data_b64);
      if (out.includes('flood done')) { resolve(); ws.close(); }
    };
  }), [s.base.replace('http', 'ws') + '/ws/client?token=' + token, sid]);
  await other.close();
  await page.evaluate(() => { window.testOffline = false; });
  await screen('flood done');
  const attaches = await page.evaluate(() => window.testSent.filter((f) => f.type === 'attach'));
  assert.deepEqual(attaches.at(-1), { type: 'attach', data: { session_id: sid, since_seq: seqOffline } });
  const redrawn = await page.evaluate(() => window.ccConsole.lines());
  assert.equal(redrawn.filter((l) => l.includes('fake-claude ready')).length, 0, 'reset before the snapshot');
  assert.equal(redrawn.filter((l) => l.includes('line 0200')).length, 1, redrawn.join('\n'));

  await page.keyboard.type('menu');
  await page.keyboard.press('Enter');
  const card = await page.waitForSelector('.approval-card[data-event-id]', { timeout: 10000 });
  const eventId = await card.getAttribute('data-event-id');
  assert.match(await card.textContent(), /Do you want to proceed\?/);
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === 'awaiting', cell('approval'), { timeout: 10000 });
  await page.screenshot({ path: join(ARTIFACTS, 'cc-control-console-approval.png') });

  await page.click('.approval-card button.approve');
  await page.waitForFunction(() => !document.querySelector('.approval-card'), null, { timeout: 10000 });
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === '', cell('approval'), { timeout: 10000 });
  const listed = (await json(s, 'GET', '/api/sessions', token)).sessions.find((x) => x.session_id === sid);
  assert.equal(listed.awaiting_approval, false);
  const { events } = await json(s, 'GET', `/api/sessions/${sid}/events`, token);
  assert.deepEqual(events.map((e) => [e.event_id, e.kind, e.resolved]), [[eventId, 'approval_needed', true]]);
  // The menu was answered with Enter: an empty line.
  await page.waitForFunction(() => window.ccConsole.lines().includes('got:'), null, { timeout: 10000 });

  await page.click(`#sessions tr[data-session-id="${sid}"] button:text("Stop")`);
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === 'exited', cell('status'), { timeout: 15000 });
  assert.notEqual(await page.textContent(cell('exit')), '');
  await page.screenshot({ path: join(ARTIFACTS, 'cc-control-console.png') });
  assert.deepEqual(problems, [], 'no console errors (CSP violations among them)');
  await page.close();
});

await browser.close();
await stopServer(s);
process.exit(failed() ? 1 : 0);
