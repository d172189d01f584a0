"""Start-up: how long the whole `hdrive-migrate` process takes for the commands people run all
day, beside bare `python -c pass` on the same interpreter, measured in the same run.

- `--version` and `--help`: goal under 150 ms each.
- `status UPN --json` for one user of a generated workspace (bench/report.py's rows: a plan and
  a partly migrated wave), 10,000 files each by default, the upper end of a force's
  hundreds of millions of files over 45,000 people: goal under 200 ms, the whole process.

Each figure is the median of --runs runs (after one warm-up run), as hyperfine would measure it.

    python bench/start.py [--users 10] [--files 100000] [--runs 15]
"""

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BIN = Path(sys.executable).parent
HDRIVE = BIN / "hdrive-migrate"
if importlib.util.find_spec("hdrive_migrate") is None or not HDRIVE.exists():
    sys.exit(
        f"bench/start.py: hdrive_migrate or {HDRIVE} is missing. "
        "Fix: run `make bench`, or run it with .venv/bin/python"
    )

from report import fill, verdict  # noqa: E402

from hdrive_migrate.config import Auth, Config, GraphSettings  # noqa: E402
from hdrive_migrate.workspace import create_workspace  # noqa: E402

GOAL_START_MS = 150
GOAL_STATUS_MS = 200
SEED = 11
WAVE = "start"


def median_ms(command: list[str], runs: int) -> float:
    """The median wall time of COMMAND in milliseconds, after one unmeasured warm-up run."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def make_workspace(ws_dir: Path, users: int, files: int) -> str:
    """A workspace of USERS users holding FILES files; the UPN of one of them."""
    settings = Config(
        source_root="\\\\files01\\home",
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
    )
    with create_workspace(ws_dir, settings) as ws:
        upns = fill(ws.db, WAVE, users, files, 0, random.Random(SEED))
    return upns[len(upns) // 2]


def line(name: str, ms: float, baseline: float, goal: float) -> str:
    return (
        f"{name:<22} {ms:7.1f} ms ({ms - baseline:6.1f} ms above bare Python; "
        f"goal under {goal:g} ms: {verdict(ms < goal)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline = median_ms([sys.executable, "-c", "pass"], args.runs)
    print(f"{'python -c pass':<22} {baseline:7.1f} ms (the baseline)", flush=True)
    for flag in ("--version", "--help"):
        ms = median_ms([str(HDRIVE), flag], args.runs)
        print(line(f"hdrive-migrate {flag}", ms, baseline, GOAL_START_MS), flush=True)
    # What status cannot go under: the command line and sqlite-utils, which reads the
    # workspace (and pydantic, with a typer from 0.29 on, which converts arguments with it).
    typer = "typer._adapters" if importlib.util.find_spec("typer._adapters") else "typer"
    floor = median_ms([sys.executable, "-c", f"import {typer}, sqlite_utils"], args.runs)
    print(
        f"{'(typer, sqlite-utils)':<22} {floor:7.1f} ms (importing them alone: the floor"
        " for any command that opens the workspace)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        ws_dir = Path(scratch) / "ws"
        upn = make_workspace(ws_dir, args.users, args.files)
        per_user = args.files // args.users
        ms = median_ms([str(HDRIVE), "status", upn, "--json", "-w", str(ws_dir)], args.runs)
        name = "status UPN --json"
        print(f"{line(name, ms, baseline, GOAL_STATUS_MS)}; a user of {per_user:,} files")


if __name__ == "__main__":
    main()
