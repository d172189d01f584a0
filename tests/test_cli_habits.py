"""Habits engineers bring to the command line: -w before the command, and --json output whose
keys are the ones the README documents."""

import json
import os
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hdrive_migrate.cli import app, main
from hdrive_migrate.config import CONFIG_NAME
from hdrive_migrate.demo.run import WAVE
from hdrive_migrate.demo.sample import people
from hdrive_migrate.migrate.status import Failure

README = Path(__file__).parent.parent / "README.md"
runner = CliRunner()


def stderr_of(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    return capsys.readouterr().err


def missing(workspace: Path) -> str:
    return f"{workspace / CONFIG_NAME}: no {CONFIG_NAME} in {workspace}."


# -w/--workspace before the command ----------------------------------------------------------


def test_workspace_before_the_command(tmp_path, capsys):
    assert stderr_of(["-w", str(tmp_path / "a"), "tenant", "check"], capsys).startswith(
        missing(tmp_path / "a")
    )
    assert stderr_of(["--workspace", str(tmp_path / "a"), "scan", "summary"], capsys).startswith(
        missing(tmp_path / "a")
    )


def test_the_commands_own_workspace_wins(tmp_path, capsys):
    args = ["-w", str(tmp_path / "a"), "tenant", "check", "-w", str(tmp_path / "b")]
    assert stderr_of(args, capsys).startswith(missing(tmp_path / "b"))


def test_workspace_before_the_command_beats_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HDRIVE_WORKSPACE", str(tmp_path / "env"))
    assert stderr_of(["-w", str(tmp_path / "a"), "status", "x@y"], capsys).startswith(
        missing(tmp_path / "a")
    )
    assert os.environ["HDRIVE_WORKSPACE"] == str(tmp_path / "env")


def test_the_environment_is_left_as_it_was(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HDRIVE_WORKSPACE", raising=False)
    stderr_of(["-w", str(tmp_path / "a"), "tenant", "check"], capsys)
    assert "HDRIVE_WORKSPACE" not in os.environ


def test_workspace_before_the_command_on_a_real_workspace(demo_run):
    result = runner.invoke(app, ["-w", str(demo_run.workspace), "scan", "summary", "--json"])
    assert result.exit_code == 0, result.output
    assert [user["upn"] for user in json.loads(result.stdout)] == [p.upn for p in people(3)]


# --json keys as documented ------------------------------------------------------------------

MAP = "map"  # a documented "(name -> count)": its keys are data, not a contract
_TOKEN = re.compile(r"`([^`]+)`|(\()|(\))|(;)|(->)")


def documented_json() -> dict[str, dict]:
    """The README's JSON table: command (as written) -> documented key tree."""
    text = README.read_text()
    section = text.split("\n## JSON output\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = parse_keys(cells[2])
    return table


def parse_keys(text: str) -> dict:
    """`a`, `b` (`c`, `d`; a note), `e` (x -> y) -> {a: None, b: {c: None, d: None}, e: MAP}.
    Names after a ";" inside brackets belong to a note, not to the keys."""
    tokens = iter(_TOKEN.finditer(text))
    keys, _ = _parse_level(tokens)
    return keys


def _parse_level(tokens) -> tuple[dict, bool]:
    keys: dict = {}
    last, note, arrow = None, False, False
    for token in tokens:
        name, opened, closed, semicolon, to = token.groups()
        if name and not note:
            keys[name] = None
            last = name
        elif opened:
            inner, is_map = _parse_level(tokens)
            if last is not None and not note:
                keys[last] = MAP if is_map else inner
        elif closed:
            return keys, arrow and not keys
        elif semicolon:
            note = True
        elif to:
            arrow = True
    return keys, False


def test_the_parser_reads_the_table_notation():
    assert parse_keys("`a`, `b` (`c`, `d`; `null` before `x`), `e` (k -> v), `f`") == {
        "a": None,
        "b": {"c": None, "d": None},
        "e": MAP,
        "f": None,
    }
    assert parse_keys("`w` (each `x`, `s` (state -> n), `y` (`z`))") == {
        "w": {"x": None, "s": MAP, "y": {"z": None}}
    }


def check(printed, documented: dict, where: str) -> None:
    """PRINTED (an object, or a list of them) has exactly the DOCUMENTED keys, and each
    nested object or list of objects that is not empty or null has its documented keys."""
    objects = printed if isinstance(printed, list) else [printed]
    assert objects, f"{where}: nothing printed to compare with"
    for item in objects:
        assert list(item) == list(documented), where
        for key, inner in documented.items():
            value = item[key]
            if isinstance(inner, dict) and value not in (None, []):
                check(value, inner, f"{where}.{key}")


def json_of(args: list[str]):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def printed(demo_run, tmp_path_factory) -> dict[str, list]:
    """What each documented command prints on the demo's workspace: for status both a person
    who moved and the blocked one, so that `cause` and `verification` are both shown."""
    ws = ["-w", str(demo_run.workspace)]
    staff = people(3)
    policy = demo_run.folder / "policies" / "personal-files.yaml"
    changed = tmp_path_factory.mktemp("policy") / "personal-files-v2.yaml"
    changed.write_text(policy.read_text().replace("action: review", "action: exclude", 1))
    return {
        "status UPN --json": [json_of(["status", p.upn, *ws]) for p in (staff[0], staff[-1])],
        "status UPN --files --json": [json_of(["status", staff[0].upn, "--files", *ws])],
        "scan summary --json": [json_of(["scan", "summary", *ws])],
        "plan explain UPN PATH --json": [
            json_of(["plan", "explain", staff[0].upn, "Documents/Rotas/Shift rota 2015.xlsx", *ws])
        ],
        "plan diff --json": [json_of(["plan", "diff", "--policy", str(changed), *ws])],
        "wave list --json": [json_of(["wave", "list", *ws])],
        "wave show NAME --json": [json_of(["wave", "show", WAVE, *ws])],
    }


def test_each_command_prints_the_documented_keys(printed):
    documented = documented_json()
    status = documented["status UPN --json"]
    files = documented["status UPN --files --json"]
    documented["status UPN --files --json"] = {**status, "files": files["files"]}
    assert sorted(documented) == sorted(printed)
    for command, outputs in printed.items():
        for output in outputs:
            check(output, documented[command], command)


def test_the_nested_values_the_demo_leaves_empty_are_documented_too(printed):
    """The demo has no failed file, so `failures` is compared with its fields in the code."""
    assert list(documented_json()["status UPN --json"]["failures"]) == list(Failure._fields)
    shown = [output for output in printed["status UPN --json"]]
    assert any(o["cause"] for o in shown) and any(o["verification"] for o in shown)
    assert printed["plan diff --json"][0]["changes"]


def json_commands(command=None, path: tuple[str, ...] = ()) -> list[str]:
    """Every command with a --json option, as words."""
    command = command or typer.main.get_command(app)
    found = []
    if any("--json" in getattr(p, "opts", []) for p in command.params):
        found.append(" ".join(path))
    for name, sub in getattr(command, "commands", {}).items():
        found += json_commands(sub, (*path, name))
    return found


def test_every_command_with_json_is_documented():
    documented = {
        " ".join(word for word in command.split() if word.islower() and word.isalpha())
        for command in documented_json()
    }
    assert set(json_commands()) <= documented
    assert "status" in json_commands() and "scan summary" in json_commands()
