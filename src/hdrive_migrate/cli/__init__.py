"""The `hdrive-migrate` command line: thin commands over the library, one module per group.

Every HdriveError is reported once, here, as one line on stderr with exit code 2; a run
stopped with Ctrl-C says so in one line and exits 130.
"""

import os
import sys
from pathlib import Path

import typer

from hdrive_migrate import __version__
from hdrive_migrate.cli import (
    audit,
    demo,
    dispose,
    init,
    migrate,
    notices,
    plan,
    policy,
    preflight,
    report,
    review,
    scan,
    serve,
    status,
    tenant,
    users,
    verify,
    wave,
)
from hdrive_migrate.cli.common import WORKSPACE_ENV
from hdrive_migrate.errors import HdriveError

app = typer.Typer(
    name="hdrive-migrate",
    help="Move people's H: drives into OneDrive for Business through Microsoft Graph.",
    epilog="Example: hdrive-migrate init ./wave1 --source '\\\\files01\\home' "
    "--graph-url https://graph.microsoft.com/v1.0 --tenant-id contoso.onmicrosoft.com "
    "--client-id 11111111-2222-3333-4444-555555555555 --certificate-path app.pem "
    "--organisation Contoso",
    no_args_is_help=True,
    # Plain help: typer's rich help prints <bool> beside every flag, as if it took a value.
    rich_markup_mode=None,
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
app.command(name="migrate", epilog=migrate.EXAMPLE)(migrate.migrate)
app.command(name="verify", epilog=verify.EXAMPLE)(verify.verify)
app.command(name="status", epilog=status.EXAMPLE)(status.status)
app.command(name="report", epilog=report.EXAMPLE)(report.report)
app.command(name="serve", epilog=serve.EXAMPLE)(serve.serve)
app.command(name="notices", epilog=notices.EXAMPLE)(notices.notices)
app.add_typer(audit.app, name="audit")
app.command(name="demo", epilog=demo.EXAMPLE)(demo.demo)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"hdrive-migrate {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace directory for the command that follows, as engineers type it "
        "(hdrive-migrate -w ./wave1 scan); the command's own -w wins, and either beats "
        f"{WORKSPACE_ENV}.",
        file_okay=False,
    ),
) -> None:
    """Move people's H: drives into OneDrive for Business through Microsoft Graph."""
    if workspace is not None:
        _default_workspace(ctx, workspace)


def _default_workspace(ctx: typer.Context, workspace: Path) -> None:
    """Make WORKSPACE the default of every command's -w for this invocation, through the
    variable those options already read (an explicit -w is read first), and put the variable
    back as it was when the command ends, so an in-process caller sees no change."""
    before = os.environ.get(WORKSPACE_ENV)
    os.environ[WORKSPACE_ENV] = str(workspace)

    def restore() -> None:
        if before is None:
            os.environ.pop(WORKSPACE_ENV, None)
        else:
            os.environ[WORKSPACE_ENV] = before

    ctx.call_on_close(restore)


# What shells report for a run ended by SIGINT (128 + 2); typer exits with it on Ctrl-C.
INTERRUPTED = 130


def main(args: list[str] | None = None) -> None:
    """Console entry point. ARGS default to sys.argv[1:]."""
    try:
        app(args=args, prog_name="hdrive-migrate")
    except HdriveError as exc:
        typer.echo(str(exc), err=True)
        raise SystemExit(2) from None
    except SystemExit as exc:
        if exc.code == INTERRUPTED:
            _say_stopped()
        raise


def _say_stopped() -> None:
    # On a terminal the line starts below the ^C the terminal echoed.
    start = "\n" if sys.stderr.isatty() else ""
    typer.echo(
        f"{start}stopped by Ctrl-C. Fix: run the same command again; it resumes, and what was "
        "finished is kept",
        err=True,
    )
