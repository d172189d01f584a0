"""A workspace: one directory holding hdrive.toml (settings) and state.db (progress and audit).

Commands find it through --workspace/-w, else HDRIVE_WORKSPACE, else the current directory.
"""

import os
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database

from hdrive_migrate.config import CONFIG_NAME, Config, load_config, lock_timeout, write_config
from hdrive_migrate.errors import WorkspaceError
from hdrive_migrate.store import is_locked, locked_error, open_store, record_event

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
        """Close state.db. SQLite's bare "database is locked", from any statement run in the
        block, becomes the WorkspaceError that says which workspace is busy and what to do."""
        error = locked_error(self.db) if is_locked(exc) else None
        self.close()
        if error is not None:
            raise error from exc


def create_workspace(directory: Path, settings: Config) -> Workspace:
    """Create DIRECTORY (if need be) with hdrive.toml from SETTINGS and a fresh state.db.

    Settings are validated before anything is written; an existing hdrive.toml is never
    overwritten (ConfigError). The creation is the first event in the audit log. When creation
    fails, the files and directories it made are removed again.
    """
    directory = Path(directory)
    with ExitStack() as undo_on_failure:
        for missing in _missing_directories(directory):
            undo_on_failure.callback(_remove_empty_directory, missing)
        _make_directory(directory)
        config = write_config(directory / CONFIG_NAME, settings)
        undo_on_failure.callback((directory / CONFIG_NAME).unlink)
        if not (directory / STATE_DB).exists():
            undo_on_failure.callback(_remove_database, directory / STATE_DB)
        db = open_store(directory / STATE_DB)
        undo_on_failure.callback(db.close)
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
        undo_on_failure.pop_all()
    return Workspace(directory, config, db)


def open_workspace(directory: Path, environ: Mapping[str, str] = os.environ) -> Workspace:
    """Open the workspace in DIRECTORY: its settings and its up-to-date state.db, whose writes
    wait up to HDRIVE_LOCK_TIMEOUT (from ENVIRON) seconds for another command's to finish.

    A missing or empty state.db is refused (WorkspaceError): only create_workspace makes one.
    """
    directory = Path(directory)
    config = load_config(directory)
    timeout = lock_timeout(environ)
    _require_database(directory / STATE_DB)
    return Workspace(directory, config, open_store(directory / STATE_DB, timeout))


def _require_database(path: Path) -> None:
    """Refuse a state.db that is gone or empty while hdrive.toml is still here. Opening it
    would start a new, empty database, and a workspace whose progress and audit log were lost
    would pass for a fresh one."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    if size:
        return
    state = "missing" if size is None else "empty (0 bytes)"
    raise WorkspaceError(
        f"{STATE_DB} is {state}, though {CONFIG_NAME} is beside it: the workspace's progress "
        "and audit log are not there",
        fix=f"restore {STATE_DB} from backup; only `hdrive-migrate init` starts a new one, "
        "in a new directory",
        where=str(path),
    )


def _missing_directories(directory: Path) -> list[Path]:
    """DIRECTORY and those of its parents that do not exist yet, outermost first."""
    return [path for path in (directory, *directory.parents) if not path.exists()][::-1]


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot create the workspace directory: {exc.strerror}",
            fix="choose a directory you can write to",
            where=str(directory),
        ) from exc


def _remove_empty_directory(path: Path) -> None:
    # rmdir, never rmtree: whatever else appeared in the directory meanwhile is not ours.
    with suppress(OSError):
        path.rmdir()


def _remove_database(path: Path) -> None:
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)
