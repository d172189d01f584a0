"""Planner speed: decisions per second over generated inventory records, beside a baseline of
only reading the same rows from the database, measured in the same run.

Goal: planning costs at most 3x the read, and at least 100,000 decisions/s.

    python bench/plan.py [--files 1000000] [--users 50]
"""

import argparse
import hashlib
import importlib.util
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("hdrive_migrate") is None:
    sys.exit(
        "bench/plan.py: hdrive_migrate is not importable. "
        "Fix: run `make bench`, or run it with .venv/bin/python"
    )

from hdrive_migrate.config import Auth, Config, GraphSettings  # noqa: E402
from hdrive_migrate.plan.holds import Holds  # noqa: E402
from hdrive_migrate.plan.names import NameMapping  # noqa: E402
from hdrive_migrate.plan.run import PlanRequest, plan  # noqa: E402
from hdrive_migrate.workspace import create_workspace  # noqa: E402

from hometree import user_files  # noqa: E402

POLICY = HERE.parent / "policies" / "personal-files.yaml"
GOAL_RATIO = 3
GOAL_RATE = 100_000
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Config(
            source_root=folder, graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL)
        )
        with create_workspace(Path(folder) / "ws", settings) as ws:
            upns = fill(ws.db, args.files, args.users)
            read_all(ws.db, upns)  # warm the page cache for both measurements
            read_seconds, files = read_all(ws.db, upns)
            print(f"planner: {files:,} file records over {args.users} users, policy {POLICY.name}")
            rate = files / read_seconds
            print(
                f"read     {rate:>12,.0f} rows/s       ({read_seconds:.2f} s, baseline)", flush=True
            )
            request = PlanRequest(POLICY, Holds(), date.today(), False, "H Drive", NameMapping())
            started = time.perf_counter()
            result = plan(ws.db, upns, request)
            plan_seconds = time.perf_counter() - started
    rate = result.decisions / plan_seconds
    print(
        f"plan     {rate:>12,.0f} decisions/s  ({plan_seconds:.2f} s; "
        f"goal at least {GOAL_RATE:,}/s: {verdict(rate >= GOAL_RATE)})"
    )
    ratio = plan_seconds / read_seconds
    print(
        f"planning costs {ratio:.1f}x the read "
        f"(goal at most {GOAL_RATIO}x: {verdict(ratio <= GOAL_RATIO)})"
    )
    print(
        "decisions by action: "
        + ", ".join(f"{action} {count:,}" for action, count in sorted(result.by_action.items()))
    )


if __name__ == "__main__":
    main()
