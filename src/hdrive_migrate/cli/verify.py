"""`hdrive-migrate verify`: is every migrated file still in OneDrive as it was sent?"""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.display import counted

EXAMPLE = "Example: hdrive-migrate verify --wave 'Wave 1' -w ./wave1"


def verify(
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """List each user's target folder in OneDrive (default everyone) and check that every
    migrated file is still there with the size and QuickXorHash it was sent with. Files
    missing or changed, and files no migration put there (unexpected), are recorded per user.

    Prints one line per user and a total; exits 1 when any file is missing or changed, else 0.
    """
    import asyncio

    from hdrive_migrate.migrate.verify import verify_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        checks = asyncio.run(verify_users(ws, wave=wave, upn=user))
    for check in checks:
        typer.echo(
            f"{'✓' if check.intact else '✗'} {check.upn}: {check.checked:,} checked, "
            f"{check.ok:,} intact, {check.missing:,} missing, {check.changed:,} changed, "
            f"{check.unexpected:,} unexpected"
        )
    broken = sum(not check.intact for check in checks)
    typer.echo(f"{len(checks) - broken} intact, {broken} not, of {counted(len(checks), 'user')}")
    raise typer.Exit(1 if broken else 0)
