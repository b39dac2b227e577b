// The cc-control console: a UI token (sessionStorage) for the REST API (Authorization: Bearer)
// and /ws/client (?token=); servers and sessions; create, stop, delete; one attached session in
// an xterm.js terminal (term_in/term_out/resize, re-attach from the last seq after a reconnect);
// approval cards answered with action frames. No framework, no build step.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'ccbridge.cc-control.token';
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    servers: [],
    sessions: new Map(),   // session_id -> Session (REST shape, updated by session_update)
    approvals: new Map(),  // event_id -> unresolved approval_needed event
    attached: '',          // the session shown in the terminal
    lastSeq: 0,            // the last term_out seq written to the terminal
    ws: null,
    retries: 0,
    refreshes: 0,          // REST list fetches started
    updates: 0,            // session_update frames applied
    updatedAt: new Map(),  // session_id -> the `updates` count of its last session_update
  };

  const term = new Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);

  // ---- helpers
  const utf8 = new TextEncoder();
  function bytesToB64(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }
  function b64ToBytes(b64) {
    const s = atob(b64 || '');
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    e.append(...children);
    return e;
  }
  function notice(text) { $('notice').textContent = text; }

  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + state.token };
    if (body) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body && JSON.stringify(body), cache: 'no-store' });
    const text = await r.text();
    if (r.status === 401) signOut('token refused (401 ' + text.trim() + ')');
    if (!r.ok) throw new Error(r.status + ' ' + text.trim());
    return text ? JSON.parse(text) : null;
  }
  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  // ---- REST: lists and session operations
  // A list fetched while a session_update came in may be older than that update: such sessions
  // keep what the update said. Only the latest of overlapping refreshes is applied.
  async function refresh() {
    const n = ++state.refreshes, since = state.updates;
    try {
      const [sv, ss] = await Promise.all([api('GET', '/api/servers'), api('GET', '/api/sessions')]);
      if (n !== state.refreshes) return;
      state.servers = sv.servers || [];
      const fresh = (s) => (state.updatedAt.get(s.session_id) > since ? state.sessions.get(s.session_id) || s : s);
      state.sessions = new Map((ss.sessions || []).map((s) => [s.session_id, fresh(s)]));
      renderServers();
      renderSessions();
    } catch (err) {
      notice(String(err.message || err));
    }
  }

  async function createSession(ev) {
    ev.preventDefault();
    const body = { server_id: $('server').value, cwd: $('cwd').value.trim(), cols: term.cols, rows: term.rows };
    const resume = $('resume').value.trim();
    if (resume) body.resume_id = resume;
    try {
      const s = await api('POST', '/api/sessions', body);
      state.sessions.set(s.session_id, s);
      renderSessions();
      attach(s.session_id);
    } catch (err) {
      notice('create: ' + (err.message || err));
    }
  }

  async function sessionOp(method, path, what) {
    try {
      await api(method, path);
      await refresh();
    } catch (err) {
      notice(what + ': ' + (err.message || err));
    }
  }
  const stop = (id) => sessionOp('POST', '/api/sessions/' + encodeURIComponent(id) + '/stop', 'stop');
  const remove = (id) => sessionOp('DELETE', '/api/sessions/' + encodeURIComponent(id), 'delete');

  // ---- rendering
  function renderServers() {
    const body = $('servers').tBodies[0];
    body.replaceChildren(...state.servers.map((s) =>
      el('tr', {}, el('td', {}, el('code', { textContent: s.server_id })), el('td', { textContent: s.hostname || '' }),
        el('td', { textContent: s.status }))));
    const select = $('server'), was = select.value;
    select.replaceChildren(...state.servers.map((s) => el('option', { value: s.server_id, textContent: s.server_id + ' (' + s.status + ')' })));
    if (was) select.value = was;
    const chosen = state.servers.find((s) => s.server_id === select.value);
    if (chosen && !$('cwd').value && chosen.allow_roots && chosen.allow_roots.length) $('cwd').value = chosen.allow_roots[0];
  }

  function exitText(s) {
    if (s.exit_code === undefined || s.exit_code === null) return s.exit_reason || '';
    return 'code ' + s.exit_code + (s.exit_reason ? ' (' + s.exit_reason + ')' : '');
  }

  function button(text, onclick) { return el('button', { type: 'button', textContent: text, onclick }); }

  function sessionRow(s) {
    const live = ['starting', 'running', 'stopping'].includes(s.status);
    const tr = el('tr', { className: s.session_id === state.attached ? 'current' : '' },
      el('td', { title: s.session_id + '\n' + s.cwd }, el('code', { textContent: s.session_id.slice(0, 8) }), ' ', s.server_id),
      el('td', { className: 'status', textContent: s.status }),
      el('td', { className: 'approval' + (s.awaiting_approval ? ' awaiting' : ''), textContent: s.awaiting_approval ? 'awaiting' : '' }),
      el('td', { className: 'exit', textContent: exitText(s) }),
      el('td', { className: 'actions' }, button('Attach', () => attach(s.session_id)),
        live ? button('Stop', () => stop(s.session_id)) : '', button('Delete', () => remove(s.session_id))));
    tr.dataset.sessionId = s.session_id;
    return tr;
  }

  function renderSessions() {
    const list = [...state.sessions.values()].sort((a, b) => b.created_at_ms - a.created_at_ms);
    $('sessions').tBodies[0].replaceChildren(...list.map(sessionRow));
    const cur = state.sessions.get(state.attached);
    $('attached').textContent = cur ? 'Attached to ' + cur.session_id + ' (' + cur.status + ') in ' + cur.cwd : 'Not attached';
    renderApprovals();
  }

  function approvalCard(ev) {
    const answer = (kind) => (e) => {
      e.target.parentElement.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      send({ type: 'action', session_id: ev.session_id, data: { kind, event_id: ev.event_id } });
    };
    const what = ev.tool_name ? 'Tool ' + ev.tool_name + (ev.tool_input ? ' ' + JSON.stringify(ev.tool_input) : '') : ev.prompt_excerpt || '';
    const card = el('div', { className: 'approval-card' },
      el('div', {}, 'Approval needed in ', el('code', { textContent: ev.session_id.slice(0, 8) })),
      el('pre', { className: 'excerpt', textContent: what }),
      el('button', { type: 'button', className: 'approve', textContent: 'Approve', onclick: answer('approve') }), ' ',
      el('button', { type: 'button', className: 'reject', textContent: 'Reject', onclick: answer('reject') }));
    card.dataset.eventId = ev.event_id;
    return card;
  }

  function renderApprovals() {
    $('approvals').replaceChildren(...[...state.approvals.values()].map(approvalCard));
  }

  // ---- terminal
  function attach(id) {
    if (state.attached !== id) {
      state.attached = id;
      state.lastSeq = 0;
      term.reset();
    }
    send({ type: 'attach', data: { session_id: id, since_seq: state.lastSeq } });
    send({ type: 'resize', session_id: id, data: { cols: term.cols, rows: term.rows } });
    renderSessions();
    term.focus();
  }

  function onTermOut(f) {
    if (f.session_id !== state.attached) return;
    if (f.data && f.data.snapshot) term.reset();  // the ring no longer covered our seq: a fresh screen
    term.write(b64ToBytes(f.data_b64));
    if (f.seq > state.lastSeq) state.lastSeq = f.seq;
  }

  term.onData((d) => { if (state.attached) send({ type: 'term_in', session_id: state.attached, data_b64: bytesToB64(utf8.encode(d)) }); });
  term.onBinary((d) => { if (state.attached) send({ type: 'term_in', session_id: state.attached, data_b64: btoa(d) }); });
  term.onResize(({ cols, rows }) => { if (state.attached) send({ type: 'resize', session_id: state.attached, data: { cols, rows } }); });
  new ResizeObserver(() => { if (term.element) fit.fit(); }).observe($('term'));

  // ---- /ws/client
  function onSessionUpdate(f) {
    const d = f.data || {};
    const s = state.sessions.get(d.session_id);
    if (!s) return refresh();  // a session this page has not listed yet
    state.updatedAt.set(d.session_id, ++state.updates);
    Object.assign(s, { status: d.status, exit_reason: d.exit_reason, resume_id: d.resume_id,
                       awaiting_approval: d.awaiting_approval, pending_event_id: d.pending_event_id });
    if (d.exit_code === null) delete s.exit_code; else s.exit_code = d.exit_code;
    for (const [id, ev] of state.approvals) {
      if (ev.session_id === d.session_id && id !== d.pending_event_id) state.approvals.delete(id);
    }
    renderSessions();
  }

  function onFrame(f) {
    if (f.type === 'term_out') onTermOut(f);
    else if (f.type === 'session_update') onSessionUpdate(f);
    else if (f.type === 'event' && f.data && f.data.kind === 'approval_needed') {
      if (f.data.resolved) state.approvals.delete(f.data.event_id);
      else state.approvals.set(f.data.event_id, f.data);
      renderApprovals();
    } else if (f.type === 'error') {
      notice((f.session_id ? f.session_id.slice(0, 8) + ': ' : '') + (f.data && f.data.message));
      if (f.session_id === state.attached && f.data && f.data.message === 'session not found') detach();
    }
  }

  function detach() {
    state.attached = '';
    state.lastSeq = 0;
    term.reset();
    renderSessions();
  }

  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/client?token=' + encodeURIComponent(state.token);
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = () => {
      state.retries = 0;
      $('conn').textContent = 'connected';
      state.approvals.clear();  // the server re-sends the pending ones
      if (state.attached) attach(state.attached);
      refresh();
    };
    ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { notice('bad frame: ' + err); } };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (!state.token) return;
      $('conn').textContent = 'reconnecting...';
      setTimeout(() => { if (state.token && !state.ws) connect(); }, Math.min(8000, 250 * 2 ** state.retries++));
    };
  }

  // ---- sign in / out
  async function signIn(token) {
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    notice('');
    await refresh();
    if (!state.token) return;  // refused
    $('login').hidden = true;
    $('logout').hidden = false;
    $('app').hidden = false;
    if (!term.element) term.open($('term'));  // opened once visible, so it can measure its cells
    fit.fit();
    connect();
  }

  function signOut(why) {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close();
    detach();
    state.approvals.clear();
    $('login').hidden = false;
    $('logout').hidden = true;
    $('app').hidden = true;
    $('conn').textContent = '';
    notice(why || '');
  }

  $('login').onsubmit = (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    $('token').value = '';
    if (t) signIn(t);
  };
  $('logout').onclick = () => signOut('');
  $('create').onsubmit = createSession;
  $('server').onchange = () => { $('cwd').value = ''; renderServers(); };
  if (state.token) signIn(state.token);

  // For automation and tests: the terminal's text, one string per buffer line.
  window.ccConsole = {
    lines: () => {
      const b = term.buffer.active, out = [];
      for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
      return out;
    },
  };
})();
