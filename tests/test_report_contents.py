"""The contents of every report file, checked against the database: a workspace made by
plan_rows (users, inventory and plan written directly), reviewed and disposal-approved through
the command line, with the engine's outcomes written as transfer rows."""

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from markupsafe import escape
from report_files import files_in, raw_cells, read_csv, sha256, sha256sum_checks, sums

from hdrive_migrate.cli import main
from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.migrate.status import report as status_report
from hdrive_migrate.outputs import FORMULA_STARTS
from hdrive_migrate.plan.current import effective_decisions
from hdrive_migrate.policy.record import ACTIONS
from hdrive_migrate.report import parts
from hdrive_migrate.report.columns import (
    FAILURE_COLUMNS,
    ITEM_COLUMNS,
    MANIFEST_COLUMNS,
    OUTCOMES,
    REGISTER_COLUMNS,
    REGISTERS,
    SUMMARY_COLUMNS,
)
from hdrive_migrate.users.roster import select_users
from hdrive_migrate.workspace import open_workspace

from plan_rows import PEOPLE, add_file, cli, make_workspace, write_csv

ALICE, BOB, CAROL = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test"
WAVE = "Wave 1"  # alice; Wave 2 is bob (planned) and carol (never planned)
FORMULA_NAME = "=SUM(A1).txt"
AT = "2026-05-01T10:00:00+00:00"


