"""`hdrive-migrate dispose ...`: certify disposals that records managers have approved."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION

EXAMPLE = (
    "Example: hdrive-migrate dispose approve --approver 'Jo Bloggs' --approver 'Sam Patel' "
    "--wave pilot -w ./wave1"
)
app = typer.Typer(
    help="Turn approved disposals into disposal certificates. Nothing is ever deleted.",
    epilog=EXAMPLE,
    no_args_is_help=True,
)


@app.callback()
def _dispose() -> None:
    """Turn approved disposals into disposal certificates. Nothing is ever deleted."""


@app.command(epilog=EXAMPLE)
def approve(
    approver: list[str] = typer.Option(
        ..., "--approver", help="Who approved the disposal; repeat for each approver."
    ),
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for the certificate; default WORKSPACE/reports/disposals.",
        file_okay=False,
    ),
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Certify as approved every file of the chosen users (default everyone) whose decision
    is dispose_after_approval, by the plan or by a review, and that no certificate lists yet.

    Writes disposal-ID.json (certificate, approved_by, approved_at, tool_version, plan_runs
    with each policy's id, version, SHA-256 and approvers, decided_by with the rule ids or
    "review" and the reviewers, users and total with files and bytes, manifest with the
    CSV's name and SHA-256) and disposal-ID.csv (upn, path, size, modified, sha256,
    quick_xor, plan_run, rule, reviewer; UTF-8 with a byte order mark, and a value a
    spreadsheet would take for a formula, such as a quick_xor starting with +, starts with an
    apostrophe). Metadata only: the source is not even opened, and
    nothing is deleted. Refuses an empty batch and files the scan has not hashed.
    """
    from hdrive_migrate.clock import SYSTEM_CLOCK
    from hdrive_migrate.plan.dispose import approve_disposal
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        upns = [chosen.upn for chosen in select_users(ws.db, wave=wave, upn=user)]
        folder = out or ws.dir / "reports" / "disposals"
        approval = approve_disposal(
            ws.db,
            upns,
            approvers=approver,
            out_dir=folder,
            workspace=ws.dir,
            now=SYSTEM_CLOCK.now(),
        )
    typer.echo(
        f"disposal certificate {approval.certificate_id}: {approval.files} files, "
        f"{approval.bytes:,} bytes of {approval.users} users, "
        f"approved by {', '.join(approval.approvers)}"
    )
    typer.echo(f"certificate {approval.certificate} (SHA-256 {approval.sha256})")
    typer.echo(f"manifest {approval.manifest}")
    typer.echo("Nothing was deleted; the files stay on the source until disposed of.")
