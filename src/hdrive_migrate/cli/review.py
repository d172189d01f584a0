"""`hdrive-migrate review ...`: the records managers' decisions on files the policy left to
them."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WAVE_OPTION, WORKSPACE_OPTION

app = typer.Typer(
    help="Export the files awaiting a records manager's decision, and import their decisions.",
    epilog="Example: hdrive-migrate review export --wave pilot --out review.csv -w ./wave1",
    no_args_is_help=True,
)


@app.callback()
def _review() -> None:
    """Export the files awaiting a records manager's decision, and import their decisions."""


@app.command(
    name="export",
    epilog="Example: hdrive-migrate review export --wave pilot --out review.csv -w ./wave1",
)
def export(
    out: Path = typer.Option(
        ...,
        "--out",
        help="The CSV to write, outside the workspace's own files; an existing file is"
        " replaced only with --force.",
        dir_okay=False,
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace --out if it exists (e.g. an earlier, unimported export)."
    ),
    wave: str | None = WAVE_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Write a CSV of the files awaiting review: those whose decision is `review` in their
    user's current plan and that no review of that plan run has decided.

    Columns, in this order: upn, path (relative to the H: drive), size (bytes), modified
    (UTC date, YYYY-MM-DD), rule (the policy rule that sent it to review), rule_description,
    reason, current_action (`review`), plan_run, and decision, label, note, left empty for
    the records manager. The file is UTF-8 with a byte order mark, for Excel; a value Excel
    would take for a formula starts with an apostrophe, which import removes again.

    Reviews belong to a plan run: after a re-plan, earlier reviews stay in the history but no
    longer apply, so their files are exported again (the count says how many).

    An existing --out may hold decisions not yet imported, so it is refused unless --force
    is given; state.db, hdrive.toml and the workspace's other own files are always refused.
    """
    from hdrive_migrate.plan.review import export_reviews
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        upns = [chosen.upn for chosen in select_users(ws.db, wave=wave, upn=None)]
        report = export_reviews(ws.db, upns, out, workspace=ws.dir, force=force)
    typer.echo(report.summary())


@app.command(
    name="import",
    epilog="Example: hdrive-migrate review import review.csv --reviewer 'Jo Bloggs' -w ./wave1",
)
def import_reviews(
    file: Path = typer.Argument(..., help="A CSV written by review export.", dir_okay=False),
    reviewer: str = typer.Option(..., "--reviewer", help="Who made the decisions in FILE."),
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Record the decisions in FILE as REVIEWER's, each with its file, line and the time.

    The header must name upn, path and decision; label, note and plan_run are read when
    present, the other export columns ignored. A decision is one of migrate (label optional:
    one of the policy's labels), exclude, hold, dispose_after_approval, divert_evidence, or
    review (keep waiting); a row with no decision is skipped. A file can be decided while it
    awaits review, and decided again (the latest wins) until a disposal certificate lists it;
    a file the policy itself decided is refused.

    Each bad row is reported as one line (FILE:LINE: what. Fix: how) and the good rows are
    recorded anyway. Exits 1 when any row was rejected, else 0.
    """
    from hdrive_migrate.clock import SYSTEM_CLOCK
    from hdrive_migrate.plan.review import import_reviews as record
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        report = record(ws.db, file, reviewer=reviewer, now=SYSTEM_CLOCK.now())
    for error in report.errors:
        typer.echo(error.message(report.file), err=True)
    typer.echo(report.summary())
    raise typer.Exit(1 if report.errors else 0)
