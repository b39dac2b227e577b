#!/usr/bin/env bash
# xterm.js for the cc-control console (lib/server/profiles/cc_control/console/), which the build
# embeds into the server: fetches the pinned npm packages once (npm pack) into a cache, checks
# each tarball against its pinned sha512 integrity (from the npm registry's metadata), and
# extracts the files the console serves.
#   scripts/fetch-xterm.sh                 fetch if needed; print the cache folder
#   scripts/fetch-xterm.sh --offline DIR   no network: verify the cached tarballs and extract
#                                          into DIR (what CMake runs at configure time)
# Cache: ${CCB_CACHE_DIR:-~/.cache/ccbridge}/npm. scripts/setup.sh runs this.
set -euo pipefail

XTERM_VERSION=6.0.0
XTERM_INTEGRITY=sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==
FIT_VERSION=0.11.0
FIT_INTEGRITY=sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g==

CACHE="${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}/npm"
offline=0
out=""
if [[ "${1:-}" == "--offline" ]]; then
  offline=1
  out="${2:?usage: fetch-xterm.sh --offline DIR}"
fi

# Whether file $1 has npm integrity $2 (sha512-<base64>), compared in hex with coreutils only.
matches() { [[ -f "$1" && "$(sha512sum "$1" | cut -d' ' -f1)" == "$(echo "${2#sha512-}" | base64 -d | od -An -tx1 -v | tr -d ' \n')" ]]; }

# tarball NAME VERSION INTEGRITY: the path of the verified tarball of npm package NAME@VERSION.
tarball() {
  local name=$1 version=$2 want=$3
  local file="$CACHE/$(echo "${name#@}" | tr / -)-$version.tgz"
  if ! matches "$file" "$want"; then
    if ((offline)); then
      echo "fetch-xterm: $name@$version is not in $CACHE (or does not match its pinned integrity); run scripts/fetch-xterm.sh once with network (scripts/setup.sh does)" >&2
      return 1
    fi
    echo "fetch-xterm: fetching $name@$version into $CACHE" >&2
    mkdir -p "$CACHE"
    rm -f "$file"
    (cd "$CACHE" && npm pack --silent --loglevel=error "$name@$version" >/dev/null)
    if ! matches "$file" "$want"; then
      rm -f "$file"
      echo "fetch-xterm: the registry's $name@$version does not match its pinned integrity $want; refusing it" >&2
      return 1
    fi
  fi
  echo "$file"
}

xterm=$(tarball @xterm/xterm "$XTERM_VERSION" "$XTERM_INTEGRITY")
fit=$(tarball @xterm/addon-fit "$FIT_VERSION" "$FIT_INTEGRITY")
if ((!offline)); then
  echo "$CACHE"
  exit 0
fi

# The files the console serves, flat in DIR (only rewritten when they differ, so the embedded
# sources are not rebuilt at every configure).
put() {  # put TARBALL MEMBER NAME
  local tmp
  tmp=$(mktemp)
  tar -xzOf "$1" "package/$2" >"$tmp"
  if cmp -s "$tmp" "$out/$3"; then rm -f "$tmp"; else mv "$tmp" "$out/$3"; fi
}
mkdir -p "$out"
put "$xterm" lib/xterm.js xterm.js
put "$xterm" css/xterm.css xterm.css
put "$xterm" LICENSE xterm-LICENSE.txt
put "$fit" lib/addon-fit.js addon-fit.js
put "$fit" LICENSE addon-fit-LICENSE.txt
echo "xterm $XTERM_VERSION $XTERM_INTEGRITY" >"$out/VERSIONS.tmp"
echo "addon-fit $FIT_VERSION $FIT_INTEGRITY" >>"$out/VERSIONS.tmp"
if cmp -s "$out/VERSIONS.tmp" "$out/VERSIONS"; then rm -f "$out/VERSIONS.tmp"; else mv "$out/VERSIONS.tmp" "$out/VERSIONS"; fi
echo "$out"
