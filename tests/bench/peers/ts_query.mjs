#!/usr/bin/env node
// End-to-end benchmark for the TypeScript Claude Agent SDK (peer of `ccb_bench query`).
//
//   node ts_query.mjs --cli <fake_cli> --messages N
//
// Drives query() from @anthropic-ai/claude-agent-sdk with a short prompt against the given CLI
// (pathToClaudeCodeExecutable), reads every message the iterator yields as a caller would (read()
// below: the peer of ccb_bench's Reading and peers/py_reading.py) and times it from just before
// query() to the end of the stream. SDK defaults otherwise. The SDK replaces
// the child's whole environment when options.env is given, so the full process.env is passed on
// (it carries CCB_FAKE_SCRIPT_TEXT from the caller).
// The SDK is resolved from $CCB_BENCH_NODE_PREFIX/node_modules (set by tests/bench/run.sh), else
// from the usual node resolution. Prints one JSON line:
//   {"impl":"@anthropic-ai/claude-agent-sdk (TypeScript)","what":"query","messages":M,"seconds":S,"text_chars":...}
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

// What a caller reads of each message: its type; of an assistant message its text (the text blocks
// joined), session id and usage; of a result its session id and usage.
function reader() {
  const r = { read: 'equal', messages: 0, assistant: 0, results: 0, text_chars: 0, output_tokens: 0, session_ids: 0 };
  const take = (sessionId, usage) => {
    if (sessionId) r.session_ids++;
    if (usage) r.output_tokens += usage.output_tokens || 0;
  };
  const read = (m) => {
    r.messages++;
    if (m.type === 'assistant') {
      r.assistant++;
      r.text_chars += m.message.content.filter((b) => b.type === 'text').map((b) => b.text).join('').length;
      take(m.session_id, m.message.usage);
    } else if (m.type === 'result') {
      r.results++;
      take(m.session_id, m.usage);
    }
  };
  return { r, read };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { sdk, version } = await loadSdk();
  const { r, read } = reader();
  const t0 = process.hrtime.bigint();
  const q = sdk.query({
    prompt: 'benchmark',
    options: { pathToClaudeCodeExecutable: args.cli, env: { ...process.env } },
  });
  for await (const message of q) read(message);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({
    impl: '@anthropic-ai/claude-agent-sdk (TypeScript)', what: 'query', ...r,
    seconds: Number(seconds.toFixed(6)), sdk_version: version,
  }) + '\n');
  return args.messages > 0 && r.messages < args.messages ? 1 : 0;
}

main().then((rc) => { process.exitCode = rc; }, (err) => {
  console.error(`ts_query: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 2;
});
