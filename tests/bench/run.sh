#!/usr/bin/env bash
# The one command that produces ccbridge's benchmark figures, side by side with the official
# Claude Agent SDKs (Python and TypeScript) driving the same fast stand-in CLI (ccb_fake_cli).
#
#   tests/bench/run.sh [--quick | --smoke] [--no-build] [--ccbridge-only] [--rounds R] [--messages N] [--out FILE]
#
#   --quick       N = 20000 query messages and 2 rounds (default: N = 200000, 5 rounds)
#   --smoke       one round at the smallest sizes (N = 2000, a 2 MB corpus, 3 opens, 100 controls)
#                 that runs every row, results in <build>/bench-smoke; for CI, not for figures
#   --no-build    use the binaries already in the build dir
#   --ccbridge-only  only ccbridge's rows (and the raw reader), no peers: for tests/bench/ab.sh, e.g.
#                 tests/bench/ab.sh OLD NEW -- tests/bench/run.sh --ccbridge-only (ab.sh gives --rounds 1
#                 and --out; each run writes its msgs/s per row beside its report, <report>.json)
#   --rounds R    override the number of rounds
#   --messages N  override N
#   --out FILE    the report (default: docs/bench-results/<date>-core-<commit>.md; for --quick and
#                 --smoke <build>/bench[-smoke]/report.md): provenance, the table, every run's values
#
# Steps: build ccb_bench + ccb_fake_cli (RelWithDebInfo, -DCCB_BUILD_BENCH=ON), install the pinned
# peers (tests/bench/peers/setup.sh, cached outside the repo), generate a >= 100 MB corpus from the
# CLI stdout transcripts in tests/fixtures/transcripts/, build the fake CLI's end-to-end script, then
# run R interleaved rounds of
#     parse: ccbridge, Python SDK          query: ccbridge (lazy and equal work), Python SDK, TypeScript SDK
#     session open, control round trip and one turn's stream: ccbridge, Python SDK (ClaudeSDKClient)
# and print a Markdown table (also written to <build>/bench/results.md; raw runs in raw.jsonl).
# Equal work: the peers' harnesses read every message's type, assistant text, session id and usage;
# ccbridge does the same in its "equal work" rows (ccb_bench --read), which the ratios compare with,
# and beside them in its "lazy" rows reads only the type. Every equal-work run must report the
# totals the workload implies (messages, text characters, output tokens, session ids).
# Exits non-zero if a run failed or an equal-work check did not hold.
# If ccb_bench cannot be built, its rows are skipped ("ccbridge: not built") and the peers still run.
#
# Environment: CCB_BENCH_BUILD_DIR (default <repo>/build), CCB_CACHE_DIR (see peers/setup.sh),
# CCB_BENCH_TIMEOUT (seconds per single run, default 900).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
export BENCH_LOAD_START
CMDLINE="tests/bench/run.sh${*:+ $*}"
QUICK=0
SMOKE=0
BUILD_IT=1
CCB_ONLY=0
ROUNDS=""
MESSAGES=""
REPORT=""
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --smoke) SMOKE=1 ;;
    --no-build) BUILD_IT=0 ;;
    --ccbridge-only) CCB_ONLY=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --messages) MESSAGES="$2"; shift ;;
    --out) REPORT="$2"; shift ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
# tests/bench/ab.sh asks what to build at each commit, then runs this with CCB_BENCH_SUT_DIR set.
if [[ "${CCB_BENCH_LIST_TARGETS:-}" == 1 ]]; then echo ccb_bench; exit 0; fi
CORPUS_MB=100     # the parse corpus: at least this many MiB
OPENS=20          # session opens per run (each run reports the median)
CONTROLS=2000     # sequential control round trips per run
if ((SMOKE)); then
  : "${ROUNDS:=1}" "${MESSAGES:=2000}"
  CORPUS_MB=2 OPENS=3 CONTROLS=100
