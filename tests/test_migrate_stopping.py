"""Stopping cleanly, against the real local tenant: at the end of the --window and on SIGTERM,
every run resumable."""

import asyncio
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from migrate_setup import LABEL, MIB, cli, prepare, transfers
from test_migrate_engine import ALICE

from hdrive_migrate.migrate.limits import Window
from hdrive_migrate.migrate.progress import Observer
from hdrive_migrate.migrate.run import Engine, MigrateOptions
from hdrive_migrate.workspace import open_workspace

from conftest import require_binary


class ShiftedClock:
    """The system clock, whose wall time a test can move forward."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class JumpAfterFirstFile(Observer):
    def __init__(self, clock: ShiftedClock) -> None:
        self.clock = clock

    def file_done(self, upn, path, state, reason, sent) -> None:
        self.clock.shift = timedelta(hours=3)


def test_the_run_stops_cleanly_at_the_end_of_its_window(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    files = {"alice": {f"f{n:02d}.txt": b"x" * n for n in range(20)}}
    setup = prepare(tmp_path, tenant, files, {"alice": ALICE})
    local = datetime.now().astimezone()
    window = Window((local - timedelta(hours=1)).time(), (local + timedelta(hours=1)).time())
    clock = ShiftedClock()
    with open_workspace(setup.ws) as ws:
        engine = Engine(
            ws, MigrateOptions(concurrency=1, window=window), JumpAfterFirstFile(clock), clock=clock
        )
        result = asyncio.run(engine.run("test"))
    assert (result.status, result.stop_cause) == ("stopped", "window")
    assert 1 <= result.outcomes["migrated"] < 20
    rows = transfers(setup.ws)
    assert {row["state"] for row in rows.values()} == {"migrated"}
    rest = cli(setup.ws, "migrate")
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert len(transfers(setup.ws)) == 20


def test_sigterm_stops_cleanly_and_says_how_to_resume(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    files = {"alice": {f"f{n}.bin": os.urandom(MIB) for n in range(6)}}
    setup = prepare(tmp_path, tenant, files, {"alice": ALICE})
    command = [str(require_binary("hdrive-migrate")), "migrate", "-w", str(setup.ws)]
    # 4 megabits a second: half a megabyte a second, two seconds a file.
    process = subprocess.Popen(
        [*command, "--concurrency", "1", "--max-mbps", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any("createUploadSession" in r["path"] for r in tenant.requests()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stdout + stderr
    assert "stopped by SIGTERM. Fix: run the same command again" in stderr
    assert "Traceback" not in stderr
    with open_workspace(setup.ws) as ws:
        (status,) = ws.db.execute("SELECT status FROM migrate_runs").fetchone()
    assert status == "stopped"
    assert len(transfers(setup.ws)) < 6
    rest = cli(setup.ws, "migrate")
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert {row["state"] for row in transfers(setup.ws).values()} == {"migrated"}
    assert len(transfers(setup.ws)) == 6
