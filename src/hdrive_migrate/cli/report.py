"""`hdrive-migrate report`: a wave's report folder, for managers, engineers and records
managers."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.display import counted, size_text

EXAMPLE = "Example: hdrive-migrate report --wave 'Wave 1' -w ./wave1"


def report(
    wave: str | None = WAVE_OPTION,
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for the report; default WORKSPACE/reports/WAVE (reports/all without --wave).",
        file_okay=False,
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Also replace files in the folder that no earlier report there wrote (a re-run "
        "always replaces its own).",
    ),
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Write the report of a wave (default: every user) from the workspace database.

    The folder gets summary.html (one self-contained page: totals, users by state, files and
    bytes by decision and outcome, progress over time, failures with their fixes, users
    needing action), summary.csv (one row per user), items.csv (one row per planned file, in
    SharePoint Migration Tool's ItemReport columns, then decision, rule, policy version,
    SHA-256, QuickXorHash), failures.csv, the records registers excluded.csv, review.csv,
    held.csv, evidence.csv and disposal.csv, manifests/UPN.csv per user, and SHA256SUMS
    (check with `sha256sum -c SHA256SUMS` in the folder).

    A re-run replaces the files its SHA256SUMS lists and removes those it no longer writes;
    any other file in the way is refused unless --force. The export is recorded in the audit
    log.
    """
    from hdrive_migrate.clock import SYSTEM_CLOCK
    from hdrive_migrate.report.export import default_folder, export_report
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        users = select_users(ws.db, wave=wave)
        folder = out or default_folder(ws.dir, wave)
        done = export_report(
            ws.db,
            users,
            source_root=ws.config.source_root,
            title=f"wave {wave}" if wave is not None else "all users",
            out=folder,
            workspace=ws.dir,
            force=force,
            now=SYSTEM_CLOCK.now(),
        )
    typer.echo(
        f"report of {counted(done.users, 'user')}, {counted(done.files, 'planned file')} "
        f"({size_text(done.bytes)}) written to {done.folder}"
    )
    typer.echo(f"open {done.folder / 'summary.html'}; check with `sha256sum -c SHA256SUMS` there")
