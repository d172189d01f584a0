"""bench/migrate.py at a tiny size, so the benchmark does not rot between the runs that matter:
every figure line and goal verdict is printed, every tool delivers the whole tree, and the
request log is priced as the tenant charges."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_binary

BENCH = Path(__file__).resolve().parent.parent / "bench" / "migrate.py"
SMALL, LARGE, LARGE_MIB = 20, 1, 2
TOOLS = ("bare client", "hdrive-migrate", "rclone")
FIGURES = r"files/s .* MB/s .* requests/file .* RU/file.* CPU s/1,000 files"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[str, dict]:
    """The printed text and the --json figures of one tiny run, shared by the tests."""
    require_binary("rclone")
    folder = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        str(BENCH),
        "--small-files",
        str(SMALL),
        "--large-files",
        str(LARGE),
        "--large-mib",
        str(LARGE_MIB),
        "--concurrency",
        "4",
        "--quota-minutes",
        "0.05",
        "--json",
    ]
    env = {**os.environ, "BENCH_DIR": str(folder)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    text, _, figures = done.stdout.rpartition("\n{")
    return text, json.loads("{" + figures)


def test_bench_prints_every_figure_and_goal_and_every_tool_delivers(bench):
    text, figures = bench
    for tool in TOOLS:
        assert len(re.findall(rf"^  {tool} +[\d.,]+ {FIGURES}$", text, re.M)) == 2, text
    assert "INCOMPLETE" not in text
    verdicts = re.findall(r"goal (?:NOT )?met", text)
    # small: files/s against rclone and the bare client, RU/file; large: MB/s, RU/file; quota: 2
    assert len(verdicts) == 7, text
    assert re.search(r"used [\d.]+% of the budget", text)
    assert re.search(r"requests throttled: [\d.]+% of [\d,]+", text)
    assert "summary" in text
    for tree, files in (("small", SMALL), ("large", LARGE)):
        for tool in TOOLS:
            result = figures[tree][tool]
            assert result["delivered"] == [files, result["size"]]
    assert figures["large"]["bare client"]["size"] == LARGE * LARGE_MIB * 1024 * 1024


def test_bare_client_is_priced_as_the_tenant_charges(bench):
    """One upload session and one chunk PUT per small file, 2 resource units each
    (graph-protocol.md), and nothing charged for the bench's own look-ups."""
    _, figures = bench
    bare = figures["small"]["bare client"]
    assert bare["requests"] == 2 * SMALL
    assert bare["units"] == 4 * SMALL
    assert bare["throttled"] == 0
