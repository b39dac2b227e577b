// Peer for the gateway benchmark: the seed-003 sdk-ws mapping (see py_sdkws_server.py) as a Node
// server on the `ws` package over the official TypeScript SDK: one streaming-input query() (one
// CLI process) per connection, like ccbridge's sdk-ws profile. Its frames are those of ccbridge's
// sdk-ws profile byte for byte (tests/bench/gateway_bench.py checks it), connection_established aside.
//
// Backpressure, as ws asks of its users: while the socket holds more than HIGH_WATER bytes not yet
// written (bufferedAmount), the CLI's stdout is not read, until the send callback of the frame that
// crossed the mark says the socket took it. The SDK reads stdout into a queue of its own without a
// bound, so the hold is on the pipe itself: the CLI is spawned here (spawnClaudeCodeProcess) and its
// stdout reaches the SDK through a gate that stops passing chunks, so the pipe fills and the CLI
// blocks, as ccbridge's does.
//
//   node node_sdkws_server.mjs --cli <fake_cli>     prints "PORT <n>", serves until SIGTERM
// Env: CCB_BENCH_NODE_PREFIX (npm prefix holding ws and @anthropic-ai/claude-agent-sdk).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pathToFileURL } from 'node:url';

const prefix = process.env.CCB_BENCH_NODE_PREFIX;
const require = createRequire(join(prefix, 'node_modules', 'x.js'));
const { WebSocketServer } = require('ws');
const sdk = await import(pathToFileURL(require.resolve('@anthropic-ai/claude-agent-sdk')).href);
const cli = process.argv[process.argv.indexOf('--cli') + 1];
const HIGH_WATER = 1 << 20;

// The CLI as the SDK's default spawn starts it, with its stdout behind `gate` (a Transform that
// holds each chunk while gate.held is set; gate.release() lets the held chunk through).
function spawnGated(opts, gate) {
  const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, signal: opts.signal,
                                                 stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdout.pipe(gate);
  const proc = {
    stdin: child.stdin, stdout: gate,
    get killed() { return child.killed; }, get exitCode() { return child.exitCode; },
    get signalCode() { return child.signalCode; },
    kill: (sig) => child.kill(sig),
    on: (ev, f) => { child.on(ev, f); return proc; }, once: (ev, f) => { child.once(ev, f); return proc; },
    off: (ev, f) => { child.off(ev, f); return proc; },
  };
  return proc;
}

function makeGate() {
  let pending = null;
  const gate = new Transform({
    transform(chunk, _enc, done) {
      if (gate.held) pending = () => done(null, chunk);
      else done(null, chunk);
    },
  });
  gate.held = false;
  gate.release = () => {
    gate.held = false;
    const p = pending;
    pending = null;
    if (p) p();
  };
  return gate;
}

function blocks(content) {
  return (content || []).filter((b) => b.type === 'text' || b.type === 'tool_use' || b.type === 'tool_result');
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
wss.on('listening', () => console.log('PORT ' + wss.address().port));
wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ type: 'connection_established', data: { session_id: 'session_' + Math.random().toString(36).slice(2),
    capabilities: { concurrent_input: true, tool_definition: false, interrupt_query: true } } }));
  // Streaming input: prompts are pushed into this queue and read by the SDK.
  const pending = [];
  let wake = null;
  let closed = false;
  async function* input() {
    while (!closed) {
      if (pending.length) yield pending.shift();
      else await new Promise((r) => { wake = r; });
    }
  }
  let q = null;
  const gate = makeGate();
  // Sends a frame; the one that takes the socket past HIGH_WATER holds the CLI until it is written.
  function send(frame) {
    const data = JSON.stringify(frame);
    if (gate.held || ws.bufferedAmount + data.length <= HIGH_WATER) return ws.send(data);
    gate.held = true;
    ws.send(data, () => gate.release());  // also called, with an error, if the socket closes
  }
  async function pump() {
    try {
      for await (const m of q) {
        if (ws.readyState !== ws.OPEN) break;
        if (m.type === 'assistant') send({ type: 'assistant_message', data: { content: blocks(m.message.content) } });
        else if (m.type === 'user' && Array.isArray(m.message.content)) {
          const b = m.message.content.filter((x) => x.type === 'tool_result');
          if (b.length) send({ type: 'assistant_message', data: { content: b } });
        } else if (m.type === 'system') send({ type: 'system_message', data: m });
        else if (m.type === 'result') {
          send({ type: 'result_message', data: { subtype: m.subtype, cost_usd: m.total_cost_usd, duration_ms: m.duration_ms,
            session_id: m.session_id, total_cost_usd: m.total_cost_usd, num_turns: m.num_turns, usage: m.usage,
            is_error: m.is_error, result: m.result } });
          send({ type: 'query_end' });
        }
      }
    } catch (err) {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', data: { error: String(err) } }));
    }
  }
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch { return ws.send(JSON.stringify({ type: 'error', data: { error: 'invalid JSON' } })); }
    if (msg.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
    if (msg.type !== 'query') return;
    ws.send(JSON.stringify({ type: 'query_start', data: { prompt: msg.prompt } }));
    if (!q) {
      q = sdk.query({ prompt: input(), options: { pathToClaudeCodeExecutable: cli,
                                                  spawnClaudeCodeProcess: (opts) => spawnGated(opts, gate) } });
      pump();
    }
    pending.push({ type: 'user', message: { role: 'user', content: msg.prompt }, parent_tool_use_id: null, session_id: '' });
    if (wake) { const w = wake; wake = null; w(); }
  });
  ws.on('close', () => {
    closed = true;
    if (wake) { const w = wake; wake = null; w(); }
    if (q) q.return?.();
  });
});
process.on('SIGTERM', () => { wss.close(); process.exit(0); });
