#!/usr/bin/env bash
# Installs what ccbridge needs on a Debian machine, skipping what is already there.
#   scripts/setup.sh            build dependencies (Debian packages, and the pinned xterm.js the
#                               server embeds: scripts/fetch-xterm.sh, with npm, into a cache)
#   scripts/setup.sh --tests    also test dependencies: the pinned Claude Code CLI (npm, into a cache)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--tests" ]] && want_tests=1

packages=(build-essential cmake ninja-build pkg-config libasio-dev rapidjson-dev libfmt-dev doctest-dev
          libwebsocketpp-dev libsqlite3-dev libssl-dev pybind11-dev python3 python3-dev python3-venv iproute2 util-linux
          nodejs npm)
# npm fetches xterm.js for the cc-control console (scripts/fetch-xterm.sh); the build itself is offline.
# Tests: Node for the JS clients and the pinned CLI, Chromium for the browser test, clang and
# libFuzzer's runtime for the fuzz targets (tests/fuzz), clang-tidy for scripts/tidy.sh and
# clang-format for the layout in .clang-format.
# ccache: the suite builds the tree three times (plain, ASan, TSan); scripts/test uses it.
if ((want_tests)); then packages+=(chromium clang libclang-rt-14-dev clang-tidy-14 clang-format-14 ccache); fi
# Python 2.7 for the Autobahn|Testsuite (tests/server/autobahn/run.sh), where Debian still packages it
# (with pip: Debian 10); Debian 12 does not, and scripts/test then says the Autobahn run is skipped.
if ((want_tests)) && apt-cache policy python-pip 2>/dev/null | grep -q 'Candidate: [0-9]'; then packages+=(python2.7 python-pip); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from outside Debian (nvm, nodesource): accept any working ones.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

scripts/fetch-xterm.sh >/dev/null
if ((want_tests)); then
  tests/support/claude-cli.sh >/dev/null
  tests/support/test-venv.sh >/dev/null
  tests/support/browser-tools.sh >/dev/null
fi
