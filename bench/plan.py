"""Planner speed: the whole `hdrive-migrate plan` command (start-up included) over generated
inventory records, beside a baseline of only reading the same rows from the database,
measured in the same run; and the command's peak memory at two sizes.

Goals: planning costs at most 3x the read, at least 100,000 decisions/s, and peak memory
under 200 MB and flat (the larger size at most 1.25x the smaller).

    python bench/plan.py [--files 1000000] [--users 50] [--compare-files 100000]
"""

import argparse
import hashlib
import importlib.util
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
HDRIVE = Path(sys.executable).parent / "hdrive-migrate"
if importlib.util.find_spec("hdrive_migrate") is None or not HDRIVE.exists():
    sys.exit(
        f"bench/plan.py: hdrive_migrate or {HDRIVE} is missing. "
        "Fix: run `make bench`, or run it with .venv/bin/python"
    )

from hdrive_migrate.config import Auth, Config, GraphSettings  # noqa: E402
from hdrive_migrate.workspace import create_workspace  # noqa: E402

from hometree import user_files  # noqa: E402
from peak import run_measured  # noqa: E402

POLICY = HERE.parent / "policies" / "personal-files.yaml"
GOAL_RATIO = 3
GOAL_RATE = 100_000
GOAL_PEAK_MIB = 200
GOAL_FLAT = 1.25
READ_QUERY = (
    "SELECT path, is_dir, size, modified, created, accessed, attributes, link FROM files"
    " WHERE upn = ? AND change != 'deleted' ORDER BY path"
)


def fill(db, files: int, users: int) -> list[str]:
    """Users with a complete scan each, and `files` inventory rows between them (folders too,
    and one file in twenty a duplicate of another, as hashed scans find)."""
    rng = random.Random(11)
    upns = []
    for number in range(users):
        upn = f"user{number:05d}@bench.test"
        upns.append(upn)
        folders, listing = user_files(f"user{number:05d}", files // users, rng)
        rows = [
            (upn, str(f.relative_to(folders[0])), 1, 0, None, None, None, 16, 0, None)
            for f in folders[1:]
        ]
        for path, size, modified in listing:
            content = rng.randrange(20 * len(listing))
            digest = hashlib.sha256(str(content).encode()).hexdigest()
            relative = str(path.relative_to(folders[0]))
            rows.append((upn, relative, 0, size, modified, modified, modified, 32, 0, digest))
        with db.conn:
            db.execute(
                "INSERT INTO users(upn, folder, imported_at, updated_at) VALUES (?,?,'','')",
                [upn, upn.split("@")[0]],
            )
            db.execute(
                "INSERT INTO scans(upn, status, hashed, atime_trusted, started_at)"
                " VALUES (?, 'complete', 1, 0, '')",
                [upn],
            )
            db.conn.executemany(
                "INSERT OR IGNORE INTO files(upn, path, is_dir, size, created, modified,"
                " accessed, attributes, link, sha256, seen_scan, change)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,1,'new')",
                rows,
            )
    return upns


def read_all(db, upns: list[str]) -> tuple[float, int]:
    started, rows = time.perf_counter(), 0
    for upn in upns:
        rows += sum(1 for row in db.execute(READ_QUERY, [upn]) if not row[1])
    return time.perf_counter() - started, rows


def verdict(met: bool) -> str:
    return "goal met" if met else "goal NOT met"


def workspace(folder: Path, files: int, users: int) -> tuple[Path, float, int]:
    """A workspace of FILES records, and the seconds to read them (warm) with their count."""
    settings = Config(
        source_root=str(folder), graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL)
    )
    ws_dir = folder / "ws"
    with create_workspace(ws_dir, settings) as ws:
        upns = fill(ws.db, files, users)
        read_all(ws.db, upns)  # warm the page cache for both measurements
        seconds, count = read_all(ws.db, upns)
    return ws_dir, seconds, count


def run_plan(ws_dir: Path) -> tuple[float, int, str]:
    """(seconds, peak resident KiB, stdout and stderr) of the whole `plan` command."""
    command = [str(HDRIVE), "plan", "--policy", str(POLICY), "-w", str(ws_dir)]
    seconds, peak, out, err = run_measured(command)
    return seconds, peak // 1024, out + err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--compare-files", type=int, default=100_000)
    args = parser.parse_args()
    print(f"planner: policy {POLICY.name}, {os.cpu_count()} cores", flush=True)
    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for files in (args.compare_files, args.files):
            ws_dir, read_seconds, count = workspace(Path(folder) / str(files), files, args.users)
            print(
                f"read     {count:>9,} file records over {args.users} users in "
                f"{read_seconds:6.2f} s ({count / read_seconds:>10,.0f} rows/s, baseline)",
                flush=True,
            )
            seconds, peak, output = run_plan(ws_dir)
            peaks[files] = peak
            rate = count / seconds
            ratio = seconds / read_seconds
            print(
                f"plan     {count:>9,} files, whole command {seconds:6.2f} s "
                f"({rate:>10,.0f} decisions/s; goal at least {GOAL_RATE:,}/s: "
                f"{verdict(rate >= GOAL_RATE)}) = {ratio:.1f}x the read "
                f"(goal at most {GOAL_RATIO}x: {verdict(ratio <= GOAL_RATIO)}); peak memory "
                f"{peak / 1024:.0f} MiB (goal under {GOAL_PEAK_MIB} MB: "
                f"{verdict(peak * 1024 < GOAL_PEAK_MIB * 10**6)})",
                flush=True,
            )
            print("         " + output.strip().replace("\n", "\n         "))
    growth = peaks[args.files] / peaks[args.compare_files]
    print(
        f"memory   {args.files:,} files peak {growth:.2f}x that of {args.compare_files:,} "
        f"(goal flat, at most {GOAL_FLAT}x: {verdict(growth <= GOAL_FLAT)})"
    )


if __name__ == "__main__":
    main()
