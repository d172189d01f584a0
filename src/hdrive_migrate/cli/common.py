"""Options shared by several commands."""

from pathlib import Path

import typer

WAVE_OPTION = typer.Option(None, "--wave", help="Only the users of this wave.")
USER_OPTION = typer.Option(None, "--user", help="Only this user (UPN).")

WORKSPACE_ENV = "HDRIVE_WORKSPACE"
WORKSPACE_OPTION = typer.Option(
    Path("."),
    "--workspace",
    "-w",
    envvar=WORKSPACE_ENV,
    help="Workspace directory (holding hdrive.toml and state.db); default the current directory.",
    file_okay=False,
)
