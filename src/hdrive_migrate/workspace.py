"""A workspace: one directory holding hdrive.toml (settings) and state.db (progress and audit).

Commands find it through --workspace/-w, else HDRIVE_WORKSPACE, else the current directory.
"""

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database

from hdrive_migrate.config import CONFIG_NAME, Config, load_config, write_config
from hdrive_migrate.errors import WorkspaceError
from hdrive_migrate.store import open_store, record_event

STATE_DB = "state.db"


@dataclass
class Workspace:
    """An open workspace; close it (or use it as a context manager) to release state.db."""

    dir: Path
    config: Config
    db: Database

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def create_workspace(directory: Path, settings: Config) -> Workspace:
    """Create DIRECTORY (if need be) with hdrive.toml from SETTINGS and a fresh state.db.

    Settings are validated before anything is written; an existing hdrive.toml is never
    overwritten (ConfigError). The creation is the first event in the audit log.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot create the workspace directory: {exc.strerror}",
            fix="choose a directory you can write to",
            where=str(directory),
        ) from exc
    config = write_config(directory / CONFIG_NAME, settings)
    db = open_store(directory / STATE_DB)
    record_event(
        db,
        "workspace.created",
        str(directory.resolve()),
        {
            "source_root": config.source_root,
            "graph_url": config.graph.url,
            "auth": str(config.graph.auth),
            "target_folder": config.target_folder,
        },
    )
    return Workspace(directory, config, db)


def open_workspace(directory: Path) -> Workspace:
    """Open the workspace in DIRECTORY: validated settings and an up-to-date state.db."""
    directory = Path(directory)
    config = load_config(directory)
    return Workspace(directory, config, open_store(directory / STATE_DB))
