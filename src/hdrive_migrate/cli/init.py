"""`hdrive-migrate init`: create a workspace."""

from pathlib import Path

import typer

from hdrive_migrate.config import DEFAULT_TARGET_FOLDER, Auth, Config, GraphSettings
from hdrive_migrate.errors import ConfigError
from hdrive_migrate.workspace import create_workspace

EXAMPLE = (
    "Example: hdrive-migrate init ./wave1 --source '\\\\files01\\home' "
    "--graph-url https://graph.microsoft.com --auth certificate "
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
    settings = Config(
        source_root=source,
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
    typer.echo(f"Created workspace {directory}: edit {directory / 'hdrive.toml'} to change it.")