elif ((QUICK)); then : "${ROUNDS:=2}" "${MESSAGES:=20000}"; else : "${ROUNDS:=5}" "${MESSAGES:=200000}"; fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$MESSAGES" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad --rounds/--messages" >&2; exit 2; }

BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build}"
mkdir -p "$BUILD" && BUILD="$(cd "$BUILD" && pwd)"
OUT="$BUILD/bench"
((SMOKE)) && OUT="$BUILD/bench-smoke"
TIMEOUT="${CCB_BENCH_TIMEOUT:-900}"
# The report with its provenance and every round's values: docs/bench-results/ for a real run (the
# figures of docs/PERFORMANCE.md come from there), beside the raw runs for a smoke or a quick run.
if [[ -z "$REPORT" ]]; then
  if ((SMOKE || QUICK)); then REPORT="$OUT/report.md"
  else REPORT="$ROOT/docs/bench-results/$(date -u +%F)-core-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown).md"; fi
fi
# What is measured: this tree's ccb_bench, or (ab.sh) the one built at the commit under test; the
# stand-in CLI and the harness are always this tree's.
CCB_BENCH="${CCB_BENCH_SUT_DIR:-$BUILD}/tests/bench/ccb_bench"
FAKE_CLI="$BUILD/tests/ccb_fake_cli"
PEERS="$ROOT/tests/bench/peers"
T_START=$(date +%s)
log() { echo "bench: $*" >&2; }

# --- 1. build --------------------------------------------------------------------------------------
# Same configuration as scripts/build.sh (RelWithDebInfo, Ninja) plus the benchmarks, but only the two
# targets the benchmark needs are built, so an unrelated target that does not compile cannot stop it.
CCB_STATUS="ok"
if ((BUILD_IT)); then
  log "configuring $BUILD (RelWithDebInfo, CCB_BUILD_BENCH=ON)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON -DCCB_REQUIRE_TEST_TOOLS=OFF >/dev/null
  log "building ccb_fake_cli"
  ninja -C "$BUILD" ccb_fake_cli >&2
  log "building ccb_bench"
  if ! ninja -C "$BUILD" ccb_bench >"$BUILD/bench-build.log" 2>&1; then
    tail -n 20 "$BUILD/bench-build.log" >&2
    log "ccb_bench failed to build (log: $BUILD/bench-build.log)"
    CCB_STATUS="not built (build failed, see $BUILD/bench-build.log)"
  fi
fi
[[ -x "$FAKE_CLI" ]] || { log "missing $FAKE_CLI"; exit 1; }
if [[ "$CCB_STATUS" == ok && ! -x "$CCB_BENCH" ]]; then CCB_STATUS="not built"; fi
if [[ "$CCB_STATUS" != ok ]]; then echo "ccbridge: $CCB_STATUS" >&2; fi
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)"
CXX_PATH="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)"
CXX_VERSION="$("${CXX_PATH:-c++}" --version 2>/dev/null | head -n 1 || echo unknown)"

# --- 2. peers ----------------------------------------------------------------------------------------
SETUP_OUT="$(bash "$PEERS/setup.sh")"
VENV="$(sed -n 's/^venv=//p' <<<"$SETUP_OUT")"
export CCB_BENCH_NODE_PREFIX="$(sed -n 's/^node=//p' <<<"$SETUP_OUT")"
PY="$VENV/bin/python"

# --- 3. corpus and end-to-end script ------------------------------------------------------------------
mkdir -p "$OUT"
log "generating corpus and fake-CLI script in $OUT"
"$PY" - "$ROOT/tests/fixtures/transcripts" "$OUT" "$MESSAGES" "$CORPUS_MB" <<'PYEOF'
import glob, json, os, sys

src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
TARGET = int(sys.argv[4]) * 1024 * 1024          # e.g. >= 100 MB (104,857,600 bytes)
SKIP = (".stdin.jsonl", ".timeline.jsonl", ".sdk-messages.jsonl", ".cli-stdin.jsonl")
files = [f for f in sorted(glob.glob(os.path.join(src, "*.jsonl"))) if not f.endswith(SKIP)]

