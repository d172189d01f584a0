"""Each user's one state (migrate.status): the pure rule from facts, with hypothesis, and
`hdrive-migrate status` on a real workspace made through the command line, the engine's
outcomes simulated by writing transfer rows as the engine does."""

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from migrate_setup import LABEL, prepare
from migrate_setup import cli as migrate_cli
from typer.testing import CliRunner

from hdrive_migrate.cli import app, main
from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.migrate.status import (
    BAD,
    GOOD,
    OPEN,
    STATES,
    Cause,
    Facts,
    UserState,
    report,
    user_state,
)
from hdrive_migrate.plan.current import effective_decisions
from hdrive_migrate.workspace import open_workspace

POLICY = Path(__file__).resolve().parents[1] / "policies" / "personal-files.yaml"
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
NO_GRAPH = "http://127.0.0.1:9/v1.0"
runner = CliRunner()
# Engine times after the scan and plan, which ran at the real time.
LATER = datetime.now(UTC) + timedelta(days=1)
STARTED, FINISHED, BLOCKED_AT = (
    (LATER + timedelta(minutes=minutes)).isoformat(timespec="seconds") for minutes in (0, 5, 60)
)

BLOCK = Cause("quota-full", "the user's OneDrive is full", "raise the limit")
FINDING = Cause("folder_missing", "the user's home folder is not on the share", "restore it")
RUN = Cause("run-failed", "the run stopped", "check the log")


# --- the pure rule ----------------------------------------------------------------------

causes = st.one_of(st.none(), st.sampled_from([BLOCK, FINDING, RUN]))
counts = st.integers(min_value=0, max_value=5)
transfer_states = st.dictionaries(st.sampled_from([*GOOD, *BAD, OPEN, "removed"]), counts)
facts = st.builds(
    Facts,
    scanned=st.booleans(),
    planned=st.booleans(),
    to_migrate=st.integers(min_value=0, max_value=12),
    transfers=transfer_states,
    block=causes,
    preflight=causes,
    run_failure=causes,
)


def tally(known: Facts) -> tuple[int, int, int]:
    return known.count(GOOD), known.count(BAD), known.transfers.get(OPEN, 0)


@given(facts)
def test_every_user_has_exactly_one_known_state_and_only_blocked_or_failed_have_a_cause(known):
    state, cause = user_state(known)
    assert state in STATES
    assert cause is None or state in ("blocked", "failed")
    if state == "blocked":
        assert cause is not None


@given(facts, st.sampled_from([BLOCK, FINDING]))
def test_a_user_block_wins_over_everything(known, block):
    known = Facts(**{**known.__dict__, "block": block})
    assert user_state(known) == UserState("blocked", block)


@given(facts)
def test_preflight_never_changes_the_state_once_a_file_was_attempted_or_opened(known):
    good, bad, sending = tally(known)
    without = Facts(**{**known.__dict__, "preflight": None})
    if good + bad + sending:
        assert user_state(known) == user_state(without)
    elif known.block is None and known.preflight is not None:
        assert user_state(known) == UserState("blocked", known.preflight)


@given(facts)
def test_migrated_means_every_planned_file_has_a_good_outcome(known):
    good, bad, sending = tally(known)
    state, _ = user_state(known)
    every_file_good = good >= known.to_migrate and good > 0 and bad == sending == 0
    if state == "migrated":
        assert every_file_good
    if every_file_good and known.block is None and known.run_failure is None:
        assert state == "migrated"


@given(facts)
def test_the_outcome_states_need_every_file_attempted_and_none_open(known):
    good, bad, sending = tally(known)
    state, cause = user_state(known)
    if state == "migrated-with-exceptions":
        assert good and bad and sending == 0 and good + bad >= known.to_migrate
    if state == "failed" and cause is None:
        assert good == 0 and bad and sending == 0 and bad >= known.to_migrate
    if state == "migrating":
        assert sending or 0 < good + bad < known.to_migrate


@given(facts)
def test_the_early_states_mean_nothing_was_sent(known):
    good, bad, sending = tally(known)
    state, _ = user_state(known)
    if state in ("pending", "scanned", "planned"):
        assert good + bad + sending == 0
    if state == "pending":
        assert not known.scanned and not known.planned


