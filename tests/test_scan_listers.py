"""Listing in lister processes beside the writer: the same inventory as listing in-process,
whatever the number of listers; their number from [scan] listers or --listers; a lost source
in a lister stops the scan with its one line."""

import os
import signal
import sqlite3
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest
from test_scan import add_user, cli, make_home

from hdrive_migrate.config import CONFIG_NAME, Auth, Config, GraphSettings, load_config
from hdrive_migrate.errors import ConfigError
from hdrive_migrate.scan.batches import BATCH_ROWS
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.run import ScanOptions, scan_user, scan_users
from hdrive_migrate.sources import SourceError
from hdrive_migrate.sources.open import open_source
from hdrive_migrate.workspace import create_workspace, open_workspace

from conftest import require_binary

USERS = [
    ("alice@contoso.test", "alice"),
    ("bob@contoso.test", "bob"),
    ("dave@contoso.test", "dave"),  # no folder: fails alone
]


def make_workspace(folder: Path, source: Path) -> Path:
    settings = Config(
        source_root=str(source),
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
        scan_exclude=("AppData/**",),
    )
    create_workspace(folder, settings).close()
    with open_workspace(folder) as ws:
        for upn, home in USERS:
            add_user(ws.db, upn, home)
    return folder


def big_home(root: Path) -> None:
    """More folders than one batch holds, spread over two users."""
    for user in ("alice", "bob"):
        for number in range(60):
            folder = root / user / f"folder {number}" / "inner"
            folder.mkdir(parents=True)
            for name in range(100):
                (folder / f"file {name}.txt").write_bytes(b"x" * name)


def snapshot(folder: Path) -> tuple[set, set]:
    db = sqlite3.connect(folder / "state.db")
    try:
        files = set(db.execute("SELECT upn, path, is_dir, size, modified, change FROM files"))
        found = set(db.execute("SELECT upn, kind, path FROM findings"))
        return files, found
    finally:
        db.close()


def options(ws, listers: int | None = None) -> ScanOptions:
    return ScanOptions(
        target_folder=ws.config.target_folder,
        excludes=Excludes(ws.config.scan_exclude),
        hashed=True,
        listers=listers,
    )


@pytest.mark.parametrize("listers", [1, 3])
def test_lister_processes_give_the_inventory_listing_in_process_gives(tmp_path, listers):
    source = tmp_path / "homes"
    make_home(source)
    big_home(source)
    in_process = make_workspace(tmp_path / "in-process", source)
    with open_workspace(in_process) as ws:
        local = open_source(ws.config.source_root)
        single = [scan_user(ws.db, local, upn, home, options(ws)) for upn, home in USERS]
    pooled = make_workspace(tmp_path / "pooled", source)
    with open_workspace(pooled) as ws:
        local = open_source(ws.config.source_root)
        opener = partial(open_source, ws.config.source_root)
        results = scan_users(ws.db, local, opener, USERS, options(ws, listers))
    assert [r.upn for r in results] == [upn for upn, _ in USERS]
    assert [(r.status, r.counts, r.findings) for r in results] == [
        (r.status, r.counts, r.findings) for r in single
    ]
    on_disk = sum(1 for path in (source / "bob").rglob("*") if path.is_file())
    assert results[1].counts.files == on_disk > BATCH_ROWS and results[2].status == "failed"
    assert snapshot(pooled) == snapshot(in_process)


def test_a_source_a_lister_cannot_open_stops_the_scan(tmp_path):
    source = tmp_path / "homes"
    make_home(source)
    folder = make_workspace(tmp_path / "ws", source)

    def refused():
        raise SourceError("the server refused the login as x", fix="check the password")

    with open_workspace(folder) as ws, pytest.raises(SourceError, match="refused the login"):
        scan_users(ws.db, open_source(ws.config.source_root), refused, USERS, options(ws, 2))


def test_listers_come_from_the_settings_file_and_the_option(tmp_path):
    source = tmp_path / "homes"
    make_home(source)
    folder = make_workspace(tmp_path / "ws", source)
    config = folder / CONFIG_NAME
    written = config.read_text()
    assert "\n# listers = 4\n" in written and load_config(folder).scan_listers is None
    config.write_text(written.replace("[scan]\n", "[scan]\nlisters = 3\n", 1))
    assert load_config(folder).scan_listers == 3
    result = cli(folder, "scan", "--user", "alice@contoso.test", "--listers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("✓ alice@contoso.test")
    refused = cli(folder, "scan", "--listers", "0")
    assert refused.returncode == 2 and "--listers" in refused.stderr


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("listers = 0", "[scan] listers = 0 is outside 1-256"),
        ('listers = "4"', "[scan] listers must be a whole number, not str"),
    ],
)
def test_a_bad_listers_setting_names_its_line(tmp_path, line, words):
    (tmp_path / CONFIG_NAME).write_text(f'[source]\nroot = "/srv/home"\n[scan]\n{line}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / CONFIG_NAME}:4: {words}. Fix: ")


def test_ctrl_c_stops_the_listers_too_with_one_line(tmp_path):
    source = tmp_path / "homes"
    big_home(source)
    folder = make_workspace(tmp_path / "ws", source)
    command = subprocess.Popen(
        [str(require_binary("hdrive-migrate")), "scan", "--hash", "--listers", "2", "-w", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    while len(children(command.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    listers = children(command.pid)
    assert len(listers) == 2, "the listers did not start"
    os.killpg(command.pid, signal.SIGINT)  # Ctrl-C reaches every process of the group
    _, err = command.communicate(timeout=30)
    assert command.returncode == 130, err
    assert err == (
        "stopped by Ctrl-C. Fix: run the same command again; it resumes, and what was finished "
        "is kept\n"
    )
    assert not any(Path(f"/proc/{pid}").exists() for pid in listers)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found
