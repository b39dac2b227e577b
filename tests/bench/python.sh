#!/usr/bin/env bash
# Messages/s through query() from Python: ccbridge's Python package (`for` and `async for`) against
# the official Python SDK (claude-agent-sdk), on the same fake CLI and the same turn as the
# "query" rows of tests/bench/run.sh (N assistant text messages of 1350 bytes, then one result).
#
#   tests/bench/python.sh [--smoke] [--rounds R] [--messages N] [--out FILE]
#
#   --rounds R    interleaved rounds (default 5); each round runs ccbridge sync, ccbridge async,
#                 then the SDK (tests/bench/peers/py_query.py), each in a fresh process
#   --messages N  assistant messages per run (default 200000)
#   --smoke       1 round of 1,000 messages with the package that tests/python/run.sh installed in
#                 <build>/py-venv (tests/bench/common.sh: the report under the build dir); exits
#                 non-zero when a run fails
#
# Writes a Markdown report (medians of msgs/s, MB/s, seconds with ccbridge ÷ SDK ratios, every
# round's values, commit, date, machine, load, the command) to --out, by default
# docs/bench-results/<date>-python-<commit>.md, and its figures beside it (.json). Raw runs go to
# $CCB_BENCH_OUT/python-raw.jsonl.
#
# Environment:
#   PY               the Python to use (default /root/.cache/ccbridge/bench-venv/bin/python, with
#                    --smoke <build>/py-venv/bin/python); it needs claude-agent-sdk for the SDK rows
#                    (tests/bench/peers/setup.sh makes such a venv)
#   CCB_PY_PATH      PYTHONPATH that makes `import ccbridge` work (default <repo>/build-py/bindings/python
#                    if it exists, else empty: the package installed in PY's venv, as gateway.sh leaves it;
#                    with --smoke empty)
#   CCB_FAKE_CLI     the fake CLI (default: tests/ccb_fake_cli of the build dir CCB_PY_PATH is in, else of
#                    <repo>/build; with --smoke <build>/tests/ccb_fake_cli)
#   CCB_BENCH_BUILD_DIR  the build dir of --smoke and of the report's default place (tests/bench/common.sh)
#   CCB_BENCH_OUT    where the script and raw runs go (default: a new temporary directory)
#   CCB_BENCH_TIMEOUT seconds per single run (default 900)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [[ "${CCB_BENCH_LIST_TARGETS:-}" == 1 ]]; then
  echo "python.sh: measures a Python package, not a build: tests/bench/ab.sh cannot run it" >&2
  exit 2
fi
bench_args python "$@"
set -- "${BENCH_REST[@]}"
MESSAGES=200000
((SMOKE)) && MESSAGES=1000
while (($#)); do
  case "$1" in
    --messages) MESSAGES="$2"; shift ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "python.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
((SMOKE)) && : "${ROUNDS:=1}"
: "${ROUNDS:=5}"
[[ "$MESSAGES" =~ ^[1-9][0-9]*$ ]] || { echo "python.sh: bad --messages" >&2; exit 2; }

if ((SMOKE)); then
  PY="${PY:-$BUILD/py-venv/bin/python}"
  CCB_PY_PATH="${CCB_PY_PATH:-}"
  CCB_FAKE_CLI="${CCB_FAKE_CLI:-$BUILD/tests/ccb_fake_cli}"
fi
PY="${PY:-/root/.cache/ccbridge/bench-venv/bin/python}"
# A pybind11 dev build in build-py when there is one, else the package installed in the bench venv
# (tests/bench/gateway.sh installs this tree's there: pip install '.[websocket]').
if [[ -z "${CCB_PY_PATH+set}" ]]; then
  CCB_PY_PATH=""
  [[ -d "$ROOT/build-py/bindings/python" ]] && CCB_PY_PATH="$ROOT/build-py/bindings/python"
fi
if [[ -z "${CCB_FAKE_CLI:-}" ]]; then
  CCB_FAKE_CLI="$ROOT/build/tests/ccb_fake_cli"
  [[ -n "$CCB_PY_PATH" ]] && CCB_FAKE_CLI="$(cd "$CCB_PY_PATH/../.." && pwd)/tests/ccb_fake_cli"
fi
TIMEOUT="${CCB_BENCH_TIMEOUT:-900}"
WORK="${CCB_BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ccb-pybench.XXXXXX")}"
mkdir -p "$WORK"
PEERS="$ROOT/tests/bench/peers"
T_START=$(date +%s)
log() { echo "python.sh: $*" >&2; }

