#!/usr/bin/env bash
# claude-cli.sh: prints the path of the pinned Claude Code CLI binary, installing it first if needed.
#
#   CCB_CLAUDE_CODE_VERSION  version of @anthropic-ai/claude-code to use (default 2.1.330)
#   CCB_CACHE_DIR            cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge)
#
# The package is installed with npm into <cache root>/claude-code-<version>; npm's output goes to
# stderr, only the binary's path goes to stdout. Parallel callers serialise on a flock.
set -euo pipefail

ver=${CCB_CLAUDE_CODE_VERSION:-2.1.330}
root=${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}
dir=$root/claude-code-$ver

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "claude-cli.sh: unsupported machine $(uname -m) (need x86_64 or aarch64)" >&2; exit 1 ;;
esac
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "claude-cli.sh: unsupported OS $(uname -s)" >&2; exit 1 ;;
esac

find_bin() {
  local native=$dir/node_modules/@anthropic-ai/claude-code-$os-$arch/claude
  local linked=$dir/node_modules/@anthropic-ai/claude-code/bin/claude.exe
  # A musl host would get claude-code-linux-<arch>-musl: accept it too.
  local musl=$dir/node_modules/@anthropic-ai/claude-code-$os-$arch-musl/claude
  local b
  for b in "$native" "$musl" "$linked"; do
    # bin/claude.exe is a small stub when the postinstall did not run: require a real binary.
    if [[ -f $b && -x $b && $(stat -c %s "$b" 2>/dev/null || stat -f %z "$b") -gt 1000000 ]]; then
      printf '%s\n' "$b"
      return 0
    fi
  done
  return 1
}

# Fast path: already installed.
if find_bin; then exit 0; fi

if ! command -v npm >/dev/null 2>&1; then
  echo "claude-cli.sh: npm not found; it is needed once to install @anthropic-ai/claude-code@$ver into $dir" >&2
  exit 1
fi
mkdir -p "$root"

install() {
  # Re-check under the lock: another caller may have finished the install meanwhile.
  if find_bin >/dev/null; then return 0; fi
  echo "claude-cli.sh: installing @anthropic-ai/claude-code@$ver into $dir ..." >&2
  mkdir -p "$dir"
  if ! npm install --no-audit --no-fund --save-exact --loglevel=error --prefix "$dir" \
      "@anthropic-ai/claude-code@$ver" 1>&2; then
    echo "claude-cli.sh: npm install of @anthropic-ai/claude-code@$ver failed (see above)" >&2
    return 1
  fi
}

if command -v flock >/dev/null 2>&1; then
  exec 9> "$root/.claude-code-$ver.lock"
  flock 9
  install
  flock -u 9
else
  install
fi

if find_bin; then exit 0; fi
echo "claude-cli.sh: installed @anthropic-ai/claude-code@$ver but found no binary for $os-$arch under $dir/node_modules/@anthropic-ai" >&2
exit 1
