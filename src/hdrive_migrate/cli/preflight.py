"""`hdrive-migrate preflight`: can these users be migrated yet?"""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WORKSPACE_OPTION
from hdrive_migrate.display import counted

EXAMPLE = "Example: hdrive-migrate preflight --wave pilot -w ./wave1"


def preflight(
    wave: str | None = typer.Option(None, "--wave", help="Check the users of this wave."),
    user: str | None = typer.Option(None, "--user", help="Check this user (UPN) only."),
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Check each user (default everyone): home folder present and readable, UPN known to the
    tenant, OneDrive provisioned. Users become ready or blocked; each finding is recorded.
    --user with --wave checks that user, who must be in that wave.

    Prints one line per user and a total; exits 1 when any user is blocked, else 0.
    """
    from hdrive_migrate.users.preflight import run_preflight
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        checks = run_preflight(ws, wave=wave, upn=user)
    for check in checks:
        outcome = "; ".join(finding.detail for finding in check.findings) or "ready"
        typer.echo(f"{'✓' if check.ready else '✗'} {check.upn} ({check.folder}): {outcome}")
    blocked = sum(not check.ready for check in checks)
    typer.echo(
        f"{len(checks) - blocked} ready, {blocked} blocked, of {counted(len(checks), 'user')}"
    )
    raise typer.Exit(1 if blocked else 0)
