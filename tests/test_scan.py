"""The scanner over a local tree: inventory, findings, deltas, hashing, resume after a kill, and
a source left exactly as it was."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.display import counted, size_text
from hdrive_migrate.policy.units import parse_size
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.inventory import inventory_counts
from hdrive_migrate.scan.run import ScanOptions, scan_user
from hdrive_migrate.sources.open import open_source
from hdrive_migrate.workspace import create_workspace, open_workspace

from conftest import require_binary

DAY = 86400
HELLO_QUICK_XOR = "aCgDG9jwBhDc4Q1yawMZAAAAAAA="


def make_home(root: Path) -> None:
    home = root / "alice"
    (home / "Documents" / "Reports").mkdir(parents=True)
    (home / "Documents" / "report.docx").write_bytes(b"docx" * 100)
    (home / "Documents" / "Reports" / "hello.txt").write_bytes(b"hello world")
    (home / "Documents" / "bad: name?.txt").write_text("x")
    (home / "Documents" / "CON").write_text("x")
    (home / "~$lock.docx").write_text("x")
    (home / "trailing.").write_text("x")
    (home / ".hidden").write_text("x")
    (home / ".snapshot" / "daily").mkdir(parents=True)
    (home / ".snapshot" / "daily" / "copy.docx").write_text("x")
    (home / "AppData" / "Local").mkdir(parents=True)
    (home / "AppData" / "Local" / "cache.bin").write_text("x")
    deep = home / "deep"
    for level in range(8):
        deep = deep / ("d" * 50 + str(level))
    deep.mkdir(parents=True)
    (deep / "far.txt").write_text("far")
    (home / "link-to-docs").symlink_to(home / "Documents")
    (root / "bob" / "Desktop").mkdir(parents=True)
    (root / "bob" / "Desktop" / "note.txt").write_text("note")


def age_tree(root: Path) -> dict[str, tuple[int, int]]:
    """Set every time well in the past (atime newer than mtime but older than a day, so a
    relatime mount would update it on a plain read); return path -> (atime_ns, mtime_ns)."""
    now = time.time()
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (now - 3 * DAY, now - 4 * DAY), follow_symlinks=False)
    return times_of(root)


def times_of(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.lstat().st_atime_ns, path.lstat().st_mtime_ns)
        for path in [root, *root.rglob("*")]
    }


@pytest.fixture
def workspace(tmp_path):
    source = tmp_path / "homes"
    make_home(source)
    settings = Config(
        source_root=str(source),
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
        scan_exclude=("AppData/**",),
    )
    ws_dir = tmp_path / "ws"
    create_workspace(ws_dir, settings).close()
    with open_workspace(ws_dir) as ws:
        add_user(ws.db, "alice@contoso.test", "alice")
        add_user(ws.db, "bob@contoso.test", "bob")
        add_user(ws.db, "dave@contoso.test", "dave")
    return ws_dir, source


def add_user(db, upn: str, folder: str) -> None:
    with db.conn:
        db.execute(
            "INSERT INTO users(upn, folder, wave, imported_at, updated_at)"
            " VALUES (?, ?, 'Wave 1', '', '')",
            [upn, folder],
        )


def scan(ws_dir: Path, upn: str, folder: str, **options):
    with open_workspace(ws_dir) as ws:
        source = open_source(ws.config.source_root)
        chosen = ScanOptions(
            target_folder=ws.config.target_folder,
            excludes=Excludes(ws.config.scan_exclude),
            **options,
        )
        return scan_user(ws.db, source, upn, folder, chosen)


def rows(ws_dir: Path, upn: str) -> dict[str, dict]:
    with open_workspace(ws_dir) as ws:
        return {row["path"]: row for row in ws.db.query("SELECT * FROM files WHERE upn = ?", [upn])}


def findings(ws_dir: Path, upn: str) -> set[tuple[str, str]]:
    with open_workspace(ws_dir) as ws:
        return {
            (row["kind"], row["path"])
            for row in ws.db.query(
                "SELECT kind, path FROM findings WHERE upn = ? AND stage = 'scan'", [upn]
            )
        }


def test_inventory_records_files_and_folders_without_following_links(workspace):
    ws_dir, source = workspace
    result = scan(ws_dir, "alice@contoso.test", "alice")
    assert result.status == "complete"
    inventory = rows(ws_dir, "alice@contoso.test")
    report = inventory["Documents/report.docx"]
    stat = (source / "alice/Documents/report.docx").stat()
    assert (report["size"], report["modified"], report["is_dir"]) == (400, stat.st_mtime, 0)
    assert inventory["Documents"]["is_dir"] == 1
    assert inventory["link-to-docs"]["link"] == 1
    assert not any(path.startswith("link-to-docs/") for path in inventory)
    assert not any(".snapshot" in path for path in inventory)
    assert not any(path.startswith("AppData") for path in inventory)
    assert ".hidden" in inventory
    assert result.counts.files == sum(1 for row in inventory.values() if not row["is_dir"])


def test_a_first_scan_counts_what_it_listed_as_the_database_counts_it(workspace):
    """A first scan takes its counts from its batches rather than a pass over the rows; the
    pass would have found the same."""
    ws_dir, _ = workspace
    first = scan(ws_dir, "alice@contoso.test", "alice")
    with open_workspace(ws_dir) as ws:
        counted_by_database = inventory_counts(ws.db, "alice@contoso.test", first.scan_id)
    assert first.counts == counted_by_database
    assert (first.counts.files, first.counts.new, first.counts.folders) == (9, 9, 11)


def test_findings_name_what_onedrive_refuses(workspace):
    ws_dir, _ = workspace
    scan(ws_dir, "alice@contoso.test", "alice")
    found = findings(ws_dir, "alice@contoso.test")
    assert ("forbidden_characters", "Documents/bad: name?.txt") in found
    assert ("reserved_name", "Documents/CON") in found
    assert ("office_lock_file", "~$lock.docx") in found
    assert ("trailing_dot", "trailing.") in found
    assert ("link", "link-to-docs") in found
    assert any(kind == "path_too_long" and path.endswith("far.txt") for kind, path in found)
    assert not any(path == "Documents/report.docx" for _, path in found)


def test_one_users_missing_folder_does_not_stop_the_others(workspace):
    ws_dir, _ = workspace
    missing = scan(ws_dir, "dave@contoso.test", "dave")
    assert missing.status == "failed"
    assert findings(ws_dir, "dave@contoso.test") == {("folder_missing", "")}
    assert scan(ws_dir, "bob@contoso.test", "bob").status == "complete"


def test_rescan_records_new_changed_unchanged_and_deleted(workspace):
    ws_dir, source = workspace
    first = scan(ws_dir, "bob@contoso.test", "bob")
    assert (first.counts.new, first.counts.files) == (1, 1)
    desktop = source / "bob" / "Desktop"
    (desktop / "added.txt").write_text("new")
    (desktop / "kept.txt").write_text("kept")
    second = scan(ws_dir, "bob@contoso.test", "bob")
    assert (second.counts.new, second.counts.unchanged) == (2, 1)
    (desktop / "note.txt").write_text("note, longer now")
    (desktop / "added.txt").unlink()
    third = scan(ws_dir, "bob@contoso.test", "bob")
    counts = third.counts
    assert (counts.new, counts.changed, counts.unchanged, counts.deleted) == (0, 1, 1, 1)
    assert rows(ws_dir, "bob@contoso.test")["Desktop/added.txt"]["change"] == "deleted"
    (desktop / "added.txt").write_text("back")
    assert scan(ws_dir, "bob@contoso.test", "bob").counts.new == 1


def test_hash_reads_once_for_both_hashes_and_only_what_changed(workspace):
    ws_dir, source = workspace
    scan(ws_dir, "alice@contoso.test", "alice", hashed=True)
    hello = rows(ws_dir, "alice@contoso.test")["Documents/Reports/hello.txt"]
    assert hello["sha256"] == hashlib.sha256(b"hello world").hexdigest()
    assert hello["quick_xor"] == HELLO_QUICK_XOR
    assert rows(ws_dir, "alice@contoso.test")["Documents"]["sha256"] is None
    (source / "alice/Documents/report.docx").write_bytes(b"changed")
    scan(ws_dir, "alice@contoso.test", "alice")
    after = rows(ws_dir, "alice@contoso.test")
    assert after["Documents/report.docx"]["sha256"] is None
    assert after["Documents/Reports/hello.txt"]["quick_xor"] == HELLO_QUICK_XOR


def test_scanning_and_hashing_leave_the_source_untouched(workspace):
    ws_dir, source = workspace
    before = age_tree(source)
    scan(ws_dir, "alice@contoso.test", "alice", hashed=True)
    scan(ws_dir, "bob@contoso.test", "bob", hashed=True)
    assert times_of(source) == before
    # The guard is real: a plain read of the same kind of file moves its access time.
    probe = source / "bob/Desktop/note.txt"
    probe.read_bytes()
    assert probe.stat().st_atime_ns != before[str(probe)][0]


def cli(ws_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(require_binary("hdrive-migrate")), *args, "-w", str(ws_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_scan_command_and_json_summary(workspace):
    ws_dir, _ = workspace
    result = cli(ws_dir, "scan", "--wave", "Wave 1")
    assert result.returncode == 1  # dave's folder is missing
    assert "✗ dave@contoso.test" in result.stdout
    assert "✓ alice@contoso.test" in result.stdout
    summary = json.loads(cli(ws_dir, "scan", "summary", "--json").stdout)
    by_user = {entry["upn"]: entry for entry in summary}
    alice = by_user["alice@contoso.test"]
    assert {"upn", "files", "folders", "bytes", "findings"} <= alice.keys()
    assert alice["findings"]["forbidden_characters"] == 1
    assert by_user["bob@contoso.test"]["files"] == 1
    assert by_user["dave@contoso.test"]["status"] == "failed"
    text = cli(ws_dir, "scan", "summary")
    assert "alice@contoso.test" in text.stdout and "forbidden_characters 1" in text.stdout


def inventory_snapshot(ws_dir: Path) -> set[tuple]:
    db = sqlite3.connect(ws_dir / "state.db")
    try:
        return set(
            db.execute("SELECT upn, path, is_dir, size, modified, change FROM files").fetchall()
        )
    finally:
        db.close()


def test_a_killed_scan_resumes_to_the_same_inventory(tmp_path):
    source = tmp_path / "homes"
    for folder in range(200):
        directory = source / "carol" / f"folder {folder}"
        directory.mkdir(parents=True)
        for number in range(150):
            (directory / f"file {number}.txt").write_bytes(b"x" * number)
    settings = Config(
        source_root=str(source), graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL)
    )
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for ws_dir in (killed, clean):
        create_workspace(ws_dir, settings).close()
        with open_workspace(ws_dir) as ws:
            add_user(ws.db, "carol@contoso.test", "carol")
    command = [str(require_binary("hdrive-migrate")), "scan", "--hash", "-w", str(killed)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not inventory_snapshot(killed):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = inventory_snapshot(killed)
    assert 0 < len(partial) < 200 * 151, "the scan was not caught part-way"
    assert cli(killed, "scan", "--hash").returncode == 0
    assert cli(clean, "scan", "--hash").returncode == 0
    assert inventory_snapshot(killed) == inventory_snapshot(clean)
    assert {row[5] for row in inventory_snapshot(killed)} == {"new"}


class LostShare:
    """A source whose connection is lost after the top folder: not a per-folder problem."""

    parallel_listings = 4

    def list_dir(self, path: str):
        from hdrive_migrate.sources import Entry, SourceError

        if path == "top":
            return [Entry(f"d{n}", True, 0, None, 0.0, 0.0, 16, False) for n in range(3)]
        raise SourceError("the SMB connection was lost twice", fix="check the file server")


def test_a_lost_source_stops_the_threaded_listing_instead_of_hanging():
    from concurrent.futures import ThreadPoolExecutor

    from hdrive_migrate.scan.walker import list_tree
    from hdrive_migrate.sources import SourceError

    listings = list_tree(LostShare(), "top", descend=lambda path, entry: True, workers=4)
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(list, listings)
        with pytest.raises(SourceError):
            outcome.result(timeout=10)  # a hang would fail here, not stall the suite


def test_undecodable_names_are_recorded_escaped_with_a_finding_and_never_opened(workspace):
    ws_dir, source = workspace
    raw = os.fsencode(source / "bob" / "Desktop") + b"/caf\xe9"
    os.mkdir(raw)
    with open(raw + b"/inside.txt", "wb") as handle:
        handle.write(b"x")
    result = scan(ws_dir, "bob@contoso.test", "bob", hashed=True)
    assert result.status == "complete"
    inventory = rows(ws_dir, "bob@contoso.test")
    assert inventory["Desktop/caf\\xe9/inside.txt"]["sha256"] is None
    found = findings(ws_dir, "bob@contoso.test")
    assert ("bad_encoding", "Desktop/caf\\xe9/inside.txt") in found
    assert not any(kind == "vanished" for kind, _ in found)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1,023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024**2 - 1, "1.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (1000**4, "931.3 GiB"),
        (5 * 1024**6, "5,120.0 PiB"),
    ],
)
def test_sizes_are_shown_in_the_binary_units_the_policy_reads(size, shown):
    assert size_text(size) == shown
    # The policy reads what is shown back as the same number of bytes.
    if shown in ("1.5 KiB", "3.0 GiB"):
        assert parse_size(shown) == size


def test_counts_name_one_thing_in_the_singular():
    assert [counted(n, "file") for n in (0, 1, 2, 1234)] == [
        "0 files",
        "1 file",
        "2 files",
        "1,234 files",
    ]
    assert counted(1, "person", "people") == "1 person" and counted(3, "person", "people") == (
        "3 people"
    )
