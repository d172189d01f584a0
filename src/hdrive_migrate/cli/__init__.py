"""The `hdrive-migrate` command line: thin commands over the library, one module per group.

Every HdriveError is reported once, here, as one line on stderr with exit code 2.
"""

import typer

from hdrive_migrate import __version__
from hdrive_migrate.cli import (
    dispose,
    init,
    plan,
    policy,
    preflight,
    review,
    scan,
    tenant,
    users,
    wave,
)
from hdrive_migrate.errors import HdriveError

app = typer.Typer(
    name="hdrive-migrate",
    help="Move people's H: drives into OneDrive for Business through Microsoft Graph.",
    epilog="Example: hdrive-migrate init ./wave1 --source '\\\\files01\\home' "
    "--graph-url https://graph.microsoft.com --tenant-id contoso.onmicrosoft.com "
    "--client-id 11111111-2222-3333-4444-555555555555 --certificate-path app.pem "
    "--organisation Contoso",
    no_args_is_help=True,
    # Locals could hold secrets; a bug's traceback must not print them.
    pretty_exceptions_show_locals=False,
)
app.command(name="init", epilog=init.EXAMPLE)(init.init)
app.add_typer(tenant.app, name="tenant")
app.add_typer(users.app, name="users")
app.add_typer(wave.app, name="wave")
app.command(name="preflight", epilog=preflight.EXAMPLE)(preflight.preflight)
app.add_typer(scan.app, name="scan")
app.add_typer(policy.app, name="policy")
app.add_typer(plan.app, name="plan")
app.add_typer(review.app, name="review")
app.add_typer(dispose.app, name="dispose")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"hdrive-migrate {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Move people's H: drives into OneDrive for Business through Microsoft Graph."""


def main(args: list[str] | None = None) -> None:
    """Console entry point. ARGS default to sys.argv[1:]."""
    try:
        app(args=args, prog_name="hdrive-migrate")
    except HdriveError as exc:
        typer.echo(str(exc), err=True)
        raise SystemExit(2) from None
