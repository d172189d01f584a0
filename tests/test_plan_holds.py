"""Hold register rows that hold nothing: each is named by its line; a path matching no file
stops the plan unless --allow-unmatched-holds, a UPN not in the workspace is a warning; the
plan's summary says what the register held."""

import sqlite3
from pathlib import Path

import pytest
from test_plan import cli, scanned, write_policy  # noqa: F401 (scanned is a fixture)

from hdrive_migrate.plan.holds import HoldRow, Holds, stops_plan, unmatched_rows

ALICE = "alice@contoso.test"
INVENTORY = [
    ("Cases", True),
    ("Cases/2021", True),
    ("Cases/2021/statement.docx", False),
    ("Empty", True),
]
WORKSPACE = {"alice@contoso.test", "bob@contoso.test"}


def judged(rows: list[tuple[str, str]], planned=("alice@contoso.test",)) -> list[str]:
    """The unmatched rows' messages for a register of ROWS (line 2 onward)."""
    holds = Holds(source=Path("holds.csv"))
    holds.rows = [HoldRow(line, upn, glob) for line, (upn, glob) in enumerate(rows, start=2)]
    return [str(error) for error in unmatched_rows(holds, WORKSPACE, planned, inventories)]


def inventories(upn: str):
    assert upn == ALICE, "only users being planned have their inventory read"
    return iter(INVENTORY)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((ALICE, "Cases/2021/**"), None),
        ((ALICE, "statement.docx"), None),
        (("ALICE@Contoso.Test", "cases/2021/*.DOCX"), None),  # UPNs and globs ignore case
        ((ALICE, ""), None),  # a whole drive holds whatever it has
        (("bob@contoso.test", "Nothing/**"), None),  # bob is not being planned
        (("bob@contoso.test", ""), None),
        (
            ("alce@contoso.test", ""),
            "holds.csv:2: no user alce@contoso.test in this workspace. Fix: correct the UPN",
        ),
        (
            ("alce@contoso.test", "Cases/**"),
            "holds.csv:2: no user alce@contoso.test in this workspace",
        ),
        (
            (ALICE, "Cases/2012/**"),
            "holds.csv:2: path 'Cases/2012/**' matches no file of alice@contoso.test. Fix:",
        ),
        (
            (ALICE, "Cases/2021"),
            "holds.csv:2: path 'Cases/2021' matches no file of alice@contoso.test, only a"
            " folder. Fix: write Cases/2021/** to hold the folder and everything in it",
        ),
        ((ALICE, "Empty/**"), "holds.csv:2: path 'Empty/**' matches no file of"),
    ],
)
def test_each_row_that_holds_nothing_is_named_by_its_line(row, message):
    found = judged([row])
    if message is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(message), found


def test_unmatched_rows_come_in_line_order_and_the_inventory_is_read_once():
    reads = []

    def counted(upn: str):
        reads.append(upn)
        return iter(INVENTORY)

    holds = Holds(source=Path("h.csv"))
    holds.rows = [
        HoldRow(2, ALICE, "Typo/**"),
        HoldRow(3, "nobody@contoso.test", ""),
        HoldRow(4, ALICE, "Cases/**"),
        HoldRow(5, ALICE, "Other/**"),
    ]
    found = unmatched_rows(holds, WORKSPACE, {ALICE}, counted)
    assert [error.where for error in found] == ["h.csv:2", "h.csv:3", "h.csv:5"]
    assert [stops_plan(error) for error in found] == [True, False, True]
    assert reads == [ALICE]


def dump(ws: Path) -> list[str]:
    with sqlite3.connect(ws / "state.db") as conn:
        return list(conn.iterdump())


def test_a_mistyped_hold_register_stops_the_plan_and_changes_nothing(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text(
        "upn,path\n"
        "alice@contoso.test,Documents/held/**\n"
        "alice@contoso.tset,\n"
        "alice@contoso.test,Documents/hled/**\n"
    )
    before = dump(ws)
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(holds))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{holds}:3: warning: no user alice@contoso.tset in this workspace. Fix: correct the"
        " UPN, or import the user with `hdrive-migrate users import`",
        f"{holds}:4: path 'Documents/hled/**' matches no file of alice@contoso.test. Fix:"
        " correct the path: a glob from the user's H: root as the scan saw it, e.g."
        " Cases/2021/**; or add --allow-unmatched-holds",
    ]
    assert dump(ws) == before


def test_mistyped_paths_stop_the_plan_with_a_line_each_and_a_summary(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text(
        "upn,path\n"
        "alice@contoso.test,Documents/held/**\n"
        "alice@contoso.test,Documents/hled/**\n"
        "alice@contoso.test,Typo/**\n"
    )
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(holds))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{holds}:3", f"{holds}:4", str(holds)]
    assert lines[2] == (
        f"{holds}: 2 row(s) of the hold register match nothing, so nothing was planned. Fix:"
        " correct each row named above, or add --allow-unmatched-holds to plan anyway"
    )


def test_a_upn_not_in_the_workspace_is_a_warning_and_the_plan_goes_on(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text(
        "upn,path\nalice@contoso.test,Documents/held/**\nleaver@contoso.test,\n"
        "later.wave@contoso.test,Cases/**\n"
    )
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(holds))
    assert result.returncode == 1, result.stderr  # 1: bob has no scan yet, as before
    assert result.stderr.splitlines() == [
        f"{holds}:3: warning: no user leaver@contoso.test in this workspace. Fix: correct the"
        " UPN, or import the user with `hdrive-migrate users import`",
        f"{holds}:4: warning: no user later.wave@contoso.test in this workspace. Fix: correct"
        " the UPN, or import the user with `hdrive-migrate users import`",
    ]
    assert f"holds: 1 file(s) held by {holds}; 2 row(s) matched nothing" in result.stdout
    assert "plan run 1: 1 user(s)" in result.stdout


def test_allowed_unmatched_rows_are_warned_of_and_the_plan_goes_on(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text("upn,path\nalice@contoso.test,Documents/held/**\nnobody@contoso.test,\n")
    policy = str(write_policy(folder))
    args = ("plan", "--policy", policy, "--holds", str(holds), "--user", ALICE)
    result = cli(ws, *args, "--allow-unmatched-holds")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{holds}:3: warning: no user nobody@contoso.test in this workspace. Fix: correct the"
        " UPN, or import the user with `hdrive-migrate users import`"
    ]
    assert f"holds: 1 file(s) held by {holds}; 1 row(s) matched nothing" in result.stdout


def test_a_hold_for_a_user_outside_the_run_is_not_unmatched(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text("upn,path\nalice@contoso.test,Documents/held/**\nbob@contoso.test,Old/**\n")
    result = cli(
        ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(holds), "--user", ALICE
    )
    assert result.returncode == 0, result.stderr
    assert f"holds: 1 file(s) held by {holds}\n" in result.stdout


def test_the_summary_says_when_no_hold_register_was_given(scanned):  # noqa: F811
    ws, folder = scanned
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--user", ALICE)
    assert result.returncode == 0, result.stderr
    assert "holds: no hold register given, so no file is on hold" in result.stdout


def test_the_register_from_hdrive_toml_is_checked_and_named(scanned):  # noqa: F811
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_text("upn,path\nalice@contoso.test,Documents/held\n")
    toml = ws / "hdrive.toml"
    toml.write_text(toml.read_text().replace('# holds = ""', f"holds = '{holds}'"))
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--user", ALICE)
    assert result.returncode == 2
    assert f"{holds}:2: path 'Documents/held' matches no file of" in result.stderr
    assert "write Documents/held/** to hold the folder" in result.stderr
