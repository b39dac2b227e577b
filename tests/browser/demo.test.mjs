// End-to-end browser tests in real headless Chromium (Debian's chromium, driven by playwright-core):
//   1. the demo page served by `ccbridge serve` runs a prompt and shows streamed text, a tool call,
//      its result and the cost (screenshot kept in $CCB_ARTIFACTS/demo.png);
//   2. its Cancel button stops a run that would never end, and no process is left;
//   3. the seed 002 document's JavaScript client, unchanged but for the address, shows the
//      assistant's text and the tool call.
// Env: CCB_BIN, CCB_FAKE_CLI, CCB_BROWSER_NODE_MODULES, CCB_ARTIFACTS, CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ARTIFACTS, failed, launch, startServe, stopServer, test } from './harness.mjs';

const line = (o) => JSON.stringify(o);
const FINISHING = [
  'wait_user',
  'emit ' + line({ type: 'system', subtype: 'init', session_id: 's1', model: 'claude-fake', tools: ['Bash'] }),
  'emit ' + line({ type: 'assistant', message: { type: 'message', role: 'assistant', model: 'claude-fake', content: [{ type: 'text', text: 'Here are the files:' }] } }),
  'emit ' + line({ type: 'assistant', message: { type: 'message', role: 'assistant', model: 'claude-fake', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }] } }),
  'emit ' + line({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt b.txt' }] } }),
  'emit ' + line({ type: 'assistant', message: { type: 'message', role: 'assistant', model: 'claude-fake', content: [{ type: 'text', text: 'Two files.' }] } }),
  'emit ' + line({ type: 'result', subtype: 'success', is_error: false, num_turns: 2, result: 'Two files.', total_cost_usd: 0.0123 }),
  'exit 0',
].join('\n');
const HANGING = ['wait_user', 'emit ' + line({ type: 'system', subtype: 'init', model: 'claude-fake' }), 'hang'].join('\n');

async function startServer(script) {
  const root = mkdtempSync(join(tmpdir(), 'ccb-browser-'));
  const tag = 'browser-' + Math.random().toString(36).slice(2);
  const s = await startServe(['--root', root, '--cli', process.env.CCB_FAKE_CLI, '--exit-wait-ms', '500', '--term-wait-ms', '500',
    '--pass-env', 'CCB_*'], { cwd: root, env: { ...process.env, CCB_FAKE_SCRIPT_TEXT: script, CCB_TEST_TAG: tag } });
  return { ...s, tag };
}

// Live processes started by a server (found by the tag in their environment).
function tagged(tag) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'latin1');
      const state = readFileSync(`/proc/${d}/stat`, 'latin1').split(') ')[1].split(' ')[0];
      if (env.split('\0').includes('CCB_TEST_TAG=' + tag) && state !== 'Z') out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const browser = await launch();

await test('demo page runs a prompt and shows text, tool call, result and cost', async () => {
  const s = await startServer(FINISHING);
  try {
    const page = await browser.newPage();
    await page.goto(s.base + '/');
    await page.fill('#prompt', 'What is here?');
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'done', null, { timeout: 15000 });
    const output = await page.textContent('#output');
    assert.match(output, /Here are the files:/);
    assert.match(output, /Two files\./);
    assert.equal(await page.textContent('.tool'), '\u2192 Bash {"command":"ls"}');
    assert.equal(await page.textContent('.result'), 'a.txt b.txt');
    assert.equal(await page.textContent('#cost'), 'cost $0.0123, 2 turn(s)');
    assert.equal(await page.isDisabled('#cancel'), true);
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
    await page.close();
  } finally {
    await stopServer(s);
  }
});

await test('demo page Cancel stops a run that would never end', async () => {
  const s = await startServer(HANGING);
  try {
    const page = await browser.newPage();
    await page.goto(s.base + '/');
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('running'), null, { timeout: 15000 });
    assert.equal(tagged(s.tag).filter((p) => p !== s.proc.pid).length, 1);
    await page.click('#cancel');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'cancelled', null, { timeout: 15000 });
    await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 15000 });
    for (let i = 0; i < 100 && tagged(s.tag).filter((p) => p !== s.proc.pid).length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(tagged(s.tag).filter((p) => p !== s.proc.pid), []);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-cancelled.png'), fullPage: true });
    await page.close();
  } finally {
    await stopServer(s);
  }
});

await test("seed 002's JavaScript client shows the assistant's text and tool calls", async () => {
  const s = await startServer(FINISHING);
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on('console', (m) => { if (m.type() === 'log') logs.push(m.text()); });
    await page.goto(s.base + '/demo/config');  // any page of the server's own origin
    // The "Basic JavaScript Client" of seeds/002, verbatim except the address.
    const client = `
const ws = new WebSocket('ws://localhost:3000/ws/claude');

ws.onmessage = (event) => {
  try {
    const msg = JSON.parse(event.data);
    
    if (msg.error) {
      console.error('Error:', msg.error);
      return;
    }
    
    if (msg.type === 'message') {
      // Handle Claude message
      for (const block of msg.content) {
        if (block.type === 'text') {
          console.log('Assistant:', block.text);
        } else if (block.type === 'tool_use') {
          console.log('Tool call:', block.name);
        }
      }
    }
  } catch (e) {
    // Plain text output
    console.log('Output:', event.data);
  }
};

ws.onopen = () => {
  // Wait for info message, then send prompt
  setTimeout(() => {
    ws.send(JSON.stringify({
      prompt: 'Hello Claude',
      meta: 'TASK-123'
    }));
  }, 100);
};
`.replace('ws://localhost:3000', `ws://127.0.0.1:${s.port}`);
    await page.evaluate(client);
    for (let i = 0; i < 200 && !logs.includes('Assistant: Two files.'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(logs, ['Assistant: Here are the files:', 'Tool call: Bash', 'Assistant: Two files.']);
    await page.close();
  } finally {
    await stopServer(s);
  }
});

await browser.close();
process.exit(failed() ? 1 : 0);
