"""`hdrive-migrate wave ...`: who is in each wave and how far they have got."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hdrive_migrate.cli.common import WORKSPACE_OPTION
from hdrive_migrate.display import size_text

if TYPE_CHECKING:
    from hdrive_migrate.users.waves import WaveMember, WaveSummary

app = typer.Typer(
    help="List waves and the users in them.",
    epilog="Example: hdrive-migrate wave show pilot -w ./wave1",
    no_args_is_help=True,
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command(name="list", epilog="Example: hdrive-migrate wave list --json -w ./wave1")
def list_waves(workspace: Path = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Each wave with its users, how many are in each state, and the files and bytes of their
    latest complete scans. Users without a wave are listed as "(no wave)"."""
    from hdrive_migrate.users.waves import wave_name, wave_summaries
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        waves = wave_summaries(ws.db)
    if as_json:
        typer.echo(json.dumps({"waves": [_summary_json(wave) for wave in waves]}, indent=2))
        return
    rows = [
        [
            wave_name(w.wave),
            str(w.users),
            ", ".join(f"{state} {n}" for state, n in sorted(w.states.items())),
            f"{w.scanned}/{w.users}",
            _count(w.files),
            _size(w.bytes),
        ]
        for w in waves
    ]
    _table(["WAVE", "USERS", "STATES", "SCANNED", "FILES", "SIZE"], rows)


@app.command(epilog="Example: hdrive-migrate wave show pilot --json -w ./wave1")
def show(
    name: str = typer.Argument(..., help='The wave; "(no wave)" for users without one.'),
    workspace: Path = WORKSPACE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The users of wave NAME: folder, state, latest complete scan and number of findings."""
    from hdrive_migrate.users.csvfiles import NO_WAVE
    from hdrive_migrate.users.waves import wave_members
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        members = wave_members(ws.db, name)
    if as_json:
        wave = None if name == NO_WAVE else name
        body = {"wave": wave, "users": [member.as_json() for member in members]}
        typer.echo(json.dumps(body, indent=2))
        return
    header = ["UPN", "FOLDER", "STATE", "FILES", "SIZE", "FINDINGS"]
    _table(header, [_member_row(member) for member in members])


def _summary_json(wave: "WaveSummary") -> dict:
    return {
        "wave": wave.wave,
        "users": wave.users,
        "states": wave.states,
        "scanned_users": wave.scanned,
        "files": wave.files,
        "bytes": wave.bytes,
    }


def _member_row(member: "WaveMember") -> list[str]:
    scan = member.scan
    return [
        member.upn,
        member.folder,
        member.state,
        _count(scan.files if scan else None),
        _size(scan.bytes if scan else None),
        str(member.findings),
    ]


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _size(value: int | None) -> str:
    return "-" if value is None else size_text(value)
