"""`hdrive-migrate tenant ...`: check a Graph tenant, or serve a local one for rehearsals."""

import re
from pathlib import Path

import typer

from hdrive_migrate.cli.common import WORKSPACE_OPTION

app = typer.Typer(
    help="Check a Graph tenant, or serve a local one.",
    epilog="Example: hdrive-migrate tenant check -w ./wave1",
    no_args_is_help=True,
)

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?", re.IGNORECASE)
_UNITS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4}


@app.command(epilog="Example: hdrive-migrate tenant check -w ./wave1 --user jdoe@contoso.com")
def check(
    workspace: Path = WORKSPACE_OPTION,
    user: str | None = typer.Option(
        None,
        "--user",
        help="UPN whose OneDrive to test; default the first listed user who has one.",
    ),
) -> None:
    """Check the workspace can reach Graph and has the permissions a migration needs.

    Prints one line per check; exits 0 when all pass, else 1. The write check creates and
    deletes an empty folder in the user's OneDrive. When [notices] mailbox is set, a last
    check tests that the app may send mail from it (Mail.Send), sending nothing.
    """
    import asyncio

    from hdrive_migrate.graph.check import check_settings
    from hdrive_migrate.store import record_event
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        mailbox = ws.config.notices.mailbox
        results = asyncio.run(check_settings(ws.config.graph, user, mailbox))
        record_event(
            ws.db,
            "tenant.check",
            ws.config.graph.url,
            {"user": user, "results": {r.name: r.ok for r in results}},
        )
    for result in results:
        mark = "✓" if result.ok else "✗"
        fix = f" Fix: {result.fix}" if result.fix and not result.ok else ""
        typer.echo(f"{mark} {result.name}: {result.detail}.{fix}")
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


def parse_size(text: str) -> int:
    """Bytes in TEXT such as 1TB, 500GB, 1.5TiB or 1048576; units are binary (1TB = 1024^4),
    as OneDrive counts quota."""
    found = _SIZE.fullmatch(text.strip())
    if not found:
        raise typer.BadParameter(f"{text!r} is not a size; write e.g. 1TB, 500GB or 1048576")
    number, unit = found.groups()
    return int(float(number) * 1024 ** _UNITS[(unit or "")[:1].lower()])


def parse_names(text: str) -> frozenset[str]:
    """The comma-separated names in TEXT, e.g. "User.Read.All,Files.ReadWrite.All"."""
    return frozenset(name.strip() for name in text.split(",") if name.strip())


@app.command(
    epilog="Example: hdrive-migrate tenant serve --data ./tenant --port 8080 --users users.csv "
    "--throttle-rate 0.05 --seed 1"
)
def serve(
    data: Path = typer.Option(..., "--data", help="Directory for the tenant's state and files."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(..., "--port", help="Port to listen on."),
    users: Path | None = typer.Option(
        None,
        "--users",
        help="CSV with columns upn,display_name,sam_account_name,provisioned (true/false).",
    ),
    drive_quota: int = typer.Option(
        "1TB",
        "--drive-quota",
        parser=parse_size,
        metavar="SIZE",
        help="Storage per OneDrive, e.g. 1TB (binary units).",
    ),
    throttle_rate: float = typer.Option(0.0, "--throttle-rate", help="Share of requests 429'd."),
    retry_after: float = typer.Option(1.0, "--retry-after", help="Retry-After seconds sent."),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Share answered with a 5xx."),
    drop_rate: float = typer.Option(0.0, "--drop-rate", help="Share whose connection drops."),
    session_ttl: float = typer.Option(
        900.0, "--session-ttl", help="Upload session life, s; each fragment extends it."
    ),
    upload_url_ttl: float = typer.Option(
        86400.0, "--upload-url-ttl", help="Life of an upload URL's token, s; never extended."
    ),
    quota_ru_per_minute: int = typer.Option(
        0, "--quota-ru-per-minute", help="Resource units in any 60 s before 429; 0: no limit."
    ),
    quota_ru_per_day: int = typer.Option(
        0,
        "--quota-ru-per-day",
        help="Resource units in any 24 h before 429, e.g. 4800000; 0: no limit.",
    ),
    app_permissions: frozenset[str] | None = typer.Option(
        None,
        "--app-permissions",
        parser=parse_names,
        metavar="NAMES",
        help='Granted application permissions, e.g. "User.Read.All,Files.ReadWrite.All"; '
        "default all.",
    ),
    retention_labels: frozenset[str] = typer.Option(
        "",
        "--retention-labels",
        parser=parse_names,
        metavar="NAMES",
        help='Retention labels the tenant knows, e.g. "A,B".',
    ),
    request_log: Path | None = typer.Option(
        None, "--request-log", help="JSON-lines request log; default DATA/requests.jsonl."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for fault injection."),
) -> None:
    """Serve a local Graph tenant on loopback, for rehearsals and tests. Runs until stopped.

    One tenant per --data: a second start on the same directory is refused while the first runs.
    """
    from hdrive_migrate.tenant.errors import SetupError
    from hdrive_migrate.tenant.options import TenantOptions
    from hdrive_migrate.tenant.server import serve as serve_tenant

    try:
        options = TenantOptions(
            data=data,
            users_csv=users,
            host=host,
            port=port,
            drive_quota=drive_quota,
            throttle_rate=throttle_rate,
            retry_after=retry_after,
            error_rate=error_rate,
            drop_rate=drop_rate,
            session_ttl=session_ttl,
            upload_url_ttl=upload_url_ttl,
            quota_ru_per_minute=quota_ru_per_minute,
            quota_ru_per_day=quota_ru_per_day,
            app_permissions=app_permissions,
            retention_labels=retention_labels,
            request_log=request_log,
            seed=seed,
        )
        serve_tenant(options)
    except SetupError as exc:
        # Its message already reads "where: what. Fix: how", one line.
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
