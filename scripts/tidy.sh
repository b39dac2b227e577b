#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) over lib/ and fails on a finding that is not in
# tests/tidy-baseline.txt, printing it. The baseline lists today's findings by file, check and
# message, without line numbers (they move); a finding fixed since is only reported, never a failure.
#   scripts/tidy.sh [BUILD_DIR]            check (BUILD_DIR defaults to build/, configured if needed)
#   scripts/tidy.sh --update [BUILD_DIR]   rewrite the baseline from what clang-tidy finds now
# Environment: TIDY_JOBS (default: nproc), TIDY_TIMEOUT (seconds per file, default 600),
# CLANG_TIDY (default: clang-tidy-14, else clang-tidy), TIDY_CACHE (default
# ~/.cache/ccbridge/tidy; empty: no cache).
# The cache keeps each file's findings under a hash of what clang-tidy sees: its version, the
# .clang-tidy file, the compile command and the preprocessed translation unit (every header
# included), with the checkout's path taken out of all of them, so a clean clone elsewhere hits it.
# A file whose analysis failed is never cached.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
update=0
if [[ "${1:-}" == "--update" ]]; then update=1; shift; fi
build=${1:-build}
baseline=tests/tidy-baseline.txt
jobs=${TIDY_JOBS:-$(nproc)}
per_file_timeout=${TIDY_TIMEOUT:-600}

tidy=${CLANG_TIDY:-}
if [[ -z "$tidy" ]]; then
  for t in clang-tidy-14 clang-tidy; do command -v "$t" >/dev/null && { tidy=$t; break; }; done
fi
[[ -n "$tidy" ]] || { echo "tidy: clang-tidy not found (scripts/setup.sh --tests installs clang-tidy-14)" >&2; exit 2; }

