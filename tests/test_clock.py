"""One clock convention (clock.py): code with side effects takes a Clock, pure code takes plain
values, and nothing but clock.py reads the system clock, so tests drive time themselves. The
local tenant is apart: it imports nothing from the pipeline and keeps its own clock."""

import ast
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import hdrive_migrate
from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.migrate.progress import JsonLog
from hdrive_migrate.plan.holds import Holds
from hdrive_migrate.plan.names import NameMapping
from hdrive_migrate.plan.run import PlanRequest, plan
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.run import ScanOptions, scan_user
from hdrive_migrate.sources.local import LocalSource
from hdrive_migrate.store import now_text
from hdrive_migrate.workspace import create_workspace

PACKAGE = Path(hdrive_migrate.__file__).parent
POLICY = PACKAGE.parent.parent / "policies" / "personal-files.yaml"
CLOCK_READS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "sleep"},
}
MOMENT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return MOMENT

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        return None


def clock_reads(path: Path) -> list[str]:
    """`module.name` of each direct read of the system clock in PATH."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in CLOCK_READS:
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name in CLOCK_READS[node.module]
            ]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in CLOCK_READS.get(node.value.id, ())
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_only_clock_py_reads_the_system_clock():
    files = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "clock.py" and "tenant" not in path.relative_to(PACKAGE).parts
    ]
    assert len(files) > 50
    offending = {
        f"{path.relative_to(PACKAGE)}: {read}" for path in files for read in clock_reads(path)
    }
    assert offending == set()


def test_the_check_sees_a_clock_read(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import time\nfrom datetime import date, datetime\nfrom time import monotonic\n"
        "a = datetime.now()\nb = date.today()\nc = time.time()\nd = time.sleep\n"
    )
    assert sorted(clock_reads(planted)) == [
        "date.today",
        "datetime.now",
        "time.monotonic",
        "time.sleep",
        "time.time",
    ]


def test_now_text_takes_the_clock():
    assert now_text(FixedClock()) == "2030-01-02T03:04:05+00:00"


@pytest.fixture
def workspace(tmp_path) -> tuple[Path, Path]:
    home = tmp_path / "homes" / "alice" / "Documents"
    home.mkdir(parents=True)
    (home / "notes.docx").write_text("notes")
    ws = tmp_path / "ws"
    settings = Config(
        source_root=str(tmp_path / "homes"),
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
    )
    with create_workspace(ws, settings) as opened, opened.db.conn:
        opened.db.execute(
            "INSERT INTO users(upn, folder, imported_at, updated_at)"
            " VALUES ('alice@c.test', 'alice', '', '')"
        )
    return ws, tmp_path / "homes"


def rows(ws: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as conn:
        return conn.execute(sql).fetchall()


def test_a_scan_and_a_plan_record_the_times_of_the_clock_they_are_given(workspace):
    ws, homes = workspace
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(ws) as opened:
        options = ScanOptions("H Drive", Excludes(), hashed=True, clock=FixedClock())
        result = scan_user(opened.db, LocalSource(homes), "alice@c.test", "alice", options)
        assert result.status == "complete"
        request = PlanRequest(
            policy_file=POLICY,
            holds=Holds(),
            as_of=date(2026, 1, 1),
            atime_trusted=False,
            target_folder="H Drive",
            mapping=NameMapping(style="fullwidth", replacement="_"),
            clock=FixedClock(),
        )
        assert plan(opened.db, ["alice@c.test"], request).planned == ["alice@c.test"]
    stamp = "2030-01-02T03:04:05+00:00"
    assert rows(ws, "SELECT started_at, finished_at FROM scans") == [(stamp, stamp)]
    assert rows(ws, "SELECT started_at, finished_at FROM plan_runs") == [(stamp, stamp)]
    events = dict(rows(ws, "SELECT action, at FROM events WHERE action IN ('scan', 'plan')"))
    assert events == {
        "scan": "2030-01-02T03:04:05.000+00:00",
        "plan": "2030-01-02T03:04:05.000+00:00",
    }


def test_the_migrate_log_stamps_lines_by_its_clock(tmp_path):
    log = JsonLog(tmp_path, clock=FixedClock())
    log.started(1, users=1, files=2, size=3)
    log.note("hello")
    log.finished("complete")
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert {line["ts"] for line in lines} == {MOMENT.timestamp()}
