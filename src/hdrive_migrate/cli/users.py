"""`hdrive-migrate users ...`: bring the people to migrate into the workspace."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WORKSPACE_OPTION

app = typer.Typer(
    help="Bring the people to migrate, and their H: drive folders, into the workspace.",
    epilog="Example: hdrive-migrate users import people.csv --wave pilot -w ./wave1",
    no_args_is_help=True,
)


@app.callback()
def _users() -> None:
    """Bring the people to migrate, and their H: drive folders, into the workspace."""


@app.command(
    name="import",
    epilog="Example: hdrive-migrate users import people.csv --wave pilot --resolve-sam -w ./wave1",
)
def import_users(
    file: Path = typer.Argument(
        ...,
        help="A CSV with the header folder,upn[,wave], or an SPMT / Migration Manager bulk CSV "
        "(six columns, no header).",
        dir_okay=False,
    ),
    wave: str | None = typer.Option(
        None, "--wave", help="Put every user in the file into this wave."
    ),
    resolve_sam: bool = typer.Option(
        False,
        "--resolve-sam",
        help="Ask the tenant for missing UPNs, taking the folder name as the on-premises "
        "account name, and confirm UPNs guessed from OneDrive URLs.",
    ),
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Import or update users from FILE; importing the same file again changes nothing.

    Each bad row is reported as one line (FILE:LINE: what. Fix: how) and the good rows are
    imported anyway; a user given another home folder gets a warning line, as their earlier
    scan no longer applies. Values may be separated by commas, semicolons or tabs. Exits 1 when
    any row was rejected, else 0.
    """
    from hdrive_migrate.users.importing import import_file
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        report = import_file(ws, file, wave=wave, resolve_sam=resolve_sam)
    for problem in sorted([*report.errors, *report.warnings], key=lambda row: row.line):
        typer.echo(problem.message(report.file), err=True)
    typer.echo(report.summary())
    raise typer.Exit(1 if report.errors else 0)