# compile_commands.json: (re)configure the build directory with it; its other settings are kept.
if [[ ! -f "$build/compile_commands.json" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi
# The sources of lib/ that the build compiles (a file outside the build is not checked).
mapfile -t files < <(python3 - "$build/compile_commands.json" "$root/lib/" <<'EOF'
import json, os, sys
entries = json.load(open(sys.argv[1]))
print("\n".join(sorted({os.path.normpath(os.path.join(e["directory"], e["file"]))
                        for e in entries
                        if os.path.normpath(os.path.join(e["directory"], e["file"])).startswith(sys.argv[2])})))
EOF
)
((${#files[@]})) || { echo "tidy: no lib/ sources in $build/compile_commands.json" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
cache=${TIDY_CACHE-$HOME/.cache/ccbridge/tidy}
[[ -z "$cache" ]] || mkdir -p "$cache"
# Per file: the command that preprocesses it (the compile command with -E -P instead of -c -o),
# and the text its cache key starts from (tool version, config, that command; the root taken out).
clangxx=clang++-14
command -v $clangxx >/dev/null || clangxx=clang++
python3 - "$build/compile_commands.json" "$root" "$out/pp" "$("$tidy" --version | tr '\n' ' ')$($clangxx --version | head -1)" "$clangxx" <<'EOF'
import json, os, shlex, sys
entries, root, dest, version = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
clang = sys.argv[5]
os.makedirs(dest, exist_ok=True)
config = open(os.path.join(root, ".clang-tidy")).read()
for e in entries:
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    argv = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    pp, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        pp.append("-E" if a == "-c" else a)
    # clang's preprocessor, as clang-tidy's own view of the file (__clang__, its builtins).
    pp[0:1] = [clang, "-P", "-Wno-unknown-warning-option"]
    name = f.replace("/", "_")
    with open(os.path.join(dest, name + ".sh"), "w") as o:
        o.write("cd %s && %s\n" % (shlex.quote(e["directory"]), shlex.join(pp)))
    with open(os.path.join(dest, name + ".key"), "w") as o:
        o.write("\n".join([version, config, shlex.join(pp)]).replace(root, "@ROOT@") + "\n")
EOF
echo "tidy: $tidy on ${#files[@]} files of lib/, $jobs at a time${cache:+ (cache: $cache)}" >&2
# One clang-tidy per file; each writes its own output file, so parallel runs do not interleave.
# A file that cannot be analysed (compile error, timeout) fails the run.
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
  f=$1; n=$(echo "$f" | tr / _); o=$2/$n.txt; root=$6; cache=$7; key=
  if [ -n "$cache" ]; then
    key=$( { cat "$2/pp/$n.key"; sh "$2/pp/$n.sh" 2>/dev/null | sed "s|$root|@ROOT@|g"; } | sha256sum | cut -c1-40)
    if [ -f "$cache/$key" ]; then sed "s|@ROOT@|$root|g" "$cache/$key" >"$o"; exit 0; fi
  fi
  timeout "$3" "$4" -p "$5" --quiet --extra-arg=-Wno-unknown-warning-option "$f" >"$o" 2>"$o.err"
  rc=$?
  if [ $rc -eq 124 ]; then echo "tidy: $f: timed out after $3 s" >&2; echo timeout >"$o.fail"; fi
  if grep -q ": error: " "$o"; then echo "tidy: $f: clang-tidy could not analyse it:" >&2; grep ": error: " "$o" | head -5 >&2; echo error >"$o.fail"; fi
  if [ -n "$key" ] && [ ! -f "$o.fail" ]; then
    sed "s|$root|@ROOT@|g" "$o" >"$cache/$key.tmp.$$" && mv "$cache/$key.tmp.$$" "$cache/$key"
  fi
  exit 0' _ {} "$out" "$per_file_timeout" "$tidy" "$build" "$root" "$cache"
elapsed=$((SECONDS - start))

# "path:line:col: warning: message [check]" -> "file<TAB>check<TAB>message", each place once
# (a header's finding is reported by every file that includes it).
cat "$out"/*.txt | python3 -c '
import re, sys
root = sys.argv[1] + "/"
seen, rows = set(), []
pattern = re.compile(r"^(/[^:]+):(\d+):(\d+): warning: (.*) \[([\w.,-]+)\]$")
for line in sys.stdin:
    m = pattern.match(line.rstrip("\n"))
    if not m or not m.group(1).startswith(root):
        continue
    path, ln, col, msg, checks = m.groups()
    key = (path, ln, col, checks)
    if key in seen:
        continue
    seen.add(key)
    rows.append(f"{path[len(root):]}\t{checks}\t{msg}")
print("\n".join(sorted(rows)))
' "$root" >"$out/findings"

if ls "$out"/*.fail >/dev/null 2>&1; then
  echo "tidy: FAILED: $(ls "$out"/*.fail | wc -l) file(s) could not be analysed (see above)" >&2
  exit 1
fi
found=$(grep -c . "$out/findings" || true)
if ((update)); then
  {
    echo "# clang-tidy findings in lib/ accepted as of $(git rev-parse --short HEAD 2>/dev/null || echo '?'):"
    echo "# file<TAB>check<TAB>message, one line per finding. Written by scripts/tidy.sh --update;"
    echo "# fix a finding and drop its line, never add one by hand to silence a new finding."
    cat "$out/findings"
  } >"$baseline"
  echo "tidy: wrote $baseline ($found findings, ${elapsed} s)" >&2
  exit 0
fi

# A finding is new when it occurs more often than the baseline lists it (a multiset difference).
rc=0
python3 - "$baseline" "$out/findings" <<'EOF' || rc=$?
import collections, sys
def load(path):
    try:
        with open(path) as f:
            return collections.Counter(l.rstrip("\n") for l in f if l.strip() and not l.startswith("#"))
    except FileNotFoundError:
        return collections.Counter()
base, now = load(sys.argv[1]), load(sys.argv[2])
new, gone = now - base, base - now
for row in sorted(gone.elements()):
    print("tidy: fixed (drop it from the baseline with scripts/tidy.sh --update): " + row.replace("\t", "  "),
          file=sys.stderr)
for row in sorted(new.elements()):
    print("tidy: NEW: " + row.replace("\t", "  "), file=sys.stderr)
sys.exit(1 if new else 0)
EOF
if ((rc)); then
  echo "tidy: FAILED: new clang-tidy findings (above; run $tidy -p $build on the file for the line)." >&2
  echo "tidy: fix them, or, for a false positive, add // NOLINT(check) with a reason on that line." >&2
  exit 1
fi
echo "tidy: $found findings, none new (${elapsed} s)" >&2
