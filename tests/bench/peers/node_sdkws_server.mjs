// Peer for the gateway benchmark: the seed-003 sdk-ws mapping (see py_sdkws_server.py) as a Node
// server on the `ws` package over the official TypeScript SDK: one streaming-input query() (one
// CLI process) per connection, like ccbridge's sdk-ws profile.
//
//   node node_sdkws_server.mjs --cli <fake_cli>     prints "PORT <n>", serves until SIGTERM
// Env: CCB_BENCH_NODE_PREFIX (npm prefix holding ws and @anthropic-ai/claude-agent-sdk).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const prefix = process.env.CCB_BENCH_NODE_PREFIX;
const require = createRequire(join(prefix, 'node_modules', 'x.js'));
const { WebSocketServer } = require('ws');
const sdk = await import(pathToFileURL(require.resolve('@anthropic-ai/claude-agent-sdk')).href);
const cli = process.argv[process.argv.indexOf('--cli') + 1];

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
  async function pump() {
    try {
      for await (const m of q) {
        if (ws.readyState !== ws.OPEN) break;
        if (m.type === 'assistant') ws.send(JSON.stringify({ type: 'assistant_message', data: { content: blocks(m.message.content) } }));
        else if (m.type === 'user' && Array.isArray(m.message.content)) {
          const b = m.message.content.filter((x) => x.type === 'tool_result');
          if (b.length) ws.send(JSON.stringify({ type: 'assistant_message', data: { content: b } }));
        } else if (m.type === 'system') ws.send(JSON.stringify({ type: 'system_message', data: m }));
        else if (m.type === 'result') {
          ws.send(JSON.stringify({ type: 'result_message', data: { subtype: m.subtype, cost_usd: m.total_cost_usd, duration_ms: m.duration_ms,
            session_id: m.session_id, total_cost_usd: m.total_cost_usd, num_turns: m.num_turns, usage: m.usage } }));
          ws.send(JSON.stringify({ type: 'query_end' }));
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
      q = sdk.query({ prompt: input(), options: { pathToClaudeCodeExecutable: cli } });
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
