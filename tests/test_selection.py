"""Choosing the users a command works on: --user, --wave, both together (that user, who must
be in that wave) and "(no wave)", with one rule and one wording in every command."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hdrive_migrate.cli import app, main
from hdrive_migrate.store import open_store
from hdrive_migrate.users.roster import select_users

runner = CliRunner()
NO_GRAPH = "http://127.0.0.1:9"  # nothing listens: a selection error must come before Graph
POLICY = Path(__file__).parent.parent / "policies" / "personal-files.yaml"
ALICE, BOB, CAROL = "alice@c.test", "bob@c.test", "carol@c.test"


@pytest.fixture
def workspace(tmp_path) -> Path:
    """alice in wave pilot, bob in wave 'wave 2', carol in no wave."""
    home = tmp_path / "home"
    for folder in ("alice", "bob", "carol"):
        (home / folder).mkdir(parents=True)
        (home / folder / "notes.txt").write_text(folder)
    (home / "alice" / "Documents").mkdir()
    ws = tmp_path / "ws"
    init = ["init", str(ws), "--source", str(home), "--graph-url", NO_GRAPH, "--auth", "local"]
    assert runner.invoke(app, init).exit_code == 0
    people = tmp_path / "people.csv"
    people.write_text(
        f"folder,upn,wave\nalice,{ALICE},pilot\nbob,{BOB},wave 2\ncarol,{CAROL},\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["users", "import", str(people), "-w", str(ws)]).exit_code == 0
    return ws


@pytest.mark.parametrize(
    ("wave", "upn", "chosen"),
    [
        (None, None, [ALICE, BOB, CAROL]),
        ("pilot", None, [ALICE]),
        ("(no wave)", None, [CAROL]),
        (None, "BOB@C.TEST", [BOB]),
        ("pilot", ALICE, [ALICE]),
        ("wave 2", "Bob@c.test", [BOB]),
        ("(no wave)", CAROL, [CAROL]),
    ],
)
def test_the_users_chosen(workspace, wave, upn, chosen):
    db = open_store(workspace / "state.db")
    try:
        assert [user.upn for user in select_users(db, wave=wave, upn=upn)] == chosen
    finally:
        db.close()


ELSEWHERE = "Fix: drop --wave or --user; `hdrive-migrate wave show NAME` lists a wave's users"
NO_WAVE_FIX = "Fix: check the name with `hdrive-migrate wave list`"
NO_USER_FIX = "Fix: import them first with `hdrive-migrate users import FILE`"
WRONG_CHOICES = [
    (["--wave", "pilot", "--user", BOB], f"{BOB} is in wave 'wave 2', not in wave 'pilot'"),
    (["--wave", "pilot", "--user", CAROL], f"{CAROL} is in no wave, not in wave 'pilot'"),
    (
        ["--wave", "(no wave)", "--user", ALICE],
        f"{ALICE} is in wave 'pilot', not in wave '(no wave)'",
    ),
    (["--wave", "nosuch", "--user", ALICE], f"{ALICE} is in wave 'pilot', not in wave 'nosuch'"),
    (["--wave", "Pilot"], f"no users in wave 'Pilot'. {NO_WAVE_FIX}"),
    (["--user", "dave@c.test"], f"no user dave@c.test in this workspace. {NO_USER_FIX}"),
    (["--wave", "pilot", "--user", "dave@c.test"], "no user dave@c.test in this workspace"),
]
COMMANDS = [
    ["scan"],
    ["preflight"],
    ["plan", "--policy", str(POLICY)],
    ["migrate", "--dry-run"],
    ["migrate"],
    ["verify"],
    ["dispose", "approve", "--approver", "A. Manager"],
]
# Commands that take --wave alone.
WAVE_COMMANDS = [
    ["wave", "show", "nosuch"],
    ["scan", "summary", "--wave", "nosuch"],
    ["report", "--wave", "nosuch"],
    ["review", "export", "--out", "review.csv", "--wave", "nosuch"],
    ["plan", "diff", "--policy", str(POLICY), "--wave", "nosuch"],
    ["preflight", "--wave", "nosuch"],
    ["migrate", "--dry-run", "--wave", "nosuch"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
@pytest.mark.parametrize(("choice", "message"), WRONG_CHOICES)
def test_every_command_refuses_a_wrong_choice_in_the_same_words(
    workspace, capsys, command, choice, message
):
    with pytest.raises(SystemExit) as caught:
        main([*command, *choice, "-w", str(workspace)])
    out, err = capsys.readouterr()
    assert (caught.value.code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1
    if " not in wave " in message:
        assert err == f"{message}. {ELSEWHERE}\n"


@pytest.mark.parametrize("command", WAVE_COMMANDS, ids=" ".join)
def test_a_wave_nobody_is_in_has_one_wording_in_every_command(
    workspace, capsys, command, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # review export's --out, were it written
    with pytest.raises(SystemExit) as caught:
        main([*command, "-w", str(workspace)])
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"no users in wave 'nosuch'. {NO_WAVE_FIX}\n"


def test_status_of_an_unknown_user_has_the_same_wording(workspace, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["status", "dave@c.test", "-w", str(workspace)])
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"no user dave@c.test in this workspace. {NO_USER_FIX}\n"


def test_user_and_wave_together_scan_only_that_user(workspace):
    result = runner.invoke(app, ["scan", "--wave", "pilot", "--user", ALICE, "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"✓ {ALICE}: 1 file, 1 folder, 5 B; new 1, changed 0, unchanged 0, deleted 0; findings 0"
    ]
