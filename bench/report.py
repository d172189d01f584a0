"""Report and status speed on a generated workspace, beside the time to merely count the rows.

The workspace's rows are written directly (users, scans, files with hashes, one plan run with
the shipped policy's rules, decisions in a realistic mix, a few reviews, transfers for most
files decided migrate, with failures, blocks and open sessions), no scan or migration run:
- `status`: latency for one user, as the whole `hdrive-migrate status UPN --json` process and
  as the library call (migrate.status.report); goal under 200 ms for the whole process (start-up
  included: bench/start.py breaks it down) and under 100 ms for the library call.
- `report`: the whole `hdrive-migrate report --wave W` process for a wave of --users users and
  --files files, beside `SELECT count(*)` over the same join (users, plans, decisions, files,
  transfers); goal at most 5x the count.
- memory: the report's peak resident memory (its own rusage, read by bench/peak.py's launcher)
  for that wave and for a wave of --compare-files files; goal flat (the larger at most 1.25x
  the smaller).

    python bench/report.py [--users 200] [--files 1000000] [--compare-files 200000]

Run it tiny while developing: --users 20 --files 20000 --compare-files 4000.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BIN = Path(sys.executable).parent
HDRIVE = BIN / "hdrive-migrate"
if importlib.util.find_spec("hdrive_migrate") is None or not HDRIVE.exists():
    sys.exit(
        f"bench/report.py: hdrive_migrate or {HDRIVE} is missing. "
        "Fix: run `make bench`, or run it with .venv/bin/python"
    )

from hdrive_migrate.config import Auth, Config, GraphSettings  # noqa: E402
from hdrive_migrate.migrate.status import report as status_report  # noqa: E402
from hdrive_migrate.workspace import create_workspace, open_workspace  # noqa: E402

from hometree import user_files  # noqa: E402
from peak import run_measured  # noqa: E402

GOAL_STATUS_MS = 100  # the library call
GOAL_STATUS_PROCESS_MS = 200  # the whole process, start-up included
GOAL_RATIO = 5
GOAL_FLAT = 1.25
SEED = 9
BIG, SMALL = "big", "small"
# (rule id, kind, action, label, description), as the shipped policy's.
RULES = (
    ("G1", "guard", "hold", None, "On the hold register"),
    ("G2", "guard", "divert_evidence", None, "Evidential material"),
    ("R1", "rule", "exclude", None, "Temporary and system clutter"),
    ("R3", "rule", "review", None, "Mail archives"),
    ("R7", "rule", "dispose_after_approval", None, "Not modified for more than six years"),
    ("R8", "rule", "migrate", "Personal working files", "Everything else"),
)
# Share of decisions per rule index, and of migrate decisions per transfer state.
DECISION_MIX = (2, 1, 8, 6, 8, 75)
STATE_MIX = (
    ("migrated", 78),
    ("renamed", 2),
    ("skipped-identical", 5),
    ("failed", 4),
    ("blocked", 1),
    ("sending", 1),
    (None, 9),
)
REASONS = ("changed-during-migration", "source-unreadable", "path-too-long", "target-busy")
START = 1_780_000_000  # transfers finish over ten hours from here


def fill(db, wave: str, users: int, files: int, first: int, rng: random.Random) -> list[str]:
    """USERS users of WAVE holding FILES files in all, planned and partly migrated."""
    run_id = _plan_run(db)
    upns = []
    for number in range(first, first + users):
        upn = f"user{number:05d}@bench.test"
        upns.append(upn)
        _, listing = user_files(f"user{number:05d}", files // users, rng)
        with db.conn:
            _user(db, upn, wave, run_id, number)
            _files(db, upn, run_id, listing, rng)
    return upns


def _plan_run(db) -> int:
    found = db.execute("SELECT id FROM plan_runs").fetchone()
    if found:
        return found[0]
    with db.conn:
        run_id = db.execute(
            "INSERT INTO plan_runs(policy_id, policy_version, policy_sha256, policy_file,"
            " policy_labels, policy_approved_by, target_folder, as_of, tool_version, started_at,"
            " finished_at, status) VALUES ('personal-files', '1.0.0', ?, 'personal-files.yaml',"
            " '[]', '[\"Records\"]', 'H Drive', '2026-01-01', 'bench', '2026-01-01T00:00:00+00:00',"
            " '2026-01-01T01:00:00+00:00', 'complete')",
            [hashlib.sha256(b"policy").hexdigest()],
        ).lastrowid
        db.conn.executemany(
            "INSERT INTO plan_rules VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, idx, *rule) for idx, rule in enumerate(RULES)],
        )
        db.execute(
            "INSERT INTO migrate_runs(id, started_at, status, selection, operator, concurrency,"
            " chunk_bytes) VALUES (1, '2026-05-01T00:00:00+00:00', 'complete', '{}', 'bench',"
            " 16, 10485760)"
        )
    return run_id


def _user(db, upn: str, wave: str, run_id: int, number: int) -> None:
    folder = upn.split("@")[0]
    db.execute(
        "INSERT INTO users(upn, folder, wave, imported_at, updated_at) VALUES (?, ?, ?, '', '')",
        [upn, folder, wave],
    )
    db.execute(
        "INSERT INTO scans(upn, status, hashed, atime_trusted, started_at, finished_at, files,"
        " bytes) VALUES (?, 'complete', 1, 0, '2026-01-01T00:00:00+00:00',"
        " '2026-01-01T00:10:00+00:00', 0, 0)",
        [upn],
    )
    db.execute("INSERT INTO plan_users VALUES (?, ?)", [upn, run_id])
    if number % 50 == 7:  # one user in fifty is blocked
        db.execute(
            "INSERT INTO user_blocks VALUES (?, 'quota-full', 'needs more', 1,"
            " '2026-05-01T05:00:00+00:00')",
            [upn],
        )


def _files(db, upn: str, run_id: int, listing, rng: random.Random) -> None:
    files, decisions, transfers, reviews = [], [], [], []
    states, weights = zip(*STATE_MIX, strict=True)
    for path, size, modified in listing:
        relative = str(path.relative_to(path.parts[0]))
        sha = hashlib.sha256(relative.encode()).hexdigest()
        quick = f"{rng.getrandbits(160):040x}"
        files.append((upn, relative, size, modified, modified, modified, sha, quick))
        idx = rng.choices(range(len(RULES)), DECISION_MIX)[0]
        action = RULES[idx][2]
        decisions.append(
            (
                run_id,
                upn,
                relative,
                action,
                idx,
                1 << idx,
                f"{RULES[idx][0]} matched",
                f"H Drive/{relative}",
            )
        )
        if action == "review" and rng.random() < 0.2:
            reviews.append(
                (
                    run_id,
                    upn,
                    relative,
                    "migrate",
                    "Personal working files",
                    "Reviewer",
                    "reviews.csv",
                    len(reviews) + 2,
                    "2026-02-01",
                )
            )
        if action != "migrate":
            continue
        state = rng.choices(states, weights)[0]
        if state is None:
            continue
        finished = START + rng.uniform(0, 36_000)
        at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(finished))
        reason = rng.choice(REASONS) if state in ("failed", "blocked") else None
        transfers.append(
            (
                upn,
                relative,
                state,
                f"H Drive/{relative}",
                size,
                modified,
                sha,
                quick,
                f"01ITEM{rng.getrandbits(64):016X}",
                reason,
                at,
                None if state == "sending" else at,
            )
        )
    db.execute(
        "UPDATE scans SET files = ?, bytes = ? WHERE upn = ?",
        [len(files), sum(file[2] for file in files), upn],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO files(upn, path, is_dir, size, created, modified, accessed,"
        " attributes, link, sha256, quick_xor, seen_scan, change)"
        " VALUES (?, ?, 0, ?, ?, ?, ?, 32, 0, ?, ?, 1, 'new')",
        files,
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", decisions
    )
    db.conn.executemany(
        "INSERT INTO reviews(run_id, upn, path, decision, label, reviewer, source_file,"
        " source_line, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        reviews,
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO transfers(upn, path, state, target_path, source_size,"
        " source_modified, sha256, quick_xor, item_id, reason, run_id, started_at, finished_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        transfers,
    )


COUNT_SQL = """
    SELECT count(*) FROM users AS u
    JOIN plan_users AS pu ON pu.upn = u.upn
    JOIN decisions AS d ON d.run_id = pu.run_id AND d.upn = pu.upn
    JOIN files AS f ON f.upn = d.upn AND f.path = d.path
    LEFT JOIN transfers AS t ON t.upn = d.upn AND t.path = d.path
    WHERE u.wave = ?