[[ -x "$PY" ]] || { log "no Python at $PY (set PY)"; exit 1; }
[[ -x "$CCB_FAKE_CLI" ]] || { log "no fake CLI at $CCB_FAKE_CLI (set CCB_FAKE_CLI)"; exit 1; }
PYTHONPATH="$CCB_PY_PATH" "$PY" -c 'import ccbridge' || { log "cannot import ccbridge from $CCB_PY_PATH (set CCB_PY_PATH)"; exit 1; }
"$PY" -c 'import claude_agent_sdk' || { log "$PY has no claude_agent_sdk (tests/bench/peers/setup.sh)"; exit 1; }

# --- the fake CLI's script: the same as run.sh's e2e_script.txt ------------------------------------
# A real assistant text message from the first CLI stdout transcript that has one and a success
# result, its text padded so the line is 1350 bytes; N copies, then that transcript's result.
"$PY" - "$ROOT/tests/fixtures/transcripts" "$WORK" "$MESSAGES" <<'PYEOF'
import glob, json, os, sys

src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
SKIP = (".stdin.jsonl", ".timeline.jsonl", ".sdk-messages.jsonl", ".cli-stdin.jsonl")
files = [f for f in sorted(glob.glob(os.path.join(src, "*.jsonl"))) if not f.endswith(SKIP)]

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
for s in (line, result):
    assert "\n" not in s and "{{" not in s
with open(os.path.join(out, "e2e_script.txt"), "w", encoding="utf-8") as fh:
    fh.write(f"wait_user\nrepeat_line {n} {line}\nemit {result}\nexit 0\n")
meta = {"e2e_messages": n, "e2e_line_bytes": len(line.encode()), "e2e_source": os.path.basename(f),
        "e2e_expected": n + 1, "e2e_stdout_bytes": n * (len(line.encode()) + 1) + len(result.encode()) + 1}
with open(os.path.join(out, "python-meta.json"), "w") as fh:
    json.dump(meta, fh)
print(json.dumps(meta), file=sys.stderr)
PYEOF
E2E_SCRIPT="$(cat "$WORK/e2e_script.txt")"
E2E_EXPECTED="$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["e2e_expected"])' "$WORK/python-meta.json")"

# --- interleaved rounds ----------------------------------------------------------------------------
RAW="$WORK/python-raw.jsonl"
: >"$RAW"
# run_one ROUND KEY -- command...   (appends the command's JSON line, tagged, to the raw file)
run_one() {
  local round="$1" key="$2"; shift 3
  local line rc=0
  line="$(CCB_FAKE_SCRIPT_TEXT="$E2E_SCRIPT" timeout "$TIMEOUT" "$@" 2>"$WORK/last-stderr.txt" | tail -n 1)" || rc=$?
  if ((rc != 0)) || [[ "$line" != "{"* ]]; then
    log "round $round: $key FAILED (exit $rc); stderr tail:"
    tail -n 5 "$WORK/last-stderr.txt" >&2 || true
    line='{"failed":true,"exit":'"$rc"'}'
  fi
  printf '{"round":%s,"key":"%s","result":%s}\n' "$round" "$key" "$line" >>"$RAW"
  log "round $round: $key: $line"
}

for ((r = 1; r <= ROUNDS; r++)); do
  run_one "$r" ccbridge_sync -- env PYTHONPATH="$CCB_PY_PATH" \
    "$PY" "$ROOT/tests/bench/py_ccbridge_query.py" --mode sync --cli "$CCB_FAKE_CLI" --messages "$E2E_EXPECTED"
  run_one "$r" ccbridge_async -- env PYTHONPATH="$CCB_PY_PATH" \
    "$PY" "$ROOT/tests/bench/py_ccbridge_query.py" --mode async --cli "$CCB_FAKE_CLI" --messages "$E2E_EXPECTED"
  run_one "$r" sdk -- "$PY" "$PEERS/py_query.py" --cli "$CCB_FAKE_CLI" --messages "$E2E_EXPECTED"
done

# --- report ---------------------------------------------------------------------------------------------
export BENCH_CMDLINE="$CMDLINE" BENCH_PYTHON="$("$PY" -c 'import sys;print(sys.version.split()[0])')" \
  BENCH_PY_SDK="$("$PY" -c 'import importlib.metadata as m;print(m.version("claude-agent-sdk"))' 2>/dev/null || echo unknown)" \
  BENCH_CCB="$(PYTHONPATH="$CCB_PY_PATH" "$PY" -c 'import ccbridge;print(ccbridge.__version__)')" \
  BENCH_ROUNDS="$ROUNDS" BENCH_PY="$PY" BENCH_CCB_PY_PATH="$CCB_PY_PATH" BENCH_FAKE="$CCB_FAKE_CLI" \
  BENCH_ELAPSED="$(($(date +%s) - T_START))" BENCH_DIR="$ROOT/tests/bench"
