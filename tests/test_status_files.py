"""`hdrive-migrate status UPN --files`: the user's files with decision and outcome, equal to the
database, in text and --json forms; every status look-up is recorded in the audit log as a
consultation with the operator, and `status` without --files still names no file."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hdrive_migrate.cli import app, main
from hdrive_migrate.migrate.status import user_files
from hdrive_migrate.plan.current import effective_decisions
from hdrive_migrate.report.audit import verify_chain
from hdrive_migrate.store import os_user
from hdrive_migrate.workspace import open_workspace

POLICY = Path(__file__).resolve().parents[1] / "policies" / "personal-files.yaml"
ALICE = "alice@contoso.test"
FILES = {
    "Documents/Quarterly report.docx": b"alice report " * 100,
    "Documents/notes.txt": b"notes",
    "Documents/tab\there.txt": b"a tab in the name",
    "Documents/~$notes.docx": b"owner file",
    "Mail/archive.pst": b"pst" * 50,
}
COLUMNS = ["path", "target_path", "decision", "rule", "outcome", "reason"]
runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """Alice's home folder scanned with hashes and planned with the shipped policy."""
    folder = tmp_path_factory.mktemp("files")
    for path, content in FILES.items():
        (folder / "homes" / "AliceHome" / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / "homes" / "AliceHome" / path).write_bytes(content)
    ws = folder / "ws"
    users = folder / "users.csv"
    users.write_text(f"folder,upn,wave\nAliceHome,{ALICE},W1\n")
    init = ["init", str(ws), "--source", str(folder / "homes"), "--graph-url"]
    steps = [
        [*init, "http://127.0.0.1:9/v1.0", "--auth", "local"],
        ["users", "import", str(users), "-w", str(ws)],
        ["scan", "--hash", "--user", ALICE, "-w", str(ws)],
        ["plan", "--policy", str(POLICY), "--user", ALICE, "-w", str(ws)],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, f"{step}: {result.output}"
    return ws


@pytest.fixture
def ws(made, tmp_path) -> Path:
    """The planned workspace, with a review and the engine's outcomes written as it does."""
    copy = tmp_path / "ws"
    shutil.copytree(made, copy)
    review = tmp_path / "review.csv"
    review.write_text(
        f"upn,path,decision,label,note,plan_run\n{ALICE},Mail/archive.pst,migrate,"
        "Personal working files,,1\n"
    )
    result = runner.invoke(
        app, ["review", "import", str(review), "--reviewer", "R. Manager", "-w", str(copy)]
    )
    assert result.exit_code == 0, result.output
    outcomes = [
        ("Documents/Quarterly report.docx", "migrated", None, "H/Documents/Quarterly report.docx"),
        ("Documents/notes.txt", "failed", "source-unreadable", "H/Documents/notes.txt"),
        ("Mail/archive.pst", "renamed", None, "H/Mail/archive (1).pst"),
    ]
    for path, state, reason, target in outcomes:
        execute(
            copy,
            "INSERT INTO transfers(upn, path, state, target_path, reason, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ALICE,
            path,
            state,
            target,
            reason,
            f"while sending {path}",
        )
    return copy


def execute(ws: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as db:
        return db.execute(sql, params).fetchall()


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def status(ws: Path, capsys, *args: str) -> tuple[int, str, str]:
    return run(["status", *args, "-w", str(ws)], capsys)


def expected_files(ws: Path) -> list[dict]:
    """What the database says of each planned file: the effective decision (plan.current)
    and the transfer row, if any."""
    with open_workspace(ws) as opened:
        decided = list(effective_decisions(opened.db, [ALICE]))
    transfers = {
        path: (state, reason, target)
        for path, state, reason, target in execute(
            ws, "SELECT path, state, reason, target_path FROM transfers WHERE upn = ?", ALICE
        )
    }
    (folder,) = execute(ws, "SELECT target_folder FROM plan_runs WHERE id = 1")[0]
    rows = []
    for item in decided:
        state, reason, target = transfers.get(item.path, (None, None, None))
        to_migrate = item.action == "migrate"
        planned = (item.target_path or f"{folder}/{item.path}") if to_migrate else None
        rows.append(
            {
                "path": item.path,
                "target_path": target or planned,
                "decision": item.action,
                "rule": item.rule_id,
                "outcome": state or ("not-started" if to_migrate else None),
                "reason": reason or item.reason,
                "reviewed": item.review_id is not None,
            }
        )
    return rows


def events(ws: Path, action: str) -> list[tuple]:
    return execute(ws, "SELECT actor, subject, detail FROM events WHERE action = ?", action)


def test_the_json_form_lists_every_planned_file_as_the_database_has_it(ws, capsys):
    code, out, err = status(ws, capsys, ALICE, "--files", "--json")
    assert (code, err) == (0, "")
    body = json.loads(out)
    expected = expected_files(ws)
    assert body["files"] == expected
    assert len(expected) == len(FILES)
    assert {row["outcome"] for row in expected} >= {"migrated", "failed", "renamed", None}
    assert [row["path"] for row in expected if row["reviewed"]] == ["Mail/archive.pst"]
    untouched = [row for row in expected if row["outcome"] == "not-started"]
    # The plan's own target, a tab mapped to a character OneDrive accepts.
    assert [row["target_path"] for row in untouched] == ["H Drive/Documents/tab\u2409here.txt"]
    plain = json.loads(status(ws, capsys, ALICE, "--json")[1])
    assert {key: value for key, value in body.items() if key != "files"} == plain


def test_the_text_form_is_the_card_then_one_tab_separated_line_per_file(ws, capsys):
    code, out, _ = status(ws, capsys, ALICE, "--files")
    assert code == 0
    card, table = out.split("\n\n")
    assert card.startswith(f"{ALICE} (wave W1)\n  State:")
    header, *lines, total = table.rstrip("\n").split("\n")
    assert header.split("\t") == COLUMNS
    assert total == f"{len(FILES)} files"
    expected = [
        [
            row["path"].replace("\t", "\\t"),
            row["target_path"] or "-",
            row["decision"] + (" (reviewed)" if row["reviewed"] else ""),
            row["rule"],
            row["outcome"] or "-",
            row["reason"] or "-",
        ]
        for row in expected_files(ws)
    ]
    assert [line.split("\t") for line in lines] == expected


def test_a_files_view_is_recorded_as_a_consultation_with_the_operator(ws, capsys):
    assert status(ws, capsys, ALICE.upper(), "--files", "--operator", "Jo Bloggs")[0] == 0
    assert events(ws, "status.files_viewed") == [("Jo Bloggs", ALICE, json.dumps({"files": 5}))]
    assert events(ws, "status.viewed") == []
    assert status(ws, capsys, ALICE, "--files", "--json")[0] == 0
    assert events(ws, "status.files_viewed")[-1][0] == os_user()
    with open_workspace(ws) as opened:
        assert verify_chain(opened.db).broken is None


def test_status_without_files_names_no_file_and_is_recorded_as_viewed(ws, capsys):
    for args in ((ALICE,), (ALICE, "--json")):
        code, out, _ = status(ws, capsys, *args, "--operator", "Service Desk 4")
        assert code == 0
        for path in FILES:
            assert Path(path).stem not in out
            assert Path(path).parent.name not in out
    assert events(ws, "status.viewed") == [("Service Desk 4", ALICE, "{}")] * 2
    assert events(ws, "status.files_viewed") == []


def test_an_unknown_user_is_one_line_and_records_nothing(ws, capsys):
    code, out, err = status(ws, capsys, "nobody@contoso.test", "--files")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "no user nobody@contoso.test" in err
    assert events(ws, "status.files_viewed") == events(ws, "status.viewed") == []


def test_a_formula_like_operator_is_refused_before_anything_is_shown(ws, capsys):
    code, out, err = status(ws, capsys, ALICE, "--files", "--operator", "@SUM(1)")
    assert (code, out) == (2, "")
    assert err.startswith("--operator: '@SUM(1)' cannot name an operator")
    assert events(ws, "status.files_viewed") == []


def test_user_files_streams_from_a_cursor(ws):
    with open_workspace(ws) as opened:
        lines = user_files(opened.db, ALICE)
        first = next(lines)
        assert first.path == min(FILES)
        assert len(list(lines)) == len(FILES) - 1
