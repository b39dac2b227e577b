#!/usr/bin/env python3
"""Prints how many tests of each group ran in one ctest run, from its JUnit file (ctest
--output-junit). A group is a test name's first word ("unit:", "server:", "browser:", "capi:",
"real-cli ..."), so a group that is missing or smaller than usual shows at a glance.

  scripts/ctest-groups.py JUNIT_XML [LABEL]
"""
import collections
import re
import sys
import xml.etree.ElementTree as ET


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: ctest-groups.py JUNIT_XML [LABEL]")
    label = sys.argv[2] if len(sys.argv) == 3 else sys.argv[1]
    counts = collections.OrderedDict()
    for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
        m = re.match(r"[A-Za-z][A-Za-z0-9_-]*", case.get("name", ""))
        group = m.group(0) if m else "(other)"
        c = counts.setdefault(group, collections.Counter())
        status = case.get("status", "run")
        skipped = case.find("skipped") is not None
        c["ran"] += status in ("run", "fail") and not skipped
        c["failed"] += status == "fail"
        c["not run"] += status not in ("run", "fail") or skipped
    total = sum(c["ran"] for c in counts.values())
    print(f"tests run by group ({label}): {total} in all")
    for group in sorted(counts):
        c = counts[group]
        extra = ", ".join(f"{c[k]} {k}" for k in ("failed", "not run") if c[k])
        print(f"  {group:<10} {c['ran']:5} ran" + (f" ({extra})" if extra else ""))


if __name__ == "__main__":
    main()
