#!/usr/bin/env node
// End-to-end benchmark for the TypeScript Claude Agent SDK (peer of `ccb_bench query`).
//
//   node ts_query.mjs --cli <fake_cli> --messages N
//
// Drives query() from @anthropic-ai/claude-agent-sdk with a short prompt against the given CLI
// (pathToClaudeCodeExecutable), counts every message the iterator yields (all types) and times
// it from just before query() to the end of the stream. SDK defaults otherwise. The SDK replaces
// the child's whole environment when options.env is given, so the full process.env is passed on
// (it carries CCB_FAKE_SCRIPT_TEXT from the caller).
// The SDK is resolved from $CCB_BENCH_NODE_PREFIX/node_modules (set by tests/bench/run.sh), else
// from the usual node resolution. Prints one JSON line:
//   {"impl":"@anthropic-ai/claude-agent-sdk (TypeScript)","what":"query","messages":M,"seconds":S,...}
// Exits 1 if fewer than N messages arrived.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PKG = '@anthropic-ai/claude-agent-sdk';

function parseArgs(argv) {
  const out = { cli: null, messages: 0 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cli') out.cli = argv[++i];
    else if (argv[i] === '--messages') out.messages = Number(argv[++i]);
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  if (!out.cli) throw new Error('usage: ts_query.mjs --cli <fake_cli> --messages N');
  return out;
}

async function loadSdk() {
  const prefix = process.env.CCB_BENCH_NODE_PREFIX;
  const req = createRequire(prefix ? pathToFileURL(join(prefix, 'package.json')) : import.meta.url);
  // The package is ESM-only with an "exports" map; resolve its package.json for the version and
  // its entry point for the import.
  const entry = req.resolve(PKG);
  let version = 'unknown';
  try {
    const dir = entry.slice(0, entry.lastIndexOf(PKG) + PKG.length);
    version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {}
  const sdk = await import(pathToFileURL(entry).href);
  return { sdk, version };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { sdk, version } = await loadSdk();
  let count = 0;
  const t0 = process.hrtime.bigint();
  const q = sdk.query({
    prompt: 'benchmark',
    options: { pathToClaudeCodeExecutable: args.cli, env: { ...process.env } },
  });
  for await (const _message of q) count++;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({
    impl: '@anthropic-ai/claude-agent-sdk (TypeScript)', what: 'query', messages: count,
    seconds: Number(seconds.toFixed(6)), sdk_version: version,
  }) + '\n');
  return args.messages > 0 && count < args.messages ? 1 : 0;
}

main().then((rc) => { process.exitCode = rc; }, (err) => {
  console.error(`ts_query: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 2;
});