"$PY" - "$RAW" "$WORK/python-meta.json" "$OUT" <<'PYEOF'
import json, os, statistics, sys

raw_path, meta_path, md_path = sys.argv[1:4]
E = os.environ
sys.path.insert(0, E["BENCH_DIR"])
from bench_common import figure, finish, provenance  # noqa: E402

meta = json.load(open(meta_path))
runs = [json.loads(l) for l in open(raw_path) if l.strip()]
ROWS = [("ccbridge_sync", f"ccbridge {E['BENCH_CCB']}, `for`"),
        ("ccbridge_async", f"ccbridge {E['BENCH_CCB']}, `async for`"),
        ("sdk", f"claude-agent-sdk {E['BENCH_PY_SDK']}, `async for`")]

def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"

def msgs_per_s(r):
    return None if r.get("failed") else r["messages"] / r["seconds"]

stats = {}
for key, name in ROWS:
    ok = [r["result"] for r in runs if r["key"] == key and not r["result"].get("failed")]
    failed = sum(1 for r in runs if r["key"] == key and r["result"].get("failed"))
    figure(f"{name}: msgs/s", [msgs_per_s(r["result"]) for r in runs if r["key"] == key])
    s = {"ok": len(ok), "failed": failed}
    if ok:
        mps = [r["messages"] / r["seconds"] for r in ok]
        mbs = [meta["e2e_stdout_bytes"] / 1e6 / r["seconds"] for r in ok]
        s.update(msgs=sorted({r["messages"] for r in ok}), mps=statistics.median(mps), mps_min=min(mps),
                 mps_max=max(mps), mbs=statistics.median(mbs), sec=statistics.median([r["seconds"] for r in ok]))
    stats[key] = s

ref = stats.get("sdk", {})
lines = ["# Python: messages/s through query()", "", *provenance(E["BENCH_CMDLINE"]), "",
         "| Implementation | Runs | Messages | Median msgs/s (min–max) | Median MB/s | Median s | ÷ SDK (msgs/s) |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for key, name in ROWS:
    s = stats[key]
    runs_txt = f"{s['ok']}" + (f" ({s['failed']} failed)" if s["failed"] else "")
    if not s["ok"]:
        lines.append(f"| {name} | {runs_txt} | – | – | – | – | – |")
        continue
    ratio = "1 (reference)" if key == "sdk" else (f"{s['mps'] / ref['mps']:.2f}×" if ref.get("ok") else "–")
    lines.append(f"| {name} | {runs_txt} | {'/'.join(f'{m:,}' for m in s['msgs'])} | {fmt(s['mps'])} "
                 f"({fmt(s['mps_min'])}–{fmt(s['mps_max'])}) | {fmt(s['mbs'])} | {s['sec']:.3f} | {ratio} |")
lines.append("")
lines.append(f"- Each run: one `query(prompt=\"benchmark\")` in a fresh Python process against ccb_fake_cli, which answers "
             f"initialize (the SDK sends it), reads the prompt, then writes {meta['e2e_messages']:,} assistant text messages "
             f"of {meta['e2e_line_bytes']} bytes (a real line from {meta['e2e_source']}, text padded; the same script as "
             f"run.sh's query rows) and one result: {meta['e2e_stdout_bytes']/1e6:.1f} MB of stdout. Every message the "
             "iterator yields is counted; time runs from just before query() to the end of the stream (interpreter "
             "start-up and imports excluded, the CLI's spawn included). MB/s = CLI stdout bytes / time.")
lines.append(f"- {E['BENCH_ROUNDS']} rounds, interleaved (each round: ccbridge `for`, ccbridge `async for`, SDK); "
             "medians over the runs; ratios compare median msgs/s.")
lines.append(f"- Python {E['BENCH_PYTHON']} (PY={E['BENCH_PY']}, CCB_PY_PATH={E['BENCH_CCB_PY_PATH'] or '(the installed package)'}, "
             f"CCB_FAKE_CLI={E['BENCH_FAKE']}); took {E['BENCH_ELAPSED']} s.")
lines += ["", "## Every run", ""]
lines += [f"- round {r['round']}, {r['key']}: `{json.dumps(r['result'])}`" for r in runs]
finish(md_path, "\n".join(lines) + "\n", E["BENCH_CMDLINE"])
PYEOF
log "raw runs: $RAW; report: $OUT"
