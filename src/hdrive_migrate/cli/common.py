"""Options shared by several commands."""

from pathlib import Path

import typer

WORKSPACE_OPTION = typer.Option(
    Path("."),
    "--workspace",
    "-w",
    envvar="HDRIVE_WORKSPACE",
    help="Workspace directory (holding hdrive.toml and state.db); default the current directory.",
    file_okay=False,
)