"""


def count_rows(ws_dir: Path, wave: str) -> tuple[float, int]:
    with open_workspace(ws_dir) as ws:
        ws.db.execute(COUNT_SQL, [wave]).fetchone()  # warm the page cache
        started = time.perf_counter()
        rows = ws.db.execute(COUNT_SQL, [wave]).fetchone()[0]
        return time.perf_counter() - started, rows


def status_latency(ws_dir: Path, upn: str, runs: int) -> tuple[float, float]:
    """Median seconds of the whole `status --json` process and of the library call."""
    whole = []
    for _ in range(runs):
        command = [str(HDRIVE), "status", upn, "--json", "-w", str(ws_dir)]
        seconds, _, out, _ = run_measured(command)
        json.loads(out)
        whole.append(seconds)
    calls = []
    with open_workspace(ws_dir) as ws:
        status_report(ws.db, upn)
        for _ in range(runs):
            started = time.perf_counter()
            status_report(ws.db, upn)
            calls.append(time.perf_counter() - started)
    return sorted(whole)[runs // 2], sorted(calls)[runs // 2]


def library_report(ws_dir: Path, out: Path) -> float:
    """Seconds of export_report for wave BIG, in this process."""
    from hdrive_migrate.report.export import export_report
    from hdrive_migrate.users.roster import select_users

    with open_workspace(ws_dir) as ws:
        users = select_users(ws.db, wave=BIG)
        started = time.perf_counter()
        export_report(
            ws.db,
            users,
            source_root=ws.config.source_root,
            title=BIG,
            out=out,
            workspace=ws.dir,
            force=False,
            now=datetime.now(UTC),
        )
        return time.perf_counter() - started


def verdict(met: bool) -> str:
    return "goal met" if met else "goal NOT met"


def check_tools() -> None:
    missing = [tool for tool in ("sha256sum",) if shutil.which(tool) is None]
    if missing:
        sys.exit(f"bench/report.py: {', '.join(missing)} not found. Fix: install coreutils")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--compare-files", type=int, default=200_000)
    parser.add_argument("--status-runs", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="Make the workspace here and keep it.")
    args = parser.parse_args()
    check_tools()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        ws_dir = root / "ws"
        settings = Config(
            source_root="\\\\files01\\home",
            graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
        )
        rng = random.Random(SEED)
        started = time.perf_counter()
        with create_workspace(ws_dir, settings) as ws:
            upns = fill(ws.db, BIG, args.users, args.files, 0, rng)
            fill(ws.db, SMALL, args.users, args.compare_files, args.users, rng)
        # The generator's gigabyte of writes would otherwise still be going to disk, and the
        # report's first fsync would wait for it: it belongs to neither measurement.
        os.sync()
        print(
            f"workspace: wave {BIG} {args.users} users {args.files:,} files, wave {SMALL} "
            f"{args.users} users {args.compare_files:,} files "
            f"(generated in {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        measure(ws_dir, upns[1], args)


def measure(ws_dir: Path, upn: str, args) -> None:
    whole, call = status_latency(ws_dir, upn, args.status_runs)
    print(
        f"status   {whole * 1000:8.1f} ms whole process (`status UPN --json`, median of "
        f"{args.status_runs}; goal under {GOAL_STATUS_PROCESS_MS} ms: "
        f"{verdict(whole * 1000 < GOAL_STATUS_PROCESS_MS)})"
    )
    print(
        f"status   {call * 1000:8.1f} ms library call (migrate.status.report; goal under "
        f"{GOAL_STATUS_MS} ms: {verdict(call * 1000 < GOAL_STATUS_MS)})",
        flush=True,
    )
    peaks = {}
    for wave in (SMALL, BIG):
        count_seconds, rows = count_rows(ws_dir, wave)
        out = ws_dir.parent / f"report-{wave}"
        command = [str(HDRIVE), "report", "--wave", wave, "--out", str(out), "-w", str(ws_dir)]
        seconds, peak, _, _ = run_measured(command)
        peaks[wave] = peak
        ratio = seconds / count_seconds
        check = subprocess.run(
            ["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, capture_output=True
        )
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            f"wave {wave:5} count {rows:>9,} rows in {count_seconds:6.2f} s; report "
            f"{seconds:6.2f} s = {ratio:5.1f}x the count (goal at most {GOAL_RATIO}x: "
            f"{verdict(ratio <= GOAL_RATIO)}); peak memory {peak / 1024**2:6.1f} MiB; "
            f"{size / 2**20:,.0f} MiB written; sha256sum -c "
            f"{'passed' if check.returncode == 0 else 'FAILED'}",
            flush=True,
        )
    library = library_report(ws_dir, ws_dir.parent / "report-library")
    print(f"report   {library:8.2f} s library call for wave {BIG} (export_report, no startup)")
    growth = peaks[BIG] / peaks[SMALL]
    print(
        f"memory   {args.files:,} files peak {growth:.2f}x that of {args.compare_files:,} "
        f"(goal flat, at most {GOAL_FLAT}x: {verdict(growth <= GOAL_FLAT)})"
    )


if __name__ == "__main__":
    main()
