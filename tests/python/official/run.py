"""The official claude-agent-sdk's own tests, run against ccbridge (issue 19).

    python tests/python/official/run.py [--version 0.2.187] [--cache DIR] [--report FILE] [-- PYTEST ARGS]

Downloads the pinned sdist from PyPI (kept in the cache, never committed), copies its tests/ into a
scratch directory, rewrites them to import ccbridge (rewrites.txt, then every remaining
`claude_agent_sdk` becomes `ccbridge`, so no test can reach the official package), and runs pytest
with the SDK's own conftest (every anyio test under asyncio and trio).

expected.txt lists the tests that are not expected to pass, each with a one-line reason: mostly
tests that drive or patch the SDK's private internals (its Python transport, its Query class, ...),
which ccbridge replaces with its C++ engine. A listed file is not collected. A listed test is run
separately and must still fail: one that passes is reported so that the list is kept true. The
run fails if any test not listed fails, or a listed one passes; it prints the counts and, with
--report, writes them (and every failing test) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fetch_sdist(version: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"claude_agent_sdk-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--no-binary", ":all:", f"claude-agent-sdk=={version}", "-d", str(cache)],
                       check=True)
    return sdist


def read_rules(path: Path) -> list[tuple[str, str]]:
    """rewrites.txt: `old -> new` per line (plain text, applied in order); # starts a comment."""
    rules = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            old, new = (part.strip() for part in line.split("->", 1))
            rules.append((old, new))
    return rules


def read_expected(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """expected.txt: `<file or node id>  # <reason>` per line; whole files, and single tests."""
    files, tests = {}, {}
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        target, _, reason = raw.partition("#")
        target, reason = target.strip(), reason.strip()
        if not reason:
            sys.exit(f"expected.txt: '{target}' has no reason")
        (tests if "::" in target else files)[target] = reason
    return files, tests


def prepare(sdist: Path, work: Path, rules: list[tuple[str, str]]) -> Path:
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        # The SessionStore adapters under examples/ too: their tests load them (each imports the
        # SDK by name, which becomes ccbridge like every other import; nothing else changes).
        members = [m for m in tar.getmembers()
                   if m.name.startswith((f"{root}/tests/", f"{root}/examples/session_stores/"))]
        tar.extractall(work, members=members, filter="data")
    tests = work / root / "tests"
    for py in tests.rglob("*.py"):
        text = py.read_text()
        for old, new in rules:
            text = text.replace(old, new)
        py.write_text(text.replace("claude_agent_sdk", "ccbridge"))
    for py in (work / root / "examples").rglob("*.py"):
        py.write_text(py.read_text().replace("claude_agent_sdk", "ccbridge"))
    shutil.copy(HERE / "_sdk_private.py", tests / "_sdk_private.py")
    (work / root / "pytest.ini").write_text("[pytest]\naddopts = -p anyio --import-mode=importlib\n"
                                            "pythonpath = tests\n")
    return work / root


def pytest_run(cwd: Path, args: list[str], junit: Path) -> dict[str, str]:
    """Runs pytest; the outcome of every test case by node id (passed, failed, error, skipped)."""
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *args],
                   cwd=cwd)
    outcomes: dict[str, str] = {}
    if not junit.exists():
        return outcomes
    for case in ET.parse(junit).getroot().iter("testcase"):
        # classname is tests.test_x[.Class]; the node id is tests/test_x.py[::Class]::name
        classname, name = case.get("classname", ""), case.get("name", "")
        if classname:
            parts = classname.split(".")
            node = "/".join(parts[:2]) + ".py" + "".join(f"::{p}" for p in parts[2:]) + f"::{name}"
        else:  # a file that could not be collected
            node = name.replace(".", "/") + ".py"
        kinds = {child.tag for child in case}
        outcome = ("failed" if "failure" in kinds else "error" if "error" in kinds
                   else "skipped" if "skipped" in kinds else "passed")
        outcomes[node] = outcome
    return outcomes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="0.2.187")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/ccbridge/official-sdk"))
    ap.add_argument("--report")
    ap.add_argument("pytest_args", nargs="*")
    a = ap.parse_args()

    files, tests = read_expected(HERE / "expected.txt")
    sdist = fetch_sdist(a.version, Path(a.cache))
    with tempfile.TemporaryDirectory(prefix="ccb-official-") as tmp:
        root = prepare(sdist, Path(tmp), read_rules(HERE / "rewrites.txt"))
        missing = [f for f in files if not (root / f).exists()]
        if missing:
            print(f"expected.txt names files the sdist does not have: {missing}", file=sys.stderr)
            return 2
        ignore = [f"--ignore={f}" for f in files]
        deselect = [f"--deselect={t}" for t in tests]
        main_run = pytest_run(root, ["tests", "--continue-on-collection-errors", *ignore, *deselect, *a.pytest_args],
                              Path(tmp) / "main.xml")
        listed = pytest_run(root, list(tests), Path(tmp) / "listed.xml") if tests else {}

    bad = sorted(n for n, o in main_run.items() if o in ("failed", "error"))
    unlisted_pass = sorted(n for n, o in listed.items() if o == "passed")
    not_found = sorted(set(tests) - set(listed))
    counts = {
        "version": a.version,
        "passed": sum(o == "passed" for o in main_run.values()),
        "failed": len(bad),
        "skipped by the tests themselves": sum(o == "skipped" for o in main_run.values()),
        "listed files (not collected)": len(files),
        "listed tests (must fail)": len(tests),
        "listed tests that passed": len(unlisted_pass),
    }
    print(json.dumps(counts, indent=1))
    for n in bad:
        print(f"FAILED (not in expected.txt): {n}")
    for n in unlisted_pass:
        print(f"PASSED but listed in expected.txt (remove it): {n}")
    for n in not_found:
        print(f"listed in expected.txt but not run (a typo, or gone from the sdist): {n}")
    if a.report:
        Path(a.report).write_text(json.dumps({**counts, "failures": bad, "listed_but_passed": unlisted_pass,
                                              "listed_not_found": not_found}, indent=1) + "\n")
    return 1 if bad or unlisted_pass or not_found or not main_run else 0


if __name__ == "__main__":
    sys.exit(main())
