"""The README's Python example runs as written: `claude` on PATH is the fake CLI here."""

import os
import re
import subprocess
import sys

from conftest import FAKE, ROOT


def test_readme_python_example_runs_as_written(tmp_path, tag):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("### From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "bin").mkdir()
    os.symlink(FAKE, tmp_path / "bin" / "claude")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "CCB_TEST_TAG": tag,
           "CCB_FAKE_SCRIPT_TEXT": "serve_turns", "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["echo: What is 2 + 2?", "turns: 1"]