@given(facts)
def test_a_failed_run_fails_the_user_only_when_it_left_planned_files_without_a_good_outcome(
    known,
):
    known = Facts(**{**known.__dict__, "run_failure": RUN, "block": None, "preflight": None})
    good, bad, sending = tally(known)
    expected_failed = (good + bad + sending) > 0 and good < known.to_migrate
    assert (user_state(known) == UserState("failed", RUN)) == expected_failed


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        (Facts(), "pending"),
        (Facts(scanned=True), "scanned"),
        (Facts(scanned=True, planned=True, to_migrate=3), "planned"),
        (Facts(scanned=True, planned=True, to_migrate=0), "planned"),
        (Facts(planned=True, to_migrate=3, transfers={"migrated": 1}), "migrating"),
        (Facts(planned=True, to_migrate=3, transfers={"sending": 1}), "migrating"),
        (Facts(planned=True, to_migrate=2, transfers={"migrated": 1, "sending": 1}), "migrating"),
        (Facts(planned=True, to_migrate=3, transfers={"migrated": 2, "renamed": 1}), "migrated"),
        (Facts(planned=True, to_migrate=2, transfers={"skipped-identical": 2}), "migrated"),
        (
            Facts(planned=True, to_migrate=3, transfers={"migrated": 2, "failed": 1}),
            "migrated-with-exceptions",
        ),
        (Facts(planned=True, to_migrate=2, transfers={"failed": 2}), "failed"),
        (Facts(planned=True, to_migrate=2, transfers={"failed": 1}), "migrating"),
        (Facts(planned=True, to_migrate=2, transfers={"migrated": 2}, block=BLOCK), "blocked"),
        (Facts(planned=True, to_migrate=2, preflight=FINDING), "blocked"),
        (
            Facts(planned=True, to_migrate=2, transfers={"migrated": 2}, preflight=FINDING),
            "migrated",
        ),
        (Facts(planned=True, to_migrate=2, transfers={"migrated": 1}, run_failure=RUN), "failed"),
        (Facts(planned=True, to_migrate=1, transfers={"migrated": 1}, run_failure=RUN), "migrated"),
    ],
)
def test_states_from_a_table(known, expected):
    assert user_state(known).state == expected


# --- status through the command line, on a real workspace ------------------------------

