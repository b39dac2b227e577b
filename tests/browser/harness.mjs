// Shared pieces of the browser tests: Debian's chromium driven by playwright-core, a small test
// runner, and `ccbridge serve` started (waiting for its address) and stopped (exit status 0).
// Env: CCB_BIN, CCB_BROWSER_NODE_MODULES, CCB_ARTIFACTS, CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(join(process.env.CCB_BROWSER_NODE_MODULES, 'x.js'));
const { chromium } = require('playwright-core');

export const ARTIFACTS = process.env.CCB_ARTIFACTS || tmpdir();
mkdirSync(ARTIFACTS, { recursive: true });

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
}

let failures = 0;
export async function test(name, fn) {
  try {
    await fn();
    console.log('ok -', name);
  } catch (err) {
    failures++;
    console.log('not ok -', name, '\n', err);
  }
}
export const failed = () => failures > 0;

// `ccbridge serve ARGS` in `cwd` with `env`; resolves to {proc, port, base} once it listens.
export function startServe(args, { cwd, env = process.env }) {
  const proc = spawn(process.env.CCB_BIN, ['serve', '--port', '0', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start')), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), base: `http://127.0.0.1:${m[1]}` });
      }
    });
  });
}

export async function stopServer(s) {
  const code = await new Promise((resolve) => {
    s.proc.on('exit', (c) => resolve(c));
    s.proc.kill('SIGTERM');
  });
  assert.equal(code, 0, 'server exit status');
}
