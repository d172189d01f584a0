"""`hdrive-migrate audit export`: the audit log as CSV for the information-rights team, equal to
the database, filtered by --since, safe to open in Excel, and itself recorded with the
operator."""

import csv
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hdrive_migrate.cli import main
from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.outputs import CSV_ENCODING, from_excel
from hdrive_migrate.report.audit import EXPORT_COLUMNS
from hdrive_migrate.store import os_user, record_event
from hdrive_migrate.workspace import create_workspace

START = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)
HOSTILE = '=HYPERLINK("http://evil.test","x")'


@pytest.fixture
def ws(tmp_path) -> Path:
    """A workspace whose log holds its creation (at the real time) and six entries a day
    apart from START, one of them with cells a spreadsheet would take for formulas."""
    homes = tmp_path / "homes"
    homes.mkdir()
    settings = Config(
        source_root=str(homes), graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL)
    )
    opened = create_workspace(tmp_path / "ws", settings)
    for day in range(6):
        record_event(
            opened.db,
            "scan",
            f"user{day}@contoso.test",
            {"files": day},
            actor="scanner",
            at=START + timedelta(days=day),
        )
    record_event(opened.db, "status.viewed", HOSTILE, {"note": "-1+2"}, actor="@operator", at=START)
    opened.close()
    return tmp_path / "ws"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def export(ws: Path, capsys, *args: str) -> tuple[int, str, str]:
    return run(["audit", "export", *args, "-w", str(ws)], capsys)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        return list(csv.reader(handle))


def db_rows(ws: Path, where: str = "1", *params) -> list[list[str]]:
    with sqlite3.connect(ws / "state.db") as conn:
        rows = conn.execute(
            f"SELECT {', '.join(EXPORT_COLUMNS)} FROM events WHERE {where} ORDER BY id", params
        ).fetchall()
    return [["" if cell is None else str(cell) for cell in row] for row in rows]


def test_the_export_holds_every_entry_as_the_database_does(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    before = db_rows(ws)
    code, stdout, err = export(ws, capsys, "--out", str(out))
    assert (code, err) == (0, "")
    assert stdout == f"{out}: {len(before)} audit log entries\n"
    header, *rows = read_csv(out)
    assert (
        header
        == list(EXPORT_COLUMNS)
        == [
            "id",
            "at",
            "actor",
            "action",
            "subject",
            "detail",
            "hash",
        ]
    )
    assert [[from_excel(cell) for cell in row] for row in rows] == before
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's UTF-8 marker


def test_cells_a_spreadsheet_would_run_are_quoted(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    assert export(ws, capsys, "--out", str(out))[0] == 0
    (row,) = [row for row in read_csv(out) if row[3] == "status.viewed"]
    assert row[2] == "'@operator" and row[4] == "'" + HOSTILE
    assert json.loads(row[5]) == {"note": "-1+2"}  # JSON starts with {, so stays as it is


def test_since_keeps_only_entries_at_or_after_the_date(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    expected = db_rows(ws, "at >= '2025-06-05'")
    code, stdout, _ = export(ws, capsys, "--since", "2025-06-05", "--out", str(out))
    assert code == 0 and "since 2025-06-05T00:00:00.000+00:00" in stdout
    rows = read_csv(out)[1:]
    assert rows == expected
    # Days 2 to 5 from START, and the workspace's creation, which ran at the real time.
    assert [row[4] for row in rows if row[3] == "scan"] == [
        f"user{d}@contoso.test" for d in (2, 3, 4, 5)
    ]
    assert [row[3] for row in rows if row[3] != "scan"] == ["workspace.created"]


def test_since_takes_a_time_with_its_offset(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    # 10:00 at +01:00 is 09:00 UTC: the day-2 scan (at 09:00 UTC) is included.
    expected = db_rows(ws, "at >= '2025-06-05T09:00:00.000+00:00'")
    code, _, _ = export(ws, capsys, "--since", "2025-06-05T10:00:00+01:00", "--out", str(out))
    assert code == 0
    assert read_csv(out)[1:] == expected
    assert "user2@contoso.test" in [row[4] for row in expected]


def test_the_export_is_recorded_with_the_operator_and_not_in_itself(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    args = ("--since", "2025-06-06", "--operator", "Jo Bloggs", "--out", str(out))
    assert export(ws, capsys, *args)[0] == 0
    (event,) = db_rows(ws, "action = 'audit.exported'")
    assert event[2:5] == ["Jo Bloggs", "audit.exported", str(out.resolve())]
    rows = read_csv(out)[1:]
    assert json.loads(event[5]) == {"rows": len(rows), "since": "2025-06-06T00:00:00.000+00:00"}
    assert "audit.exported" not in [row[3] for row in rows]
    second = tmp_path / "again.csv"
    assert export(ws, capsys, "--out", str(second))[0] == 0
    assert db_rows(ws, "action = 'audit.exported'")[-1][2] == os_user()


def test_an_existing_file_is_replaced_only_with_force(ws, tmp_path, capsys):
    out = tmp_path / "audit.csv"
    out.write_text("earlier export")
    code, stdout, err = export(ws, capsys, "--out", str(out))
    assert (code, stdout) == (2, "")
    exists = "the file already exists. Fix: choose another name, or add --force to replace it"
    assert err == f"{out}: {exists}\n"
    assert out.read_text() == "earlier export"
    assert db_rows(ws, "action = 'audit.exported'") == []
    assert export(ws, capsys, "--out", str(out), "--force")[0] == 0
    assert read_csv(out)[0] == list(EXPORT_COLUMNS)


def test_the_workspace_database_is_never_written_over(ws, capsys):
    code, _, err = export(ws, capsys, "--out", str(ws / "state.db"), "--force")
    assert code == 2 and "this is the workspace's state.db" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--since", "last tuesday"],
            "--since: 'last tuesday' is not a date. Fix: give a date as YYYY-MM-DD (UTC), e.g."
            " --since 2025-06-01\n",
        ),
        (
            ["--operator", "=cmd|' /C calc'!A0"],
            "--operator: \"=cmd|' /C calc'!A0\" cannot name an operator: spreadsheets take a cell"
            " starting with '=' for a formula. Fix: give your name as plain text, e.g."
            " --operator 'Jo Bloggs'\n",
        ),
    ],
)
def test_bad_options_are_one_line_with_the_fix(ws, tmp_path, capsys, args, message):
    code, stdout, err = export(ws, capsys, *args, "--out", str(tmp_path / "a.csv"))
    assert (code, stdout, err) == (2, "", message)
    assert not (tmp_path / "a.csv").exists()
