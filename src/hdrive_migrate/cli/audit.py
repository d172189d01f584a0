"""`hdrive-migrate audit ...`: check the audit log's hash chain and export it for the
information-rights team (DPA 2018 s62)."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WORKSPACE_OPTION

VERIFY_EXAMPLE = "Example: hdrive-migrate audit verify -w ./wave1"
EXPORT_EXAMPLE = (
    "Example: hdrive-migrate audit export --since 2025-06-01 --out audit.csv "
    "--operator 'Jo Bloggs' -w ./wave1"
)
OPERATOR_OPTION = typer.Option(
    None,
    "--operator",
    envvar="HDRIVE_OPERATOR",
    help="Who is running the command, as the audit log records it; default the OS user.",
)

app = typer.Typer(
    help="Check the tamper-evident audit log, and export it for the information-rights team.",
    epilog=VERIFY_EXAMPLE,
    no_args_is_help=True,
)


@app.callback()
def _audit() -> None:
    """Check the tamper-evident audit log, and export it for the information-rights team."""


def operator(name: str | None) -> str:
    """Who the audit log records as doing what a command does: NAME as given to --operator
    (refused when it is empty, unprintable or starts like a formula), else the OS user."""
    from hdrive_migrate.outputs import person_name
    from hdrive_migrate.store import os_user

    if name is None:
        return os_user()
    return person_name(
        name,
        option="--operator",
        role="an operator",
        fix="give your name as plain text, e.g. --operator 'Jo Bloggs'",
    )


@app.command(epilog=VERIFY_EXAMPLE)
def verify(workspace: Path = WORKSPACE_OPTION) -> None:
    """Check every entry of the audit log against the hash chain: each entry holds the hash of
    the one before, so an entry edited, removed, inserted or moved is found.

    Prints one line: the count and time span when the log is intact (exit 0), else the first
    bad entry (id, time, action) and what is wrong with it (exit 1).
    """
    from hdrive_migrate.report.audit import verify_chain
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        verdict = verify_chain(ws.db)
    typer.echo(verdict.line())
    raise typer.Exit(1 if verdict.broken else 0)


@app.command(epilog=EXPORT_EXAMPLE)
def export(
    out: Path = typer.Option(
        ...,
        "--out",
        help="The CSV to write, outside the workspace's own files; an existing file is"
        " replaced only with --force.",
        dir_okay=False,
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="DATE",
        help="Only entries at or after DATE (YYYY-MM-DD, UTC; or an ISO 8601 time).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    operator_name: str | None = OPERATOR_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Write the audit log as CSV for the information-rights team: one row per entry, in the
    order written, with the columns id, at (UTC), actor, action, subject, detail (JSON) and
    hash (the entry's link in the chain; `audit verify` checks them).

    The file is UTF-8 with a byte order mark, for Excel; a value Excel would take for a
    formula starts with an apostrophe. The export is itself recorded in the log, with the
    operator, since the log names people.
    """
    from hdrive_migrate.report.audit import export_events, parse_since
    from hdrive_migrate.workspace import open_workspace

    moment = parse_since(since) if since is not None else None
    actor = operator(operator_name)
    with open_workspace(workspace) as ws:
        result = export_events(ws.db, out, workspace=ws.dir, force=force, since=moment, actor=actor)
    typer.echo(result.summary())
