#!/usr/bin/env bash
# Installs the benchmark peers (the official Claude Agent SDKs, pinned) outside the repo:
#   $CACHE/bench-venv   Python venv with claude-agent-sdk (and the pins below: FastAPI/uvicorn, mcp)
#   $CACHE/bench-node   npm prefix with @anthropic-ai/claude-agent-sdk
# where CACHE = ${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}.
# Idempotent: a step whose pinned version is already installed is skipped. Logs go to stderr;
# stdout gets only the two paths ("venv=...", "node=...").
set -euo pipefail

PY_SDK_VERSION=0.2.187     # PyPI claude-agent-sdk (newest when pinned)
TS_SDK_VERSION=0.3.330     # npm @anthropic-ai/claude-agent-sdk
# The gateway benchmark's FastAPI servers (the peer and ccbridge's server.app; newest when pinned),
# with uvloop and httptools, which uvicorn then uses as a real deployment's `uvicorn[standard]` would.
PY_SERVER_PINS=(fastapi==0.165.0 uvicorn==0.54.0 websockets==17.4 uvloop==0.23.0 httptools==0.9.0)
# The platform tools benchmark's peer, the official Python MCP SDK (newest when pinned; claude-agent-sdk
# above depends on it too, and accepts this version).
PY_MCP_PINS=(mcp==2.3.0)
WS_VERSION=8.23.0          # npm ws

CACHE="${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}"
VENV="$CACHE/bench-venv"
NODE_PREFIX="$CACHE/bench-node"
log() { echo "peers/setup: $*" >&2; }
mkdir -p "$CACHE"

# --- Python SDK ---------------------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
have_py=""
if [[ -x "$VENV/bin/python" ]]; then
  have_py="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("claude-agent-sdk"))' 2>/dev/null || true)"
fi
if [[ "$have_py" != "$PY_SDK_VERSION" ]]; then
  log "installing claude-agent-sdk==$PY_SDK_VERSION into $VENV"
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "claude-agent-sdk==$PY_SDK_VERSION" >&2
else
  log "claude-agent-sdk $PY_SDK_VERSION already in $VENV"
fi

frozen="$("$VENV/bin/python" -m pip freeze 2>/dev/null || true)"
missing=()
for pin in "${PY_SERVER_PINS[@]}" "${PY_MCP_PINS[@]}"; do
  grep -qixF "$pin" <<<"$frozen" || missing+=("$pin")
done
if ((${#missing[@]})); then
  log "installing ${PY_SERVER_PINS[*]} ${PY_MCP_PINS[*]} into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_SERVER_PINS[@]}" "${PY_MCP_PINS[@]}" >&2
fi

# --- TypeScript SDK -----------------------------------------------------------------------------
# --omit=optional skips the per-platform packages that carry the ~364 MB bundled CLI; the benchmark
# always passes pathToClaudeCodeExecutable, so the SDK never needs it.
pkg_json="$NODE_PREFIX/node_modules/@anthropic-ai/claude-agent-sdk/package.json"
have_ts=""
if [[ -f "$pkg_json" ]]; then
  have_ts="$(node -e 'console.log(require(process.argv[1]).version)' "$pkg_json" 2>/dev/null || true)"
fi
if [[ "$have_ts" != "$TS_SDK_VERSION" ]]; then
  log "installing @anthropic-ai/claude-agent-sdk@$TS_SDK_VERSION into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  # A package.json of its own keeps npm from walking up to some unrelated project.
  [[ -f "$NODE_PREFIX/package.json" ]] || echo '{"name":"ccbridge-bench-peers","private":true}' >"$NODE_PREFIX/package.json"
  npm install --prefix "$NODE_PREFIX" --omit=optional --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-agent-sdk@$TS_SDK_VERSION" >&2
else
  log "@anthropic-ai/claude-agent-sdk $TS_SDK_VERSION already in $NODE_PREFIX"
fi
ws_json="$NODE_PREFIX/node_modules/ws/package.json"
have_ws=""
[[ -f "$ws_json" ]] && have_ws="$(node -e 'console.log(require(process.argv[1]).version)' "$ws_json" 2>/dev/null || true)"
if [[ "$have_ws" != "$WS_VERSION" ]]; then
  log "installing ws@$WS_VERSION into $NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error "ws@$WS_VERSION" >&2
fi

echo "venv=$VENV"
echo "node=$NODE_PREFIX"
