"""`hdrive-migrate init`: create a workspace."""

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hdrive_migrate.config import DEFAULT_TARGET_FOLDER, Auth, Config, GraphSettings
from hdrive_migrate.errors import ConfigError

if TYPE_CHECKING:
    from hdrive_migrate.sources.open import ParsedSource, SmbRoot

REACH_TIMEOUT = 5  # seconds init waits for the SMB server to answer: enough for a slow link

EXAMPLE = (
    "Example: hdrive-migrate init ./wave1 --source '\\\\files01\\home' "
    "--graph-url https://graph.microsoft.com/v1.0 --auth certificate "
    "--tenant-id contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 "
    "--certificate-path app.pem --organisation Contoso"
)

# Which option set each setting, so a mistake points at what the user typed.
OPTION_FOR_SETTING = {
    "source.root": "--source",
    "graph.url": "--graph-url",
    "graph.auth": "--auth",
    "graph.tenant_id": "--tenant-id",
    "graph.client_id": "--client-id",
    "graph.certificate_path": "--certificate-path",
    "graph.organisation": "--organisation",
    "target.folder": "--target-folder",
}


def init(
    directory: Path = typer.Argument(..., help="Workspace directory to create."),
    source: str = typer.Option(
        ...,
        "--source",
        help="Where the H: drives are: a local or mounted path, \\\\server\\share\\path or "
        "smb://server[:port]/share/path.",
    ),
    graph_url: str = typer.Option(
        ..., "--graph-url", help="Graph service root; /v1.0 is added when the URL has no path."
    ),
    auth: Auth = typer.Option(Auth.CERTIFICATE, "--auth", help="How to authenticate."),
    tenant_id: str | None = typer.Option(None, "--tenant-id", help="Directory (tenant) id."),
    client_id: str | None = typer.Option(None, "--client-id", help="Application (client) id."),
    certificate_path: Path | None = typer.Option(
        None, "--certificate-path", help="PEM or PKCS#12 file with certificate and private key."
    ),
    organisation: str | None = typer.Option(
        None, "--organisation", help="Your organisation, named in the User-Agent."
    ),
    target_folder: str = typer.Option(
        DEFAULT_TARGET_FOLDER, "--target-folder", help="Folder in each OneDrive to migrate into."
    ),
) -> None:
    """Create a workspace: DIRECTORY/hdrive.toml (settings) and DIRECTORY/state.db.

    Secrets are never written: set HDRIVE_CLIENT_SECRET or HDRIVE_CERTIFICATE_PASSWORD in the
    environment of the commands that connect.
    """
    from hdrive_migrate.sources.open import SmbRoot
    from hdrive_migrate.workspace import create_workspace

    parsed = _parsed_source(source)
    settings = Config(
        source_root=_source_to_keep(source, parsed),
        graph=GraphSettings(
            url=graph_url,
            auth=auth,
            tenant_id=tenant_id,
            client_id=client_id,
            certificate_path=certificate_path.resolve() if certificate_path else None,
            organisation=organisation,
        ),
        target_folder=target_folder,
    )
    try:
        workspace = create_workspace(directory, settings)
    except ConfigError as exc:
        option = OPTION_FOR_SETTING.get(exc.setting or "")
        if option is None:
            raise
        raise ConfigError(
            exc.what, fix=f"{exc.fix} (init option {option})", where=f"init {option}"
        ) from exc
    workspace.close()
    if isinstance(parsed, SmbRoot):
        _warn_if_unreachable(parsed)
    typer.echo(f"Created workspace {directory}: edit {directory / 'hdrive.toml'} to change it.")


def _parsed_source(source: str) -> "ParsedSource":
    from hdrive_migrate.sources import SourceError
    from hdrive_migrate.sources.open import parse_source

    try:
        return parse_source(source)
    except SourceError as exc:
        raise SourceError(exc.what, fix=exc.fix, where="init --source") from exc


def _source_to_keep(source: str, parsed: "ParsedSource") -> str:
    """SOURCE as the workspace keeps it: an SMB address as typed, a local folder as an absolute
    path, so the workspace works from any directory. A local folder must exist."""
    from hdrive_migrate.sources import SourceError
    from hdrive_migrate.sources.open import SmbRoot

    if isinstance(parsed, SmbRoot):
        return source
    # abspath, not resolve: a symlink to a mount keeps the name the user gave it.
    folder = Path(os.path.abspath(parsed.path))
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise SourceError(
            f"{folder} {state}",
            fix="give the folder holding the H: drives: a local or mounted path, "
            "\\\\server\\share\\path or smb://server[:port]/share/path",
            where="init --source",
        )
    return str(folder)


def _warn_if_unreachable(root: "SmbRoot") -> None:
    """A warning, not a refusal: the share may be reachable only from the machine that scans."""
    try:
        socket.create_connection((root.server, root.port), timeout=REACH_TIMEOUT).close()
    except OSError as exc:
        typer.echo(
            f"init --source: warning: cannot reach an SMB server at {root.server} port "
            f"{root.port} ({exc.strerror or exc}). Fix: correct [source] root in hdrive.toml if "
            "the address is wrong; if only the machine that scans can reach it, nothing to do",
            err=True,
        )
