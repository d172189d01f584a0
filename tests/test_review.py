"""`review export` and `review import` through the command line, and the effective decision
they feed (plan.current): reviews override the plan of their own run only."""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hdrive_migrate.cli import main
from hdrive_migrate.plan.current import effective_decisions
from hdrive_migrate.workspace import open_workspace

from plan_rows import PLANNED, cli, make_workspace, plan, query, write_csv

ALICE, BOB, CAROL = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test"
HEADER = "upn,path,decision,label,note,plan_run\n"
GOOD = f"{ALICE},Mail/archive.pst,exclude,,Personal mail,1\n"


@pytest.fixture
def ws_dir(tmp_path) -> Path:
    return make_workspace(tmp_path)[0]


def export(ws_dir: Path, out: Path, *args: str) -> list[list[str]]:
    result = cli(ws_dir, "review", "export", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return read_csv(out)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def fill(rows: list[list[str]], out: Path, decisions: dict[str, tuple[str, str, str]]) -> Path:
    """Write OUT: the exported ROWS with DECISIONS (path -> decision, label, note) filled in."""
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        for row in rows[1:]:
            path = row[1].removeprefix("'")
            writer.writerow([*row[:9], *decisions.get(path, ("", "", ""))])
    return out


def day(ws_dir: Path, upn: str, path: str) -> str:
    """The modified date the export gives PATH of UPN."""
    sql = "SELECT modified FROM files WHERE upn = ? AND path = ?"
    ((modified,),) = query(ws_dir, sql, upn, path)
    return datetime.fromtimestamp(modified, UTC).date().isoformat()


def reviews(ws_dir: Path) -> list[tuple]:
    return query(
        ws_dir,
        "SELECT run_id, upn, path, decision, label, note, reviewer, source_line FROM reviews"
        " ORDER BY id",
    )


def effective(ws_dir: Path, upn: str = ALICE) -> dict[str, tuple]:
    with open_workspace(ws_dir) as ws:
        return {
            e.path: (e.action, e.label, e.planned_action, e.rule_id, e.reviewer, e.run_id)
            for e in effective_decisions(ws.db, [upn])
        }


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def test_export_lists_the_files_awaiting_review_with_rule_and_reason(ws_dir, tmp_path):
    out = tmp_path / "out" / "review.csv"
    result = cli(ws_dir, "review", "export", "--out", str(out))
    assert result.stdout == f"{out}: 5 files awaiting review\n"
    assert out.read_bytes().startswith(b"\xef\xbb\xbfupn,path,size,modified,rule,")
    assert read_csv(out) == [
        [
            "upn", "path", "size", "modified", "rule", "rule_description", "reason",
            "current_action", "plan_run", "decision", "label", "note",
        ],
        [
            ALICE, "'-Archive/notes.txt", "5", day(ws_dir, ALICE, "-Archive/notes.txt"), "default",
            "No rule matched", "default matched", "review", "1", "", "", "",
        ],
        [
            ALICE, "Docs/too long.docx", "4", day(ws_dir, ALICE, "Docs/too long.docx"), "R8",
            "Everything else", "target path is 401 characters; OneDrive allows 400", "review",
            "1", "", "", "",
        ],
        [
            ALICE, "Mail/archive.pst", "30", day(ws_dir, ALICE, "Mail/archive.pst"), "R3",
            "Mail archives (.pst .ost)", "R3 matched", "review", "1", "", "", "",
        ],
        [
            ALICE, "Mail/old.ost", "21", day(ws_dir, ALICE, "Mail/old.ost"), "R3",
            "Mail archives (.pst .ost)", "R3 matched", "review", "1", "", "", "",
        ],
        [
            BOB, "Mail/bob.pst", "7", day(ws_dir, BOB, "Mail/bob.pst"), "R3",
            "Mail archives (.pst .ost)", "R3 matched", "review", "1", "", "", "",
        ],
    ]  # fmt: skip
    (event,) = query(ws_dir, "SELECT subject, detail FROM events WHERE action = 'review.exported'")
    assert event[0] == str(out.resolve())
    assert json.loads(event[1]) == {"users": 3, "rows": 5, "stale": 0}


def test_export_of_a_wave_has_only_its_users(ws_dir, tmp_path):
    rows = export(ws_dir, tmp_path / "wave2.csv", "--wave", "Wave 2")
    assert [(row[0], row[1]) for row in rows[1:]] == [(BOB, "Mail/bob.pst")]


def test_export_of_an_unknown_wave_is_an_error(ws_dir, tmp_path, capsys):
    out = tmp_path / "none.csv"
    args = ["review", "export", "--out", str(out), "--wave", "Wave 9", "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert (code, err) == (
        2,
        "no users in wave 'Wave 9'. Fix: check the name with `hdrive-migrate wave list`\n",
    )
    assert not out.exists()


@pytest.mark.parametrize("name", ["state.db", "state.db-wal", "hdrive.toml"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_never_writes_over_the_workspaces_own_files(ws_dir, capsys, name, force):
    own = sorted(ws_dir.iterdir())
    before = {path: path.read_bytes() for path in own if path.is_file()}
    target = ws_dir / name
    args = ["review", "export", "--out", str(target), *force, "-w", str(ws_dir)]
    assert run_main(args, capsys) == (
        2,
        "",
        f"{target}: this is the workspace's {name}; writing over it would destroy the"
        " workspace's records. Fix: choose another file for --out, outside the workspace's own"
        " files\n",
    )
    assert sorted(ws_dir.iterdir()) == own
    assert {path: path.read_bytes() for path in own if path.is_file()} == before
    assert cli(ws_dir, "review", "export", "--out", str(ws_dir / "review.csv")).exit_code == 0


def test_export_through_a_link_to_the_database_is_refused(ws_dir, tmp_path, capsys):
    before = (ws_dir / "state.db").read_bytes()
    link = tmp_path / "review.csv"
    link.symlink_to(ws_dir / "state.db")
    args = ["review", "export", "--out", str(link), "--force", "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert err.startswith(f"{link}: this is the workspace's state.db;")
    assert link.is_symlink() and (ws_dir / "state.db").read_bytes() == before


def test_export_over_a_filled_in_csv_needs_force(ws_dir, tmp_path, capsys):
    out = tmp_path / "review.csv"
    decided = fill(export(ws_dir, out), out, {"Mail/archive.pst": ("exclude", "", "mine")})
    filled_in = decided.read_bytes()
    args = ["review", "export", "--out", str(out), "-w", str(ws_dir)]
    assert run_main(args, capsys) == (
        2,
        "",
        f"{out}: the file already exists. Fix: choose another name, or add --force to replace it\n",
    )
    assert out.read_bytes() == filled_in
    assert query(ws_dir, "SELECT count(*) FROM events WHERE action = 'review.exported'") == [(1,)]
    code, stdout, _ = run_main([*args, "--force"], capsys)
    assert (code, stdout) == (0, f"{out}: 5 files awaiting review\n")
    assert [row[9:] for row in read_csv(out)[1:]] == [["", "", ""]] * 5


def test_import_records_each_decision_with_reviewer_file_line_and_time(ws_dir, tmp_path):
    rows = export(ws_dir, tmp_path / "review.csv")
    decided = fill(
        rows,
        tmp_path / "decided.csv",
        {
            "-Archive/notes.txt": ("Migrate", "people records", "HR notes"),
            "Mail/archive.pst": ("exclude", "", "Personal mail"),
            "Mail/old.ost": ("review", "", "Ask the owner"),
        },
    )
    before = datetime.now(UTC).replace(microsecond=0)
    result = cli(ws_dir, "review", "import", str(decided), "--reviewer", " Jo Bloggs ")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"{decided}: recorded 3, unchanged 0, undecided 2, rejected 0\n"
    assert reviews(ws_dir) == [
        (1, ALICE, "-Archive/notes.txt", "migrate", "People records", "HR notes", "Jo Bloggs", 2),
        (1, ALICE, "Mail/archive.pst", "exclude", None, "Personal mail", "Jo Bloggs", 4),
        (1, ALICE, "Mail/old.ost", "review", None, "Ask the owner", "Jo Bloggs", 5),
    ]
    ((source, at),) = set(query(ws_dir, "SELECT source_file, at FROM reviews"))
    assert source == str(decided.resolve())
    assert before <= datetime.fromisoformat(at) <= datetime.now(UTC)
    (event,) = query(ws_dir, "SELECT subject, detail FROM events WHERE action = 'review.imported'")
    assert event[0] == str(decided.resolve())
    assert json.loads(event[1]) == {
        "reviewer": "Jo Bloggs",
        "recorded": 3,
        "unchanged": 0,
        "undecided": 2,
        "rejected": 0,
        "decisions": {"migrate": 1, "exclude": 1, "review": 1},
    }


def test_importing_the_same_decisions_again_records_nothing(ws_dir, tmp_path):
    decided = write_csv(tmp_path / "decided.csv", HEADER + GOOD)
    cli(ws_dir, "review", "import", str(decided), "--reviewer", "Jo Bloggs")
    again = cli(ws_dir, "review", "import", str(decided), "--reviewer", "Sam Patel")
    assert again.stdout == f"{decided}: recorded 0, unchanged 1, undecided 0, rejected 0\n"
    assert len(reviews(ws_dir)) == 1


def test_a_review_overrides_the_plan_and_the_latest_review_wins(ws_dir, tmp_path):
    assert effective(ws_dir)["Mail/archive.pst"] == ("review", None, "review", "R3", None, 1)
    first = write_csv(tmp_path / "first.csv", HEADER + GOOD)
    cli(ws_dir, "review", "import", str(first), "--reviewer", "Jo Bloggs")
    assert effective(ws_dir)["Mail/archive.pst"] == (
        "exclude",
        None,
        "review",
        "R3",
        "Jo Bloggs",
        1,
    )
    change = f"{ALICE},Mail/archive.pst,migrate,Personal working files,Work mail after all,1\n"
    second = write_csv(tmp_path / "second.csv", HEADER + change)
    result = cli(ws_dir, "review", "import", str(second), "--reviewer", "Sam Patel")
    assert result.exit_code == 0, result.output
    assert effective(ws_dir)["Mail/archive.pst"] == (
        "migrate", "Personal working files", "review", "R3", "Sam Patel", 1,
    )  # fmt: skip
    assert effective(ws_dir)["Docs/report.docx"] == (
        "migrate", "Personal working files", "migrate", "R8", None, 1,
    )  # fmt: skip
    assert effective(ws_dir)["Docs/too long.docx"] == ("review", None, "review", "R8", None, 1)


def test_decided_files_leave_the_export_and_kept_waiting_ones_stay(ws_dir, tmp_path):
    decided = HEADER + GOOD + f"{ALICE},Mail/old.ost,review,,Ask the owner,1\n"
    cli(ws_dir, "review", "import", str(write_csv(tmp_path / "d.csv", decided)), "--reviewer", "Jo")
    rows = export(ws_dir, tmp_path / "again.csv")
    assert [row[1] for row in rows[1:]] == [
        "'-Archive/notes.txt",
        "Docs/too long.docx",
        "Mail/old.ost",
        "Mail/bob.pst",
    ]


def test_a_replan_makes_earlier_reviews_stale(ws_dir, tmp_path):
    decided = write_csv(tmp_path / "decided.csv", HEADER + GOOD)
    cli(ws_dir, "review", "import", str(decided), "--reviewer", "Jo Bloggs")
    assert plan(ws_dir, PLANNED, version="1.1.0") == 2
    assert effective(ws_dir)["Mail/archive.pst"] == ("review", None, "review", "R3", None, 2)
    out = tmp_path / "after.csv"
    result = cli(ws_dir, "review", "export", "--out", str(out))
    assert result.stdout == (
        f"{out}: 5 files awaiting review; 1 of them were reviewed under an earlier plan run,"
        " and those reviews no longer apply\n"
    )
    again = cli(ws_dir, "review", "import", str(decided), "--reviewer", "Jo Bloggs")
    assert again.exit_code == 1
    assert again.stderr == (
        f"{decided}:2: exported from plan run 1, but {ALICE}'s current plan is run 2. Fix: export"
        " again and decide the new rows: reviews of an earlier plan run do not apply\n"
    )
    assert len(reviews(ws_dir)) == 1


def test_a_path_excel_would_take_for_a_formula_round_trips(ws_dir, tmp_path):
    kept = f"{ALICE},'-Archive/notes.txt,exclude,,,\n"
    dropped = f"{ALICE},-Archive/notes.txt,hold,,,\n"
    for name, row in (("kept.csv", kept), ("dropped.csv", dropped)):
        result = cli(
            ws_dir, "review", "import", str(write_csv(tmp_path / name, HEADER + row)),
            "--reviewer", "Jo",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert [row[2:4] for row in reviews(ws_dir)] == [
        ("-Archive/notes.txt", "exclude"),
        ("-Archive/notes.txt", "hold"),
    ]


BAD_ROWS = [
    (
        f"{ALICE},Mail/old.ost,exclude\n",
        "3 columns where the header has 6. Fix: write one value per header column, quoting any"
        " value that holds a comma",
    ),
    (
        f"{ALICE},Mail/old.ost,,,see me,\n",
        "a label or note but no decision. Fix: write a decision (migrate, exclude, hold,"
        " dispose_after_approval, divert_evidence, review) or clear the label and note",
    ),
    (",Mail/old.ost,exclude,,,\n", "no upn. Fix: copy the upn and path from the export"),
    (f"{ALICE},,exclude,,,\n", "no path. Fix: copy the upn and path from the export"),
    (
        f"{ALICE},Mail/old.ost,delete,,,\n",
        "decision 'delete' is not one of migrate, exclude, hold, dispose_after_approval,"
        " divert_evidence, review. Fix: write one of them exactly, e.g. exclude",
    ),
    (
        f"{ALICE},Mail/old.ost,exclude,People records,,\n",
        "a label with the decision exclude. Fix: only migrate takes a retention label: clear the"
        " label or decide migrate",
    ),
    (
        f"{ALICE},Mail/old.ost,exclude,,,one\n",
        "plan_run 'one' is not a plan run number. Fix: copy it from the export",
    ),
    (
        "dave@contoso.test,Mail/old.ost,exclude,,,\n",
        "no user dave@contoso.test in this workspace. Fix: copy the upn from the export",
    ),
    (
        f"{CAROL},Desk/todo.txt,exclude,,,\n",
        f"{CAROL} has no plan yet. Fix: plan them, then export again",
    ),
    (
        f"{ALICE},Mail/old.ost,exclude,,,7\n",
        f"exported from plan run 7, but {ALICE}'s current plan is run 1. Fix: export again and"
        " decide the new rows: reviews of an earlier plan run do not apply",
    ),
    (
        f"{ALICE},mail/old.ost,exclude,,,\n",
        f"no file 'mail/old.ost' in {ALICE}'s inventory. Fix: copy the path exactly from the"
        " export (case matters)",
    ),
    (
        f"{ALICE},New/later.txt,exclude,,,\n",
        f"'New/later.txt' is not in {ALICE}'s current plan (run 1). Fix: plan them again so the"
        " plan covers what the latest scan found, then export again",
    ),
    (
        f"{ALICE},Mail/old.ost,migrate,Secret stuff,,\n",
        "label 'Secret stuff' is not one policy personal-files 1.0.0 uses. Fix: use one of:"
        " Personal working files, People records; or leave it empty",
    ),
    (
        f"{ALICE},Docs/report.docx,exclude,,,\n",
        "not awaiting review: rule R8 of the policy decided migrate. Fix: remove the row; to"
        " decide it otherwise, change the policy and plan again",
    ),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_a_bad_row_is_one_line_and_the_good_rows_are_recorded(ws_dir, tmp_path, row, message):
    file = write_csv(tmp_path / "decided.csv", HEADER + GOOD + row)
    result = cli(ws_dir, "review", "import", str(file), "--reviewer", "Jo Bloggs")
    assert result.exit_code == 1
    assert result.stderr == f"{file}:3: {message}\n"
    assert result.stdout == f"{file}: recorded 1, unchanged 0, undecided 0, rejected 1\n"
    assert [row[2] for row in reviews(ws_dir)] == ["Mail/archive.pst"]
    (detail,) = query(ws_dir, "SELECT detail FROM events WHERE action = 'review.imported'")[0]
    assert json.loads(detail)["rejected"] == 1


def test_every_row_deciding_one_file_twice_is_rejected(ws_dir, tmp_path):
    twice = f"{ALICE},Mail/old.ost,exclude,,,\n{ALICE.upper()},Mail/old.ost,hold,,,\n"
    file = write_csv(tmp_path / "decided.csv", HEADER + twice + GOOD)
    result = cli(ws_dir, "review", "import", str(file), "--reviewer", "Jo Bloggs")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{file}:2: Mail/old.ost of {ALICE} is decided again on line 3. Fix: keep one row per"
        " file, with the decision you mean",
        f"{file}:3: Mail/old.ost of {ALICE.upper()} is decided again on line 2. Fix: keep one"
        " row per file, with the decision you mean",
    ]
    assert [row[2] for row in reviews(ws_dir)] == ["Mail/archive.pst"]


def test_lines_count_from_the_file_even_when_a_note_spans_lines(ws_dir, tmp_path):
    text = (
        HEADER
        + f'{ALICE},Mail/archive.pst,exclude,,"Personal mail,\nnothing of record",\n'
        + f"{ALICE},Mail/old.ost,delete,,,\n"
    )
    file = write_csv(tmp_path / "decided.csv", text)
    result = cli(ws_dir, "review", "import", str(file), "--reviewer", "Jo Bloggs")
    assert result.stderr.startswith(f"{file}:4: decision 'delete' is not one of")
    assert reviews(ws_dir)[0][5] == "Personal mail,\nnothing of record"


@pytest.mark.parametrize(
    ("header", "what"),
    [
        ("upn,path,decison,note\n", "unknown column 'decison'"),
        ("upn,decision,label\n", "no column path"),
        ("upn,path,decision,note,Note\n", "more than one column note"),
    ],
)
def test_a_bad_header_records_nothing(ws_dir, tmp_path, capsys, header, what):
    file = write_csv(tmp_path / "decided.csv", header + f"{ALICE},Mail/old.ost,exclude,\n")
    args = ["review", "import", str(file), "--reviewer", "Jo", "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert (code, err) == (
        2,
        f"{file}:1: {what}. Fix: keep the header review export wrote (upn,path,size,modified,"
        "rule,rule_description,reason,current_action,plan_run,decision,label,note); upn, path and"
        " decision are required\n",
    )
    assert reviews(ws_dir) == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", ": the file is empty. Fix: import the CSV `hdrive-migrate review export` wrote,"),
        (b"upn,path,decision\n\xff\n", ":2: not UTF-8 text. Fix:"),
    ],
)
def test_a_file_that_is_not_a_review_csv_records_nothing(ws_dir, tmp_path, capsys, content, error):
    file = tmp_path / "decided.csv"
    file.write_bytes(content)
    args = ["review", "import", str(file), "--reviewer", "Jo", "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert code == 2
    assert err.startswith(f"{file}{error}")
    assert query(ws_dir, "SELECT count(*) FROM events WHERE action = 'review.imported'") == [(0,)]


def test_a_reviewer_must_be_named(ws_dir, tmp_path, capsys):
    file = write_csv(tmp_path / "decided.csv", HEADER + GOOD)
    args = ["review", "import", str(file), "--reviewer", "  ", "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert (code, err) == (
        2,
        "--reviewer: '' cannot name a reviewer. Fix: give the records manager's name, e.g."
        " --reviewer 'Jo Bloggs'\n",
    )


@pytest.mark.parametrize(
    ("reviewer", "problem"),
    [
        (
            "=cmd|' /C calc'!A0",
            "\"=cmd|' /C calc'!A0\" cannot name a reviewer: spreadsheets take a cell starting"
            " with '=' for a formula",
        ),
        ("@SUM(1)", "'@SUM(1)' cannot name a reviewer: spreadsheets take a cell starting with"
         " '@' for a formula"),
        ("Jo\rBloggs", "'Jo\\rBloggs' cannot name a reviewer: it holds the unprintable character"
         " '\\r'"),
    ],
)  # fmt: skip
def test_a_reviewer_name_a_spreadsheet_would_misread_is_refused(
    ws_dir, tmp_path, capsys, reviewer, problem
):
    file = write_csv(tmp_path / "d.csv", HEADER + GOOD)
    args = ["review", "import", str(file), "--reviewer", reviewer, "-w", str(ws_dir)]
    assert run_main(args, capsys) == (
        2,
        "",
        f"--reviewer: {problem}. Fix: give the records manager's name, e.g. --reviewer"
        " 'Jo Bloggs'\n",
    )
    assert reviews(ws_dir) == []