# One pass over every CLI stdout transcript, keeping the lines that are JSON objects (a text-mode
# transcript holds plain text). Lines are kept byte for byte.
block, kept, dropped = [], 0, 0
for f in files:
    with open(f, "rb") as fh:
        for raw in fh.read().split(b"\n"):
            line = raw.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError:
                ok = False
            if ok:
                block.append(line + b"\n"); kept += 1
            else:
                dropped += 1
block = b"".join(block)
copies = -(-TARGET // len(block))
corpus = os.path.join(out, "corpus.jsonl")
tmp = corpus + ".tmp"
with open(tmp, "wb") as fh:
    for _ in range(copies):
        fh.write(block)
os.replace(tmp, corpus)

# End-to-end line: a real assistant text message from a transcript, its text padded so the line
# is 1350 bytes (without its newline). The result line comes from the same transcript.
def first(path, pred):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and pred(d):
                return d
    return None

def is_text_assistant(d):
    c = d.get("type") == "assistant" and d.get("message", {}).get("content")
    return isinstance(c, list) and len(c) == 1 and c[0].get("type") == "text"

pick = None
for f in files:
    a = first(f, is_text_assistant)
    r = first(f, lambda d: d.get("type") == "result" and d.get("subtype") == "success")
    if a and r:
        pick = (f, a, r); break
if pick is None:
    sys.exit("no transcript has both a text assistant message and a success result")
f, a, r = pick
dump = lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":"))
FILLER = ("The quick brown fox jumps over the lazy dog while the benchmark keeps counting lines. ")
base = a["message"]["content"][0]["text"] + " "
a["message"]["content"][0]["text"] = base
need = 1350 - len(dump(a).encode())
pad = (FILLER * (need // len(FILLER) + 1))[:max(need, 0)]
a["message"]["content"][0]["text"] = base + pad
line, result = dump(a), dump(r)
assert abs(len(line.encode()) - 1350) <= 10, len(line.encode())
# What every equal-work reader must report for the turn (ccb_bench --read, peers/py_reading.py,
# peers/ts_query.mjs). ASCII text, so that bytes (C++), code points (Python) and UTF-16 units (JS) agree.
text = a["message"]["content"][0]["text"]
assert text.isascii(), "the end-to-end text must be ASCII for the equal-work check"
expected_read = {"messages": n + 1, "assistant": n, "results": 1, "text_chars": n * len(text),
                 "output_tokens": n * a["message"].get("usage", {}).get("output_tokens", 0)
                                  + r.get("usage", {}).get("output_tokens", 0),
                 "session_ids": n * bool(a.get("session_id")) + bool(r.get("session_id"))}
for s in (line, result):
    assert "\n" not in s and "{{" not in s
script = f"wait_user\nrepeat_line {n} {line}\nemit {result}\nexit 0\n"
with open(os.path.join(out, "e2e_script.txt"), "w", encoding="utf-8") as fh:
    fh.write(script)
# The same turn inside a session: the CLI stays up until stdin closes.
with open(os.path.join(out, "session_script.txt"), "w", encoding="utf-8") as fh:
    fh.write(f"wait_user\nrepeat_line {n} {line}\nemit {result}\nwait_eof\n")
meta = {"corpus_bytes": copies * len(block), "corpus_lines": copies * kept, "corpus_copies": copies,
        "corpus_files": len(files), "corpus_lines_per_copy": kept, "corpus_dropped_lines_per_copy": dropped,
        "e2e_messages": n, "e2e_line_bytes": len(line.encode()), "e2e_source": os.path.basename(f),
        "e2e_expected": n + 1, "e2e_stdout_bytes": n * (len(line.encode()) + 1) + len(result.encode()) + 1,
        "e2e_read": expected_read}
with open(os.path.join(out, "meta.json"), "w") as fh:
    json.dump(meta, fh)
print(json.dumps(meta), file=sys.stderr)
PYEOF
CORPUS="$OUT/corpus.jsonl"
E2E_EXPECTED="$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["e2e_expected"])' "$OUT/meta.json")"

# --- 4. interleaved rounds ----------------------------------------------------------------------------
RAW="$OUT/raw.jsonl"
: >"$RAW"
FAILS=0
# run_one ROUND TASK IMPL -- command...   (appends the command's JSON line, tagged, to raw.jsonl)
run_one() {
  local round="$1" task="$2" impl="$3"; shift 4
  local line rc=0 t0 t1
  t0=$(date +%s%N)
  line="$(timeout "$TIMEOUT" "$@" 2>"$OUT/last-stderr.txt" | tail -n 1)" || rc=$?
  t1=$(date +%s%N)
  if ((rc != 0)) || [[ "$line" != "{"* ]]; then
    FAILS=$((FAILS + 1))
    log "round $round: $impl $task FAILED (exit $rc); stderr tail:"
    tail -n 5 "$OUT/last-stderr.txt" >&2 || true
    line='{"failed":true,"exit":'"$rc"'}'
  fi
  printf '{"round":%s,"task":"%s","key":"%s","wall_ms":%s,"result":%s}\n' \
    "$round" "$task" "$impl" "$(((t1 - t0) / 1000000))" "$line" >>"$RAW"
  log "round $round: $impl $task: $line"
}

E2E_SCRIPT="$(cat "$OUT/e2e_script.txt")"
SESSION_SCRIPT="$(cat "$OUT/session_script.txt")"
for ((r = 1; r <= ROUNDS; r++)); do
  if [[ "$CCB_STATUS" == ok ]]; then
    run_one "$r" parse ccbridge -- "$CCB_BENCH" parse "$CORPUS"
    run_one "$r" parse ccbridge_dom -- "$CCB_BENCH" parse-dom "$CORPUS"
  fi
  ((CCB_ONLY)) || run_one "$r" parse python -- "$PY" "$PEERS/py_parse.py" "$CORPUS"
  if [[ "$CCB_STATUS" == ok ]]; then
    CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" run_one "$r" query ccbridge -- \
      "$CCB_BENCH" query --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
    CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" run_one "$r" query ccbridge_read -- \
      "$CCB_BENCH" query --read --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
    CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" run_one "$r" query raw -- \
      "$CCB_BENCH" query-raw --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
  fi
  if ((!CCB_ONLY)); then
    CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" run_one "$r" query python -- \
      "$PY" "$PEERS/py_query.py" --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
    CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" run_one "$r" query typescript -- \
      node "$PEERS/ts_query.mjs" --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
  fi
  if [[ "$CCB_STATUS" == ok ]]; then
    CCB_FAKE_SCRIPT_TEXT=serve_turns run_one "$r" session-open ccbridge -- \
      "$CCB_BENCH" session-open --cli "$FAKE_CLI" --requests "$OPENS"
    CCB_FAKE_SCRIPT_TEXT=serve_turns run_one "$r" session-control ccbridge -- \
      "$CCB_BENCH" session-control --cli "$FAKE_CLI" --requests "$CONTROLS"
    CCB_FAKE_SCRIPT_TEXT="$SESSION_SCRIPT" run_one "$r" session ccbridge -- \
      "$CCB_BENCH" session-stream --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
    CCB_FAKE_SCRIPT_TEXT="$SESSION_SCRIPT" run_one "$r" session ccbridge_read -- \
      "$CCB_BENCH" session-stream --read --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
  fi
  ((CCB_ONLY)) && continue
  CCB_FAKE_SCRIPT_TEXT=serve_turns run_one "$r" session-open python -- \
    "$PY" "$PEERS/py_session.py" open --cli "$FAKE_CLI" --requests "$OPENS"
  CCB_FAKE_SCRIPT_TEXT=serve_turns run_one "$r" session-control python -- \
    "$PY" "$PEERS/py_session.py" control --cli "$FAKE_CLI" --requests "$CONTROLS"
  CCB_FAKE_SCRIPT_TEXT="$SESSION_SCRIPT" run_one "$r" session python -- \
    "$PY" "$PEERS/py_session.py" stream --cli "$FAKE_CLI" --messages "$E2E_EXPECTED"
done

# --- 5. table -------------------------------------------------------------------------------------------
CPU_MODEL="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
PY_SDK_V="$("$PY" -c 'import importlib.metadata as m;print(m.version("claude-agent-sdk"))' 2>/dev/null || echo unknown)"
TS_SDK_V="$(node -e 'console.log(require(process.argv[1]).version)' \
  "$CCB_BENCH_NODE_PREFIX/node_modules/@anthropic-ai/claude-agent-sdk/package.json" 2>/dev/null || echo unknown)"
export BENCH_CMDLINE="$CMDLINE" BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
  BENCH_CPU="${CPU_MODEL:-unknown} ($(nproc) CPUs)" BENCH_KERNEL="$(uname -sr)" \
  BENCH_PY_SDK="$PY_SDK_V" BENCH_TS_SDK="$TS_SDK_V" BENCH_NODE="$(node --version)" \
  BENCH_PYTHON="$("$PY" -c 'import sys;print(sys.version.split()[0])')" \
  BENCH_CXX="$CXX_VERSION" BENCH_BUILD_TYPE="${BUILD_TYPE:-unknown}" BENCH_CCB_STATUS="$CCB_STATUS" \
  BENCH_ROUNDS="$ROUNDS" BENCH_OPENS="$OPENS" BENCH_CONTROLS="$CONTROLS" BENCH_RAW="${RAW#"$ROOT"/}" BENCH_ELAPSED="$(($(date +%s) - T_START))"
TABLE_RC=0
mkdir -p "$(dirname "$REPORT")"
BENCH_FIGURES="${REPORT%.md}.json" "$PY" - "$RAW" "$OUT/meta.json" "$OUT/results.md" <<'PYEOF' || TABLE_RC=$?
import json, os, statistics, sys

raw_path, meta_path, md_path = sys.argv[1:4]
meta = json.load(open(meta_path))
E = os.environ
OPENS, CONTROLS = E["BENCH_OPENS"], E["BENCH_CONTROLS"]
runs = [json.loads(l) for l in open(raw_path) if l.strip()]
NAMES = {"ccbridge": "ccbridge", "ccbridge_dom": "ccbridge, every DOM built",
         "raw": "raw limit: the same CLI into a minimal reader (1 MiB pipe, lines counted, nothing parsed)",
         "ccbridge_read": "ccbridge, equal work (type, text, session id, usage)",
         "python": "claude-agent-sdk (Python) " + E["BENCH_PY_SDK"],
         "typescript": "@anthropic-ai/claude-agent-sdk (TypeScript) " + E["BENCH_TS_SDK"]}
ORDER = [("parse", "ccbridge"), ("parse", "ccbridge_dom"), ("parse", "python"), ("query", "raw"), ("query", "ccbridge_read"),
         ("query", "ccbridge"), ("query", "python"), ("query", "typescript"), ("session", "ccbridge_read"),
         ("session", "ccbridge"), ("session", "python")]
# The row each ratio divides: for query and session the equal-work one, which does what the peers do.
REF = {"parse": "ccbridge", "query": "ccbridge_read", "session": "ccbridge_read"}


def name(task, key):
    return "ccbridge, lazy (type only)" if key == "ccbridge" and task != "parse" else NAMES[key]

def fmt(x, digits=3):
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if x < 100 else f"{x:.0f}"

stats = {}
for task, key in ORDER:
    ok = [r["result"] for r in runs if r["task"] == task and r["key"] == key and not r["result"].get("failed")]
    failed = sum(1 for r in runs if r["task"] == task and r["key"] == key and r["result"].get("failed"))
    if not ok and not failed:
        continue
    s = {"ok": len(ok), "failed": failed}
    if ok:
        secs = [r["seconds"] for r in ok]
        msgs = sorted({r["messages"] for r in ok})
        nbytes = [r.get("bytes", meta["e2e_stdout_bytes"]) for r in ok]
        mps = [r["messages"] / r["seconds"] for r in ok]
        mbs = [b / 1e6 / r["seconds"] for b, r in zip(nbytes, ok)]
        s.update(msgs=msgs, mps=statistics.median(mps), mps_min=min(mps), mps_max=max(mps),
                 mbs=statistics.median(mbs), mbs_min=min(mbs), mbs_max=max(mbs), sec=statistics.median(secs),
                 mps_runs=mps)
    stats[(task, key)] = s

# Every run's msgs/s by row, beside the report, for tests/bench/ab.sh (bench_common's JSON shape).
with open(E["BENCH_FIGURES"], "w") as fh:
    json.dump({"figures": {f"{task}: {name(task, key)}, msgs/s": s.get("mps_runs", [])
                           for (task, key), s in stats.items()}}, fh, indent=1)

lines = []
lines.append("# ccbridge vs. the official Claude Agent SDKs\n")
lines.append("| Task | Implementation | Runs | Messages | Median MB/s (min–max) | Median msgs/s (min–max) "
             "| Median s | ccbridge ÷ this |")
lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
for task, key in ORDER:
    s = stats.get((task, key))
    if s is None:
        if key.startswith("ccbridge"):
            lines.append(f"| {task} | {name(task, key)} | – | – | ccbridge: {E['BENCH_CCB_STATUS']} | – | – | – |")
        continue
    runs_txt = f"{s['ok']}" + (f" ({s['failed']} failed)" if s["failed"] else "")
    if not s["ok"]:
        lines.append(f"| {task} | {name(task, key)} | {runs_txt} | – | – | – | – | – |")
        continue
    ref = stats.get((task, REF[task]))
    if key == REF[task]:
        ratio = "1 (reference)"
    elif ref and ref.get("ok"):
        ratio = f"{ref['mps'] / s['mps']:.2f}×"
    else:
        ratio = "–"
    msgs = "/".join(f"{m:,}" for m in s["msgs"])
    lines.append(f"| {task} | {name(task, key)} | {runs_txt} | {msgs} | {fmt(s['mbs'])} ({fmt(s['mbs_min'])}–{fmt(s['mbs_max'])}) "
                 f"| {fmt(s['mps'])} ({fmt(s['mps_min'])}–{fmt(s['mps_max'])}) | {s['sec']:.3f} | {ratio} |")

lines.append("")
lines.append("- **Equal work** (query, session): each SDK harness (peers/py_query.py, py_session.py, ts_query.mjs) reads "
             "what a caller reads of every message: its type; of an assistant message the text (its text blocks "
             "joined), session id and usage; of the result its session id and usage. ccbridge's **equal work** rows "
             "read the same (ccb_bench --read) and are the reference of the ratios; its **lazy** rows read only each "
             "message's type (the JSON DOM is never built), what a caller that only counts or forwards messages pays.")
lines.append("- **session**: the same turn as **query** through a Session (ccbridge `Session`, Python `ClaudeSDKClient`): "
             "open with initialize (untimed), then from sending the prompt to the turn's result; the CLI stays up until "
             "stdin closes. Every message of the turn is counted.")
lines.append("- **parse**: ccbridge frames each line, checks UTF-8 and the full JSON grammar and classifies it "
             "(what a Stream does per line; the RapidJSON DOM is built on first field access); "
             "'every DOM built' also builds each line's DOM, the cost of reading a field of every message.")
lines.append(f"- **parse** input: every line of a {meta['corpus_bytes']/1e6:.1f} MB corpus "
             f"({meta['corpus_lines']:,} lines: {meta['corpus_copies']} copies of the {meta['corpus_lines_per_copy']} "
             f"JSON lines of the {meta['corpus_files']} CLI stdout transcripts in tests/fixtures/transcripts/), read into "
             "memory first. Python: UTF-8 decode, split on newlines, json.loads, then the SDK's parse_message() "
             "(types it does not model, e.g. control_*, count as processed).")
lines.append(f"- **query**: one query() against ccb_fake_cli, which answers initialize, reads the prompt, then writes "
             f"{meta['e2e_messages']:,} assistant text messages of {meta['e2e_line_bytes']} bytes (a real line from "
             f"{meta['e2e_source']}, text padded) and one result ({meta['e2e_stdout_bytes']/1e6:.1f} MB of stdout). Every "
             "message delivered to the caller is counted; time runs from before query() to the end of the stream "
             "(process/interpreter start-up and imports excluded). MB/s for query = CLI stdout bytes / time.")
lines.append(f"- Ratios compare median msgs/s with the reference row (parse: ccbridge; query and session: ccbridge, "
             f"equal work). MB = 10^6 bytes. {E['BENCH_ROUNDS']} rounds, interleaved "
             "(each round: parse ccbridge, ccbridge with DOM, Python; query ccbridge lazy, equal work, Python, TypeScript; session open and "
             "control: ccbridge, Python; session stream: ccbridge lazy, equal work, Python). Raw runs: "
             + E["BENCH_RAW"] + ".")
for task in ("parse", "query", "session"):
    counts = {m for (t, k), s in stats.items() if t == task and s.get("ok") for m in s["msgs"]}
    if len(counts) > 1:
        lines.append(f"- **Warning**: the {task} runs did not all count the same number of messages: "
                     + ", ".join(f"{c:,}" for c in sorted(counts)) + ".")

# The equal-work check: every run that read the messages reports what the workload holds (computed by
# the generator from the script's lines), every lazy run the same counts of each type.
want = meta["e2e_read"]
problems, checked = [], 0
for r in runs:
    res = r["result"]
    if r["task"] not in ("query", "session") or res.get("failed") or r["key"] == "raw":
        continue  # (the raw reader only counts lines)
    equal = r["key"] != "ccbridge"
    fields = [f for f in want if f != "messages" and (equal or f in ("assistant", "results"))]
    if equal and res.get("read") != "equal":
        problems.append(f"round {r['round']} {r['task']} {r['key']}: did not report an equal-work reading")
        continue
    wrong = [f"{f} {res.get(f)} (want {want[f]:,})" for f in fields if res.get(f) != want[f]]
    if res.get("messages", 0) < want["messages"]:
        wrong.append(f"messages {res.get('messages')} (want at least {want['messages']:,})")
    if wrong:
        problems.append(f"round {r['round']} {r['task']} {r['key']}: " + ", ".join(wrong))
    checked += 1
if problems:
    lines.append("- **Equal-work check FAILED**: " + "; ".join(problems) + ".")
else:
    lines.append(f"- Equal-work check passed: each of the {checked} query and session runs read "
                 f"{want['assistant']:,} assistant messages and {want['results']} result; each equal-work run "
                 f"{want['text_chars']:,} text characters, {want['output_tokens']:,} output tokens and "
                 f"{want['session_ids']:,} session ids, as the workload holds.")

# Session latencies: medians over the runs of each run's figure.
def med(task, key, field):
    vals = [r["result"][field] for r in runs if r["task"] == task and r["key"] == key and not r["result"].get("failed")]
    return statistics.median(vals) if vals else None

def per_request(key):
    vals = [r["result"]["seconds"] / r["result"]["requests"] for r in runs
            if r["task"] == "session-control" and r["key"] == key and not r["result"].get("failed")]
    return statistics.median(vals) if vals else None

def per_message(task, key):
    s = stats.get((task, key))
    return 1 / s["mps"] if s and s.get("ok") else None

lines.append("")
lines.append("## Sessions\n")
lines.append("| Measure | ccbridge | claude-agent-sdk (Python) ClaudeSDKClient | Python ÷ ccbridge |")
lines.append("|---|---:|---:|---:|")
rows = [("Session open (spawn + initialize) → first message of the first turn, median", "ms",
         med("session-open", "ccbridge", "median_seconds"), med("session-open", "python", "median_seconds"), 1e3),
        ("Control request round trip (`set_permission_mode`), median", "µs",
         per_request("ccbridge"), per_request("python"), 1e6)]
for label, unit, c, p, scale in rows:
    ct = f"{c * scale:.2f} {unit}" if c else "–"
    pt = f"{p * scale:.2f} {unit}" if p else "–"
    rt = f"{p / c:.2f}×" if c and p else "–"
    lines.append(f"| {label} | {ct} | {pt} | {rt} |")
def ns(x):
    return "–" if x is None else f"{x * 1e9:,.0f} ns"
sc, sp = per_message("session", "ccbridge_read"), per_message("session", "python")
qc, qp = per_message("query", "ccbridge_read"), per_message("query", "python")
lines.append(f"| Time per message of a session turn (of a one-shot query() in brackets), median | {ns(sc)} ({ns(qc)}) "
             f"| {ns(sp)} ({ns(qp)}) | {f'{sp / sc:.2f}×' if sc and sp else '–'} |")
lines.append("")
lines.append(f"- **Session open**: {OPENS} opens per run against ccb_fake_cli's `serve_turns` (answers initialize, echoes "
             "each prompt); each run reports its median, the table the median over runs. The close is not timed. "
             "Most of it is the start of a process, which both pay alike.")
lines.append(f"- **Control round trip**: {CONTROLS} sequential `set_permission_mode` requests on one open session, "
             "each waiting for its answer.")
lines.append("- **Time per message**: from the median msgs/s of the session and query rows above (ccbridge: equal work): what each message costs "
             "with the control layer in the path (session) and without initialize's callbacks (query). The query time "
             "also includes spawning the CLI (about the open time above, spread over the turn's messages), the "
             "session time does not.")
lines.append("")
lines.append(f"- Command: `{E['BENCH_CMDLINE']}` (took {E['BENCH_ELAPSED']} s including setup)")
lines.append(f"- Date: {E['BENCH_DATE']}")
lines.append(f"- CPU: {E['BENCH_CPU']}; {E['BENCH_KERNEL']}")
lines.append(f"- ccbridge: {E['BENCH_BUILD_TYPE']} build, {E['BENCH_CXX']}" + ("" if E["BENCH_CCB_STATUS"] == "ok" else f" — {E['BENCH_CCB_STATUS']}"))
lines.append(f"- Python SDK: claude-agent-sdk {E['BENCH_PY_SDK']} on Python {E['BENCH_PYTHON']}")
lines.append(f"- TypeScript SDK: @anthropic-ai/claude-agent-sdk {E['BENCH_TS_SDK']} on Node {E['BENCH_NODE']}")
md = "\n".join(lines) + "\n"
with open(md_path, "w", encoding="utf-8") as fh:
    fh.write(md)
sys.stdout.write(md)
sys.exit(3 if problems else 0)
PYEOF
((TABLE_RC == 0 || TABLE_RC == 3)) || { log "the table could not be made (exit $TABLE_RC)"; exit 1; }
log "wrote $OUT/results.md"
# The report: a title, commit, machine and load (bench_common.provenance), the table, every run.
mkdir -p "$(dirname "$REPORT")"
"$PY" - "$OUT/results.md" "$RAW" "$CMDLINE" "$ROOT/tests/bench" >"$REPORT" <<'PYEOF'
import sys
results, raw, cmdline, bench_dir = sys.argv[1:5]
sys.path.insert(0, bench_dir)
import os
import bench_common
bench_common.LOAD_AT_START = os.environ["BENCH_LOAD_START"]
print("# Core library and sessions beside the official SDKs (tests/bench/run.sh)\n")
print("\n".join(bench_common.provenance(cmdline)) + "\n")
print(open(results, encoding="utf-8").read())
print("## Every run's values (raw.jsonl)\n")
for line in open(raw, encoding="utf-8"):
    if line.strip():
        print(f"- `{line.strip()}`")
PYEOF
log "wrote $REPORT"
if ((FAILS)); then log "$FAILS run(s) failed"; exit 1; fi
if ((TABLE_RC == 3)); then log "the equal-work check failed (see $OUT/results.md)"; exit 1; fi
