"""What `[scan] exclude` leaves out is counted per user and shown by `scan summary` (`excluded`
and `excluded_folders` in --json, a column in the table), so nothing leaves the inventory
silently; snapshot folders, which hold copies, are not counted."""

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.sources import Entry

from conftest import require_binary


def entry(name: str, is_dir: bool = False) -> Entry:
    return Entry(name, is_dir, 0, None, 0.0, 0.0, 0, False)


@pytest.mark.parametrize(
    ("globs", "folder", "names", "kept", "files_out", "folders_out"),
    [
        ((), "", ["a.tmp", "Docs/"], ["a.tmp", "Docs"], 0, 0),
        ((), "", [".snapshot/", "a.tmp"], ["a.tmp"], 0, 0),
        (("**/*.tmp",), "Docs", ["a.tmp", "b.TMP", "c.docx"], ["c.docx"], 2, 0),
        (("AppData/**",), "", ["AppData/", "Documents/", "x.txt"], ["Documents", "x.txt"], 0, 1),
        (("**/*.tmp", "Cache/**"), "", [".snapshot/", "Cache/", "a.tmp", "b"], ["b"], 1, 1),
    ],
)
def test_split_counts_what_the_globs_leave_out(globs, folder, names, kept, files_out, folders_out):
    entries = [entry(name.rstrip("/"), name.endswith("/")) for name in names]
    split = Excludes(globs).split(folder, entries)
    assert [e.name for e in split.kept] == kept
    assert (split.files_out, split.folders_out) == (files_out, folders_out)


@pytest.fixture
def workspace(tmp_path) -> Path:
    home = tmp_path / "homes" / "alice"
    for path in ("Documents/keep.docx", "Documents/old.tmp", "x.tmp", "AppData/Local/cache.bin"):
        (home / path).parent.mkdir(parents=True, exist_ok=True)
        (home / path).write_text("x")
    (home / ".snapshot" / "daily").mkdir(parents=True)
    (home / ".snapshot" / "daily" / "copy.docx").write_text("x")
    (tmp_path / "homes" / "bob").mkdir()
    (tmp_path / "homes" / "bob" / "note.txt").write_text("x")
    ws = tmp_path / "ws"
    init = ["init", str(ws), "--source", str(tmp_path / "homes"), "--auth", "local"]
    assert cli(None, *init, "--graph-url", "http://127.0.0.1:9").returncode == 0
    toml = ws / "hdrive.toml"
    text = toml.read_text()
    assert "exclude = []\n" in text
    toml.write_text(text.replace("exclude = []\n", 'exclude = ["**/*.tmp", "AppData/**"]\n'))
    users = tmp_path / "users.csv"
    users.write_text("folder,upn\nalice,alice@c.test\nbob,bob@c.test\n")
    assert cli(ws, "users", "import", str(users)).returncode == 0
    return ws


def cli(ws: Path | None, *args: str) -> subprocess.CompletedProcess:
    command = [str(require_binary("hdrive-migrate")), *args, *(["-w", str(ws)] if ws else [])]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def summary(ws: Path) -> dict[str, dict]:
    result = cli(ws, "scan", "summary", "--json")
    assert result.returncode == 0, result.stderr
    return {row["upn"]: row for row in json.loads(result.stdout)}


def test_scan_summary_counts_what_exclude_left_out_per_user(workspace):
    assert cli(workspace, "scan").returncode == 0
    found = summary(workspace)
    alice, bob = found["alice@c.test"], found["bob@c.test"]
    assert (alice["files"], alice["excluded"], alice["excluded_folders"]) == (1, 2, 1)
    assert (bob["files"], bob["excluded"], bob["excluded_folders"]) == (1, 0, 0)
    table = cli(workspace, "scan", "summary").stdout.splitlines()
    assert table[0].split() == [
        "user",
        "status",
        "files",
        "folders",
        "size",
        "excluded",
        "findings",
    ]
    assert table[1].split()[:2] == ["alice@c.test", "complete"]
    assert " 1 B   2+1 dirs  -" in table[1]
    assert table[2].split()[6] == "0"  # size is two words, "1 B"


def test_a_resumed_scan_counts_what_was_left_out_once(workspace):
    assert cli(workspace, "scan", "--user", "alice@c.test").returncode == 0

    # As a scan killed before it finished: the same scan resumes and lists everything again.
    with sqlite3.connect(workspace / "state.db") as conn:
        conn.execute("UPDATE scans SET status = 'running', finished_at = NULL")
    assert cli(workspace, "scan", "--user", "alice@c.test").returncode == 0
    with sqlite3.connect(workspace / "state.db") as conn:
        scans = conn.execute("SELECT id, excluded_files, excluded_folders FROM scans").fetchall()
    assert scans == [(1, 2, 1)]
    assert summary(workspace)["alice@c.test"]["excluded"] == 2