HOME_FOLDERS = {ALICE: "AliceHome", BOB: "BobHome"}
FILES = {
    "Documents/Quarterly report.docx": b"alice report " * 100,
    "Documents/notes.txt": b"notes",
    "Documents/Cases/statement.docx": b"statement",
    "Mail/archive.pst": b"pst" * 50,
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A workspace made through the command line: alice and bob imported in wave W1, alice
    scanned with hashes and planned with the shipped policy, bob left pending."""
    folder = tmp_path_factory.mktemp("status")
    for home in HOME_FOLDERS.values():
        for path, content in FILES.items():
            (folder / "homes" / home / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / "homes" / home / path).write_bytes(content)
    ws = folder / "ws"
    users = folder / "users.csv"
    users.write_text(f"folder,upn,wave\nAliceHome,{ALICE},W1\nBobHome,{BOB},W1\n")
    steps = [
        [
            "init",
            str(ws),
            "--source",
            str(folder / "homes"),
            "--graph-url",
            NO_GRAPH,
            "--auth",
            "local",
        ],
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
    copy = tmp_path / "ws"
    shutil.copytree(made, copy)
    return copy


def status(ws: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["status", *args, "-w", str(ws)], terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def status_json(ws: Path, upn: str = ALICE) -> dict:
    code, out, err = status(ws, upn, "--json")
    assert code == 0, err
    return json.loads(out)


def execute(ws: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as db:
        return db.execute(sql, params).fetchall()


def migrate_paths(ws: Path, upn: str = ALICE) -> list[str]:
    with open_workspace(ws) as opened:
        return [e.path for e in effective_decisions(opened.db, [upn]) if e.action == "migrate"]


def record(ws: Path, path: str, state: str, reason: str | None = None, run: int = 1) -> None:
    """A transfer row as the engine writes it, its detail naming the file as the engine's do."""
    size = execute(ws, "SELECT size FROM files WHERE upn = ? AND path = ?", ALICE, path)[0][0]
    execute(
        ws,
        "INSERT OR REPLACE INTO transfers(upn, path, state, target_path, source_size, reason,"
        " detail, run_id, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ALICE,
        path,
        state,
        f"H/{path}",
        size,
        reason,
        f"while sending {path}",
        run,
        STARTED,
        None if state == OPEN else FINISHED,
    )


def start_run(ws: Path, status_text: str = "complete") -> None:
    execute(
        ws,
        "INSERT INTO migrate_runs(id, started_at, finished_at, status, selection, operator,"
        " concurrency, chunk_bytes) VALUES (1, ?, NULL, ?, '{}', 'tester', 4, 10485760)",
        STARTED,
        status_text,
    )


def test_a_planned_user_shows_scan_and_plan_counts_matching_the_effective_decisions(ws):
    body = status_json(ws)
    planned = migrate_paths(ws)
    assert body["upn"] == ALICE and body["state"] == "planned" and body["wave"] == "W1"
    assert body["scanned_files"] == len(FILES)
    assert body["scanned_bytes"] == sum(len(content) for content in FILES.values())
    assert body["planned"] == {"migrate": len(planned), "review": 1}
    assert (body["migrated_files"], body["migrated_bytes"], body["failed_files"]) == (0, 0, 0)
    assert body["failures"] == [] and body["cause"] is None
    assert body["last_activity"] is not None
    assert "hdrive-migrate migrate --user alice@contoso.test" in body["next_step"]
    bob = status_json(ws, BOB)
    assert (bob["state"], bob["scanned_files"], bob["planned"]) == ("pending", None, {})


def test_a_review_moves_the_planned_counts_as_the_effective_decision_does(ws, tmp_path):
    review = tmp_path / "review.csv"
    review.write_text(
        f"upn,path,decision,label,note,plan_run\n{ALICE},Mail/archive.pst,migrate,"
        "Personal working files,,1\n"
    )
    result = runner.invoke(
        app, ["review", "import", str(review), "--reviewer", "R. Manager", "-w", str(ws)]
    )
    assert result.exit_code == 0, result.output
    assert status_json(ws)["planned"] == {"migrate": len(migrate_paths(ws))}
    assert len(migrate_paths(ws)) == len(FILES)


def test_outcomes_move_the_user_through_migrating_to_migrated(ws):
    paths = migrate_paths(ws)
    start_run(ws)
    record(ws, paths[0], "migrated")
    record(ws, paths[1], OPEN)
    body = status_json(ws)
    assert body["state"] == "migrating"
    assert (body["migrated_files"], body["in_progress"]) == (1, 1)
    assert body["remaining"] == len(paths) - 2
    assert body["migrated_bytes"] == len(FILES[paths[0]])
    for path in paths[1:]:
        record(ws, path, "skipped-identical")
    body = status_json(ws)
    assert body["state"] == "migrated"
    assert body["migrated_files"] == len(paths)
    assert body["migrated_bytes"] == sum(len(FILES[path]) for path in paths)
    assert body["last_activity"] == FINISHED
    assert "hdrive-migrate verify --user" in body["next_step"]


def test_failures_are_counted_by_reason_with_the_fix_and_no_names(ws):
    paths = migrate_paths(ws)
    start_run(ws)
    record(ws, paths[0], "migrated")
    record(ws, paths[1], "failed", "changed-during-migration")
    record(ws, paths[2], "failed", "changed-during-migration")
    body = status_json(ws)
    assert body["state"] == "migrated-with-exceptions"
    assert body["failed_files"] == 2
    assert body["failures"] == [
        {
            "reason": "changed-during-migration",
            "count": 2,
            "fix": REASONS["changed-during-migration"].fix.replace("UPN", ALICE),
        }
    ]
    record(ws, paths[0], "failed", "hash-mismatch")
    body = status_json(ws)
    assert body["state"] == "failed"
    assert [f["reason"] for f in body["failures"]] == ["changed-during-migration", "hash-mismatch"]


def test_a_user_block_shows_the_cause_and_its_fix(ws):
    paths = migrate_paths(ws)
    start_run(ws)
    record(ws, paths[0], "migrated")
    execute(
        ws,
        "INSERT INTO user_blocks(upn, reason, detail, run_id, at) VALUES (?, 'quota-full',"
        " 'needed 5 GiB more for Documents', 1, ?)",
        ALICE.upper(),
        BLOCKED_AT,
    )
    body = status_json(ws)
    assert body["state"] == "blocked"
    assert body["cause"] == {
        "reason": "quota-full",
        "explanation": REASONS["quota-full"].explanation,
        "fix": REASONS["quota-full"].fix,
    }
    assert body["next_step"] == REASONS["quota-full"].fix
    assert body["last_activity"] == BLOCKED_AT


def test_a_run_that_failed_as_a_whole_fails_its_users(ws):
    paths = migrate_paths(ws)
    start_run(ws, "failed")
    record(ws, paths[0], "migrated")
    body = status_json(ws)
    assert (body["state"], body["cause"]["reason"]) == ("failed", "run-failed")


def test_a_preflight_finding_blocks_only_before_migration(ws):
    execute(
        ws,
        "INSERT INTO findings(upn, stage, kind, detail, at) VALUES (?, 'preflight',"
        " 'folder_missing', 'no folder AliceHome under /srv/homes. Fix: restore or rename the"
        " folder', '2025-06-03T00:00:00+00:00')",
        ALICE,
    )
    body = status_json(ws)
    assert body["state"] == "blocked"
    assert body["cause"]["reason"] == "folder_missing"
    assert body["cause"]["fix"] == "restore or rename the folder"
    start_run(ws)
    for path in migrate_paths(ws):
        record(ws, path, "migrated")
    assert status_json(ws)["state"] == "migrated"


def test_no_file_or_folder_name_appears_in_either_form(ws):
    paths = migrate_paths(ws)
    start_run(ws)
    record(ws, paths[0], "failed", "source-unreadable")
    record(ws, paths[1], "failed", "a-code-from-a-newer-version")
    record(ws, paths[2], OPEN)
    execute(
        ws,
        "INSERT INTO findings(upn, stage, kind, detail, at) VALUES (?, 'preflight',"
        " 'folder_unreadable', 'cannot list AliceHome. Fix: give access', '2025-06-03')",
        ALICE,
    )
    execute(
        ws,
        "INSERT INTO verify_runs(upn, started_at, finished_at, status, checked, ok, missing)"
        " VALUES (?, '2025-06-04', '2025-06-04', 'complete', 3, 2, 1)",
        ALICE,
    )
    execute(ws, "INSERT INTO verify_findings VALUES (1, ?, 'H/Documents', 'missing', 'x')", ALICE)
    names = {"AliceHome", *(part for path in FILES for part in path.split("/"))}
    code, text, _ = status(ws, ALICE)
    assert code == 0
    for shown in (text, json.dumps(status_json(ws))):
        assert [name for name in names if name in shown] == []


def test_the_card_is_short_and_says_what_to_do(ws):
    paths = migrate_paths(ws)
    start_run(ws)
    record(ws, paths[0], "migrated")
    record(ws, paths[1], "failed", "path-too-long")
    record(ws, paths[2], "failed", "path-too-long")
    code, text, _ = status(ws, "ALICE@Contoso.Test")
    lines = text.splitlines()
    assert code == 0 and lines[0] == "alice@contoso.test (wave W1)"
    assert "  State:" in lines[1] and "migrated-with-exceptions" in lines[1]
    assert any(line.strip().startswith("Planned:") and "migrate 3" in line for line in lines)
    fix = REASONS["path-too-long"].fix.replace("--user UPN", f"--user {ALICE}")
    assert f"2 path-too-long. Fix: {fix}" in [line.strip() for line in lines]
    assert lines[-1].strip().startswith("Next step:")
    assert len(lines) <= 12


def test_an_unknown_user_gets_one_line_with_the_fix(ws, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["status", "nobody@contoso.test", "-w", str(ws)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "no user nobody@contoso.test in this workspace. Fix: import them first with "
        "`hdrive-migrate users import FILE`\n"
    )


def test_status_has_help_with_an_example():
    result = runner.invoke(app, ["status", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: hdrive-migrate status" in result.stdout


def test_the_report_reads_only_through_indexes(ws):
    """Speed on a big database comes from indexed look-ups: no statement may scan a table."""
    with open_workspace(ws) as opened:
        statements: list[str] = []
        opened.db.conn.set_trace_callback(statements.append)
        report(opened.db, ALICE)
        opened.db.conn.set_trace_callback(None)
        plans = [
            step[3]
            for sql in statements
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
            for step in opened.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        ]
    assert plans and [step for step in plans if step.startswith("SCAN")] == []


def test_a_real_migration_is_migrated_and_a_later_preflight_does_not_set_it_back(
    tmp_path, tenant_factory
):
    tenant = tenant_factory(retention_labels={LABEL})
    setup = prepare(tmp_path, tenant, {"alice": {"a.txt": b"a", "b/c.txt": b"c"}}, {"alice": ALICE})
    assert migrate_cli(setup.ws, "migrate").returncode == 0
    assert status_json(setup.ws)["state"] == "migrated"
    shutil.rmtree(setup.homes / "alice")  # cutover: the H: drive is gone
    preflight = migrate_cli(setup.ws, "preflight", "--user", ALICE)
    assert preflight.returncode == 1 and "no folder alice" in preflight.stdout
    body = status_json(setup.ws)
    assert (body["state"], body["migrated_files"], body["cause"]) == ("migrated", 2, None)
