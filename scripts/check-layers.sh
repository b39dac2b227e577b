#!/usr/bin/env bash
# Layer order = include order (docs/ARCHITECTURE.md, "Layers"). Reads every #include in lib/ and
# include/ccbridge/ and fails, naming file and line, on an arrow up the stack:
#   base     (lib/base, <ccbridge/error.hpp>, <ccbridge/exit_status.hpp>)  includes base only
#   process, protocol                 include base, process and protocol only (side by side:
#                                     process reads Options, a plain value type of protocol)
#   core                              includes nothing from server or app
#   server                            includes nothing from app
# and that no source file sets an Asio or websocketpp macro (see the end).
# Public headers count in the layer that implements them (table below); a public header not in
# the table counts as core, so a new one is checked conservatively until it is placed.
#   scripts/check-layers.sh [ROOT]    (ROOT defaults to the repository)
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"

files=$(find lib include/ccbridge -type f \( -name '*.hpp' -o -name '*.h' -o -name '*.cpp' \) | sort)
# shellcheck disable=SC2086  # $files: paths without spaces, one argument each
awk '
  BEGIN {
    rank["base"] = 0; rank["process"] = 1; rank["protocol"] = 1
    rank["core"] = 2; rank["server"] = 3; rank["app"] = 4
    pub["error.hpp"] = "base"; pub["exit_status.hpp"] = "base"
    pub["export.h"] = "base"; pub["version.h"] = "base"
    pub["options.hpp"] = "protocol"; pub["json.hpp"] = "protocol"; pub["message.hpp"] = "protocol"
    pub["detail/json_events.hpp"] = "protocol"
    pub["server.hpp"] = "server"
    priv["detail/json.hpp"] = "protocol"   # RapidJSON set-up, used by protocol and above
    bad = 0
  }
  # The layer of a file, from its path (lib/<layer>/..., include/ccbridge/<name>).
  function layer_of_file(path,   p) {
    if (path ~ /^include\/ccbridge\//) return public_layer(substr(path, length("include/ccbridge/") + 1))
    p = substr(path, length("lib/") + 1)
    return layer_of_lib(p, "")
  }
  function public_layer(name) { return (name in pub) ? pub[name] : "core" }
  # The layer of a path relative to lib/ ("core/stream_state.hpp"); a bare name is in `own`.
  function layer_of_lib(p, own,   top) {
    if (p in priv) return priv[p]
    if (index(p, "/") == 0) return own
    top = substr(p, 1, index(p, "/") - 1)
    if (top in rank) return top
    return "core"   # lib/detail and anything unplaced
  }
  FNR == 1 { mine = layer_of_file(FILENAME) }
  /^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    target = substr(line, 2)
    sub(/[>"].*$/, "", target)
    quoted = substr(line, 1, 1) == "\""
    if (quoted) {
      theirs = layer_of_lib(target, mine)
    } else if (target ~ /^ccbridge\//) {
      theirs = public_layer(substr(target, length("ccbridge/") + 1))
    } else {
      next   # system and third-party headers
    }
    if (!allowed(mine, theirs)) {
      printf "%s:%d: %s must not include %s (%s layer): the layers are base < process, protocol < core < server < app\n", \
             FILENAME, FNR, mine, target, theirs
      bad = 1
    }
  }
  function allowed(from, to) { return rank[to] <= rank[from] }
  END { exit bad }
' $files || { echo "check-layers: include order broken (see docs/ARCHITECTURE.md, Layers)" >&2; exit 1; }

# One Asio configuration (docs/ARCHITECTURE.md): Asio's and websocketpp's settings come only from
# the ccb_asio and ccb_websocketpp targets, and lib/base/asio_config.hpp makes an object built with
# other ones fail to link. It sees the command line, so a source file that set one itself before
# including Asio would get past it: no source may.
if grep -rnE '^[[:space:]]*#[[:space:]]*(define|undef)[[:space:]]+(ASIO_|_WEBSOCKETPP_)' \
     lib include capi bindings tests examples --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.c'; then
  echo "check-layers: Asio settings belong to ccb_asio (cmake/ccbridgeDependencies.cmake), not to a source file" >&2
  exit 1
fi
echo "check-layers: ok ($(echo "$files" | wc -l) files)" >&2
