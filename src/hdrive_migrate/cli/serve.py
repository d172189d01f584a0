"""`hdrive-migrate serve`: the read-only service-desk page."""

from pathlib import Path

import typer

from hdrive_migrate.cli.audit import OPERATOR_OPTION, operator
from hdrive_migrate.cli.common import WORKSPACE_OPTION
from hdrive_migrate.errors import HdriveError

EXAMPLE = (
    "Example: hdrive-migrate serve --port 8765 -w ./wave1; behind a proxy that signs analysts "
    "in: hdrive-migrate serve --host 0.0.0.0 --allow-remote --trusted-user-header "
    "X-Remote-User --trusted-proxy 10.0.4.20 -w ./wave1"
)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on; 0 picks a free one."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a --host beyond loopback; needs --trusted-user-header.",
    ),
    trusted_user_header: str | None = typer.Option(
        None,
        "--trusted-user-header",
        metavar="NAME",
        help="Header in which the authenticating reverse proxy names the analyst, e.g. "
        "X-Remote-User; requests without it get 401.",
    ),
    trusted_proxy: list[str] = typer.Option(
        [],
        "--trusted-proxy",
        metavar="ADDRESS",
        help="Address or network of the proxy, the only sender whose header is believed "
        "(repeatable; default loopback).",
    ),
    operator_name: str | None = OPERATOR_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Serve the service-desk page: type a UPN, display name or account name (sAMAccountName)
    and see that person's status card: state, progress, when it last moved, failures with the
    fix, and what the user must do. Counts and reasons only, never a file or folder name.
    Read-only, no JavaScript needed, nothing loaded from the internet.

    It listens on loopback, and the audit log records each look-up as a consultation by the
    operator (the OS user, or --operator). To serve analysts on other machines, put it behind a
    reverse proxy that authenticates them (Kerberos, Entra ID) and passes their name in a
    header: --allow-remote --trusted-user-header NAME --trusted-proxy PROXY_ADDRESS. The
    header's value is then the operator. Runs until Ctrl-C.
    """
    from hdrive_migrate.desk.access import access_for
    from hdrive_migrate.desk.server import serve_desk

    if trusted_user_header is not None and operator_name is not None:
        raise HdriveError(
            "behind a proxy, the --trusted-user-header names each analyst",
            fix="drop --operator",
            where="--operator",
        )
    access = access_for(
        host,
        allow_remote=allow_remote,
        user_header=trusted_user_header,
        proxies=trusted_proxy,
        operator=operator(operator_name),
    )
    serve_desk(workspace, host, port, access, announce=lambda line: typer.echo(line))
