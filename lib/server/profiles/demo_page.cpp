// The browser demo served at GET / (and /demo) next to the opcode profile: runs a prompt through
// POST /claude/execute, shows the streamed text, tool calls and results, and the cost, and cancels
// with POST /claude/cancel/{id}. Self-contained (no external scripts or styles).
#include "server/context.hpp"

namespace ccbridge::detail::server {

namespace {

const char kDemoPage[] = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ccbridge demo</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
  main { max-width: 860px; margin: 24px auto; padding: 0 16px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  textarea { width: 100%; box-sizing: border-box; min-height: 70px; font: inherit; padding: 8px; }
  .bar { display: flex; gap: 8px; align-items: center; margin: 8px 0 16px; }
  button { font: inherit; padding: 6px 16px; border-radius: 6px; border: 1px solid #8895a7; background: #fff; cursor: pointer; }
  button.primary { background: #2f5fd0; color: #fff; border-color: #2f5fd0; }
  button:disabled { opacity: .45; cursor: default; }
  #status { color: #5a6475; }
  #output { background: #fff; border: 1px solid #d9dde4; border-radius: 8px; padding: 12px; min-height: 120px; }
  .text { white-space: pre-wrap; margin: 0 0 10px; }
  .tool { font-family: ui-monospace, monospace; font-size: 13px; background: #eef2fb; border-left: 3px solid #2f5fd0; padding: 6px 8px; margin: 0 0 10px; white-space: pre-wrap; }
  .result { font-family: ui-monospace, monospace; font-size: 13px; background: #f1f5ee; border-left: 3px solid #4b8a3a; padding: 6px 8px; margin: 0 0 10px; white-space: pre-wrap; }
  .result.err { background: #fbefef; border-color: #c0392b; }
  .error { color: #c0392b; margin: 0 0 10px; }
  #cost { font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<main>
  <h1>ccbridge</h1>
  <textarea id="prompt" placeholder="Ask Claude Code something about the project">List the files in this project.</textarea>
  <div class="bar">
    <button id="run" class="primary">Run</button>
    <button id="cancel" disabled>Cancel</button>
    <span id="status">ready</span>
    <span style="flex:1"></span>
    <span id="cost"></span>
  </div>
  <div id="output"></div>
</main>
<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token');
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers['Authorization'] = 'Bearer ' + token;
  let ws = null, sessionId = null;

  function add(cls, text) {
    const el = document.createElement('div');
    el.className = cls;
    el.textContent = text;
    $('output').appendChild(el);
    return el;
  }
  function status(s) { $('status').textContent = s; }
  function busy(on) { $('run').disabled = on; $('cancel').disabled = !on; }
  function short(v) { const s = typeof v === 'string' ? v : JSON.stringify(v); return s.length > 600 ? s.slice(0, 600) + ' ...' : s; }

  function onFrame(m) {
    if (m.type === 'system' && m.subtype === 'init') status('running (' + (m.model || 'model') + ')');
    else if (m.type === 'assistant') {
      for (const b of (m.message && m.message.content) || []) {
        if (b.type === 'text') add('text', b.text);
        else if (b.type === 'tool_use') add('tool', '\u2192 ' + b.name + ' ' + short(b.input));
      }
    } else if (m.type === 'user') {
      const c = m.message && m.message.content;
      if (Array.isArray(c)) for (const b of c) if (b.type === 'tool_result') {
        const text = Array.isArray(b.content) ? b.content.map((x) => x.text || '').join('\n') : b.content;
        add('result' + (b.is_error ? ' err' : ''), short(text || ''));
      }
    } else if (m.type === 'result') {
      if (typeof m.total_cost_usd === 'number') $('cost').textContent = 'cost $' + m.total_cost_usd.toFixed(4) + ', ' + (m.num_turns || 0) + ' turn(s)';
      if (m.is_error) add('error', 'error: ' + (m.result || (m.errors || []).join('; ') || m.subtype));
    } else if (m.type === 'error') add('error', m.message);
    // The run is over with these two frames; the close that follows may arrive later.
    else if (m.type === 'complete') { status(m.success ? 'done' : 'failed (code ' + m.code + ')'); busy(false); }
    else if (m.type === 'cancelled') { status('cancelled'); busy(false); }
  }

  async function run() {
    $('output').textContent = '';
    $('cost').textContent = '';
    busy(true);
    status('starting');
    try {
      const cfg = await (await fetch('/demo/config', { headers })).json();
      const r = await fetch('/claude/execute', { method: 'POST', headers,
        body: JSON.stringify({ project_path: cfg.project_path, prompt: $('prompt').value }) });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error + (body.detail ? ': ' + body.detail : ''));
      sessionId = body.session_id;
      const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + body.websocket_url + (token ? '?token=' + encodeURIComponent(token) : '');
      ws = new WebSocket(url);
      ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { add('text', e.data); } };
      ws.onclose = () => { busy(false); ws = null; };
    } catch (err) {
      add('error', String(err.message || err));
      status('failed');
      busy(false);
    }
  }

  $('run').onclick = run;
  $('cancel').onclick = async () => {
    if (!sessionId) return;
    $('cancel').disabled = true;
    status('cancelling');
    await fetch('/claude/cancel/' + encodeURIComponent(sessionId), { method: 'POST', headers });
  };
})();
</script>
</body>
</html>
)HTML";

// No other site may frame the demo (clickjacking: it runs prompts): frame-ancestors for current
// browsers, X-Frame-Options for older ones.
void forbid_framing(HttpResponse &res, const char *csp)
{
  res.headers.emplace_back("Content-Security-Policy", csp);
  res.headers.emplace_back("X-Frame-Options", "DENY");
}

}  // namespace

void register_demo(Context &ctx, Router &r)
{
  Context *c = &ctx;
  auto page = [](const HttpRequest &, HttpReply reply) {
    HttpResponse res;
    res.body = kDemoPage;
    res.content_type = "text/html; charset=utf-8";
    forbid_framing(res, "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:; "
                        "frame-ancestors 'none'");
    reply(std::move(res));
  };
  r.http("GET", "/", page);
  r.http("GET", "/demo", page);
  r.http("GET", "/demo/config", [c](const HttpRequest &, HttpReply reply) {
    auto res = HttpResponse::json(200, "{\"project_path\":" + json_str(c->roots.empty() ? std::string("/") : c->roots.front()) + "}");
    forbid_framing(res, "frame-ancestors 'none'");
    reply(std::move(res));
  });
}

}  // namespace ccbridge::detail::server
