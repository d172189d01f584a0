"""bench/start.py at a tiny size, so the benchmark does not rot: the baseline and each
command's figure are printed, each with its goal's verdict (the times themselves are the
benchmark's business, not a test's)."""

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "start.py"
VERDICT = r"\d+\.\d ms \( *\d+\.\d ms above bare Python; goal under \d+ ms: goal (met|NOT met)\)"


def test_bench_prints_the_baseline_and_every_figure_with_its_goal():
    command = [sys.executable, str(BENCH), "--users", "2", "--files", "200", "--runs", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5, done.stdout
    assert re.fullmatch(r"python -c pass +\d+\.\d ms \(the baseline\)", lines[0])
    assert "ms (importing them alone" in lines[3]
    for line, name in zip(
        lines[1:3] + lines[4:], ("--version", "--help", "status UPN"), strict=True
    ):
        assert re.search(re.escape(name) + ".* +" + VERDICT, line), line
    assert lines[4].endswith("a user of 100 files")
