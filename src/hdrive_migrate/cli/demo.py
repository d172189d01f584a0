"""`hdrive-migrate demo`: the whole pipeline on a sample share against a local tenant."""

from pathlib import Path

import typer

from hdrive_migrate.demo.sample import MAX_PEOPLE

EXAMPLE = "Example: hdrive-migrate demo --dir ./demo-workspace --users 6"
DEFAULT_DIR = Path("demo-workspace")


def demo(
    directory: Path = typer.Option(
        DEFAULT_DIR,
        "--dir",
        help="Folder for everything the demo makes: new, empty, or an earlier demo's.",
        file_okay=False,
    ),
    users: int = typer.Option(
        6, "--users", help=f"People in the sample share, 2 to {MAX_PEOPLE}; the last is blocked."
    ),
    force: bool = typer.Option(
        False, "--force", help="Delete an earlier demo in --dir first (never any other folder)."
    ),
) -> None:
    """Make a sample H: drive share (nested folders, names OneDrive refuses, a path at the
    400-character limit, temporary files, a PST, files over six years old, an Exhibits folder,
    large files, and one person without a OneDrive), start a local tenant, and run init,
    users import, preflight, scan, plan (the shipped policy), migrate, verify, report and
    notices, showing each command and its output. Everything stays in --dir to explore; the
    tenant is stopped at the end. Takes well under two minutes.

    Exits 0 when the demo ran to the end, 2 when a step failed (its message says why) or
    Ctrl-C stopped it.
    """
    from hdrive_migrate.demo.run import run_demo

    run_demo(InProcessShell(), directory, users, force=force)


class InProcessShell:
    """Runs the demo's commands in this process, as `hdrive-migrate ARGS` would, without
    starting Python again for each."""

    def say(self, text: str) -> None:
        typer.echo(text)

    def run(self, args: list[str]) -> int:
        from hdrive_migrate.cli import main

        try:
            main(args)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        return 0
