#!/usr/bin/env bash
# Installs (once) playwright-core, pinned, from the npm registry into a cache folder, for the
# browser tests that drive Debian's chromium (installed by scripts/setup.sh --tests). Prints the
# node_modules directory. Cache: ${CCB_CACHE_DIR:-~/.cache/ccbridge}/browser-node.
set -euo pipefail
VERSION=1.56.1
CACHE="${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}"
PREFIX="$CACHE/browser-node"
pkg="$PREFIX/node_modules/playwright-core/package.json"
have=""
[[ -f "$pkg" ]] && have="$(node -e 'console.log(require(process.argv[1]).version)' "$pkg" 2>/dev/null || true)"
if [[ "$have" != "$VERSION" ]]; then
  echo "browser-tools: installing playwright-core@$VERSION into $PREFIX" >&2
  mkdir -p "$PREFIX"
  [[ -f "$PREFIX/package.json" ]] || echo '{"name":"ccbridge-browser-tests","private":true}' >"$PREFIX/package.json"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "playwright-core@$VERSION" >&2
fi
echo "$PREFIX/node_modules"