def execute(ws: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as db:
        return db.execute(sql, params).fetchall()


@pytest.fixture
def ws(tmp_path) -> Path:
    ws, _ = make_workspace(tmp_path)
    with open_workspace(ws) as opened, opened.db.conn:
        add_file(opened.db, ALICE, FORMULA_NAME, b"formula", 1_700_000_000)
        opened.db.execute(
            "INSERT INTO decisions VALUES (1, ?, ?, 'migrate', 3, 8, 'R8 matched', ?)",
            [ALICE, FORMULA_NAME, f"H/{FORMULA_NAME}"],
        )
    decided = write_csv(
        tmp_path / "decided.csv",
        "upn,path,decision,label\n"
        f"{ALICE},Mail/archive.pst,migrate,Personal working files\n"
        f"{ALICE},Docs/too long.docx,exclude,\n"
        f"{ALICE},-Archive/notes.txt,divert_evidence,\n",
    )
    for args in (
        ("review", "import", str(decided), "--reviewer", "R. Manager"),
        ("dispose", "approve", "--approver", "Jo Bloggs", "--user", ALICE),
    ):
        result = cli(ws, *args)
        assert result.exit_code == 0, result.output
    execute(
        ws,
        "INSERT INTO migrate_runs(id, started_at, status, selection, operator, concurrency,"
        " chunk_bytes) VALUES (1, ?, 'complete', '{}', 'tester', 4, 10485760)",
        AT,
    )
    transfer(ws, "Docs/report.docx", "migrated", item_id="ITEM-1")
    transfer(ws, "Mail/archive.pst", "failed", reason="source-unreadable")
    transfer(ws, FORMULA_NAME, "sending", finished=None)
    return ws


def transfer(ws: Path, path: str, state: str, *, item_id=None, reason=None, finished=AT):
    size = execute(ws, "SELECT size FROM files WHERE upn = ? AND path = ?", ALICE, path)[0][0]
    execute(
        ws,
        "INSERT INTO transfers(upn, path, state, target_path, source_size, sha256, item_id,"
        " reason, detail, run_id, started_at, finished_at) VALUES (?, ?, ?, ?, ?, 'sent-hash',"
        " ?, ?, ?, 1, ?, ?)",
        ALICE,
        path,
        state,
        f"H/{path}",
        size,
        item_id,
        reason,
        f"while sending {path}" if reason else None,
        AT,
        finished,
    )


def refused(ws: Path, capsys, *args: str) -> str:
    """The one line on stderr of a report the console entry point refused (exit code 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["report", *args, "-w", str(ws)])
    out, err = capsys.readouterr()
    assert (caught.value.code, out) == (2, "")
    assert err.count("\n") == 1 and ". Fix: " in err
    return err


def reported(ws: Path, *args: str) -> Path:
    result = cli(ws, "report", *args)
    assert result.exit_code == 0, result.output
    return Path(result.output.split(" written to ")[1].splitlines()[0])


def effective(ws: Path, upns) -> list:
    with open_workspace(ws) as opened:
        return list(effective_decisions(opened.db, upns))


def source_of(row: dict) -> tuple[str, str]:
    """(folder, path) from a report's source path."""
    folder, _, path = (
        row["Source" if "Source" in row else "source_path"].split("/homes/")[1].partition("/")
    )
    return folder, path


# --- items.csv -----------------------------------------------------------------------------


def test_items_has_spmt_columns_then_ours_and_one_row_per_planned_file(ws):
    folder = reported(ws, "--wave", WAVE)
    assert folder == ws / "reports" / WAVE
    header, rows = read_csv(folder / "items.csv")
    assert tuple(header) == ITEM_COLUMNS
    assert header[:3] == ["Source", "Destination", "File name"]
    assert header[15:] == [
        "Device name",
        "decision",
        "rule",
        "policy version",
        "SHA-256",
        "QuickXorHash",
    ]
    planned = effective(ws, [ALICE])
    assert [source_of(row)[1] for row in rows] == [e.path for e in planned]
    assert [row["decision"] for row in rows] == [e.action for e in planned]
    by_path = {source_of(row)[1]: row for row in rows}
    assert len(by_path) == len(PEOPLE[ALICE][2]) - 1 + 1  # New/later.txt is unplanned

    migrated = by_path["Docs/report.docx"]
    assert (migrated["Status"], migrated["Result category"]) == ("Migrated", "Succeeded")
    assert (migrated["Destination"], migrated["Destination item ID"]) == (
        "H/Docs/report.docx",
        "ITEM-1",
    )
    failed = by_path["Mail/archive.pst"]
    assert (failed["Status"], failed["Result category"]) == ("Failed", "source-unreadable")
    assert failed["Message"].startswith(REASONS["source-unreadable"].explanation)
    assert (failed["decision"], failed["rule"]) == ("migrate", "review")
    assert by_path[FORMULA_NAME]["Status"] == "In progress"
    held = by_path["Legal/case.docx"]
    assert (held["Status"], held["decision"], held["rule"]) == ("Not migrated", "hold", "G1")
    assert held["Destination"] == ""
    assert all(row["Task ID"] == ALICE and row["Content type"] == "File" for row in rows)
    assert by_path["Docs/report.docx"]["Extension"] == "docx"
    assert {row["policy version"] for row in rows} == {"1.0.0"}
    scanned = dict(execute(ws, "SELECT path, sha256 FROM files WHERE upn = ?", ALICE))
    assert all(row["SHA-256"] == scanned[source_of(row)[1]] for row in rows)


def test_cells_a_spreadsheet_would_run_as_formulas_are_quoted(ws):
    folder = reported(ws)
    for name in files_in(folder):
        if name.endswith(".csv"):
            cells = [cell for row in raw_cells(folder / name) for cell in row]
            assert not [c for c in cells if c.startswith(FORMULA_STARTS)], name
    items = raw_cells(folder / "items.csv")
    names = [row[ITEM_COLUMNS.index("File name")] for row in items]
    assert f"'{FORMULA_NAME}" in names
    evidence = raw_cells(folder / "evidence.csv")
    assert evidence[1][REGISTER_COLUMNS.index("path")] == "'-Archive/notes.txt"


def test_a_blocked_user_shows_its_cause_on_files_not_started(ws):
    execute(
        ws,
        "INSERT INTO user_blocks VALUES (?, 'quota-full', 'needs 5 GiB', 1, ?)",
        ALICE,
        AT,
    )
    execute(ws, "DELETE FROM transfers WHERE path = ?", FORMULA_NAME)
    folder = reported(ws, "--wave", WAVE)
    _, rows = read_csv(folder / "items.csv")
    row = next(row for row in rows if row["File name"] == FORMULA_NAME)
    assert (row["Status"], row["Result category"]) == ("Blocked", "quota-full")
    assert REASONS["quota-full"].explanation in row["Message"]
    page = (folder / "summary.html").read_text()
    assert "Users needing action" in page and ALICE in page
    assert escape(REASONS["quota-full"].fix) in page


# --- registers and manifests ---------------------------------------------------------------


def test_registers_hold_exactly_the_effective_decisions_with_their_policy(ws):
    folder = reported(ws)
    decisions = effective(ws, [ALICE, BOB, CAROL])
    (policy,) = execute(ws, "SELECT id, policy_id, policy_version, policy_sha256 FROM plan_runs")
    certificates = dict(
        ((upn, path), certificate)
        for upn, path, certificate in execute(
            ws,
            "SELECT i.upn, i.path, d.certificate FROM disposal_items AS i"
            " JOIN disposals AS d ON d.id = i.disposal_id",
        )
    )
    assert certificates  # the approval above certified alice's old budgets
    seen = Counter()
    for name, actions in REGISTERS.items():
        header, rows = read_csv(folder / name)
        assert tuple(header) == REGISTER_COLUMNS, name
        expected = [e for e in decisions if e.action in actions]
        assert [(r["upn"], r["path"]) for r in rows] == [(e.upn, e.path) for e in expected], name
        for row, decision in zip(rows, expected, strict=True):
            assert row["decision"] == decision.action
            assert row["rule"] == ("review" if decision.reviewer else decision.rule_id)
            assert row["reviewer"] == (decision.reviewer or "")
            assert (
                row["plan_run"],
                row["policy_id"],
                row["policy_version"],
                row["policy_sha256"],
            ) == tuple(map(str, policy))
            certificate = certificates.get((decision.upn, decision.path), "")
            assert row["disposal_certificate"] == certificate
            seen[decision.action] += 1
    assert seen == Counter(e.action for e in decisions if e.action != "migrate")
    assert set(seen) == {"review", "hold", "exclude", "divert_evidence", "dispose_after_approval"}


def test_each_manifest_lists_its_users_files_and_hashes_to_its_sha256sums_line(ws):
    folder = reported(ws)
    check = sha256sum_checks(folder)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = sums(folder)
    assert set(listed) == files_in(folder) - {"SHA256SUMS"}
    transfers = {
        path: (state, item_id)
        for path, state, item_id in execute(ws, "SELECT path, state, item_id FROM transfers")
    }
    for upn in (ALICE, BOB, CAROL):
        name = f"manifests/{upn}.csv"
        assert listed[name] == sha256(folder / name)
        header, rows = read_csv(folder / name)
        assert tuple(header) == MANIFEST_COLUMNS
        planned = effective(ws, [upn])
        assert [source_of(row)[1] for row in rows] == [e.path for e in planned]
        for row, decision in zip(rows, planned, strict=True):
            state, item_id = transfers.get(decision.path, (None, None))
            outcome = state or ("not-started" if decision.action == "migrate" else "not-migrated")
            assert (row["outcome"], row["target_item_id"]) == (outcome, item_id or "")
            assert row["decision"] == decision.action
    assert read_csv(folder / f"manifests/{CAROL}.csv")[1] == []  # never planned


# --- summary.csv and failures.csv ----------------------------------------------------------


def test_summary_counts_and_bytes_equal_the_database(ws):
    folder = reported(ws)
    header, rows = read_csv(folder / "summary.csv")
    assert tuple(header) == SUMMARY_COLUMNS
    assert [row["upn"] for row in rows] == [ALICE, BOB, CAROL]
    sizes = {(u, p): s for u, p, s in execute(ws, "SELECT upn, path, size FROM files")}
    states = dict(execute(ws, "SELECT path, state FROM transfers"))
    for row in rows:
        upn = row["upn"]
        planned = effective(ws, [upn])
        with open_workspace(ws) as opened:
            status = status_report(opened.db, upn)
        assert row["state"] == status.state.state
        assert row["wave"] == PEOPLE[upn][1]
        assert int(row["planned_files"]) == len(planned)
        assert int(row["planned_bytes"]) == sum(sizes[(upn, e.path)] for e in planned)
        for action in ACTIONS:
            chosen = [e for e in planned if e.action == action]
            assert int(row[f"decision_{action}_files"]) == len(chosen)
            assert int(row[f"decision_{action}_bytes"]) == sum(sizes[(upn, e.path)] for e in chosen)
        outcomes = Counter()
        for e in planned:
            default = "not-started" if e.action == "migrate" else "not-migrated"
            outcomes[states.get(e.path, default) if upn == ALICE else default] += 1
        assert {o: int(row[f"outcome_{o}_files"]) for o in OUTCOMES} == {
            o: outcomes[o] for o in OUTCOMES
        }
    alice = rows[0]
    assert (alice["failed_files"], alice["failures"]) == ("1", "source-unreadable: 1")
    assert alice["last_activity"] == status_report_of(ws, ALICE).last_activity
    assert int(alice["outcome_migrated_bytes"]) == sizes[(ALICE, "Docs/report.docx")]


def status_report_of(ws: Path, upn: str):
    with open_workspace(ws) as opened:
        return status_report(opened.db, upn)


def test_failures_are_grouped_by_reason_with_the_fix_and_the_users(ws):
    transfer_bob = ("Mail/bob.pst", "failed", "source-unreadable")
    execute(
        ws,
        "INSERT INTO transfers(upn, path, state, target_path, source_size, reason, run_id,"
        " started_at, finished_at) VALUES (?, ?, ?, 'H/x', 7, ?, 1, ?, ?)",
        BOB,
        *transfer_bob,
        AT,
        AT,
    )
    folder = reported(ws)
    header, rows = read_csv(folder / "failures.csv")
    assert tuple(header) == FAILURE_COLUMNS
    (row,) = rows
    assert row["reason"] == "source-unreadable"
    assert (row["files"], row["users"]) == ("2", "2")
    assert row["fix"] == REASONS["source-unreadable"].fix
    assert row["explanation"] == REASONS["source-unreadable"].explanation
    assert row["users_affected"] == f"{ALICE}; {BOB}"


# --- summary.html --------------------------------------------------------------------------

EXTERNAL = re.compile(r"https?://|<script|<link|<img|<iframe|\bsrc\s*=|url\(|@import", re.I)


def test_the_page_is_self_contained_and_shows_markup_in_names_as_text(ws):
    wave = "<script>alert(1)</script>"
    execute(ws, "UPDATE users SET wave = ? WHERE upn = ?", wave, ALICE)
    folder = reported(ws, "--wave", wave)
    assert folder.parent == ws / "reports" and "<" not in folder.name
    page = (folder / "summary.html").read_text(encoding="utf-8")
    assert EXTERNAL.findall(page) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page and "<polyline" in page  # charts, inline
    assert "docs/failures.md" in page
    assert escape(REASONS["source-unreadable"].fix) in page
    for state in ("migrating", "planned", "blocked"):
        assert f">{state}</text>" in page


def test_no_file_names_in_the_page(ws):
    page = (reported(ws) / "summary.html").read_text(encoding="utf-8")
    for upn in PEOPLE:
        for path in PEOPLE[upn][2]:
            assert path not in page
    assert FORMULA_NAME not in page


# --- the folder: re-runs, --force, and the workspace's own files --------------------------


def test_a_rerun_replaces_its_own_files_and_removes_those_it_no_longer_writes(ws):
    folder = reported(ws, "--wave", "Wave 2")
    assert {f"manifests/{BOB}.csv", f"manifests/{CAROL}.csv"} <= files_in(folder)
    (folder / "notes.txt").write_text("someone's notes")
    execute(ws, "UPDATE users SET wave = ? WHERE upn = ?", WAVE, CAROL)
    assert reported(ws, "--wave", "Wave 2") == folder
    assert f"manifests/{CAROL}.csv" not in files_in(folder)
    assert (folder / "notes.txt").read_text() == "someone's notes"
    assert set(sums(folder)) == files_in(folder) - {"SHA256SUMS", "notes.txt"}
    assert sha256sum_checks(folder).returncode == 0


def test_a_file_no_report_wrote_is_refused_unless_force(ws, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "items.csv").write_text("mine")
    error = refused(ws, capsys, "--out", str(out))
    assert "--force" in error and str(out / "items.csv") in error
    assert files_in(out) == {"items.csv"}
    assert execute(ws, "SELECT count(*) FROM events WHERE action = 'report.exported'") == [(0,)]
    assert reported(ws, "--out", str(out), "--force") == out
    assert (out / "items.csv").read_text(encoding="utf-8-sig").startswith("Source,")


def test_the_workspace_s_own_files_are_refused_even_with_force(ws, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").symlink_to(ws / "state.db")
    assert "workspace's state.db" in refused(ws, capsys, "--out", str(out), "--force")
    assert (ws / "state.db").stat().st_size > 0
    assert files_in(out) == {"summary.csv"}


def test_an_unknown_wave_is_one_line_with_the_fix(ws, capsys):
    assert refused(ws, capsys, "--wave", "Wave 9") == (
        "no users in wave 'Wave 9'. Fix: check the name with `hdrive-migrate wave list`\n"
    )


def test_each_export_is_in_the_audit_log(ws):
    folder = reported(ws, "--wave", WAVE)
    reported(ws)
    events = execute(
        ws, "SELECT subject, detail FROM events WHERE action = 'report.exported' ORDER BY id"
    )
    assert [subject for subject, _ in events] == [
        str(folder.resolve()),
        str((ws / "reports" / "all").resolve()),
    ]
    detail = json.loads(events[0][1])
    assert detail["users"] == 1
    assert detail["files"] == len(effective(ws, [ALICE]))
    assert detail["sha256sums_sha256"] != json.loads(events[1][1])["sha256sums_sha256"]


def test_a_wave_written_in_several_processes_is_the_one_written_in_one(ws, monkeypatch):
    one = reported(ws, "--out", str(ws / "one"))
    monkeypatch.setattr(parts, "_FILES_PER_PROCESS", 1)
    monkeypatch.setattr(parts.os, "cpu_count", lambda: 3)
    with open_workspace(ws) as opened:
        assert len(parts._split(opened.db, select_users(opened.db), 3)) >= 2
    several = reported(ws, "--out", str(ws / "several"))
    assert files_in(one) == files_in(several)
    for name in files_in(one) - {"summary.html", "SHA256SUMS"}:
        assert (one / name).read_bytes() == (several / name).read_bytes(), name
