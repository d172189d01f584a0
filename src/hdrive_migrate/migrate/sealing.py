"""Upload URLs sealed for state.db: an upload URL carries its own token, so the database only
ever holds it encrypted (Fernet) with a key kept beside it in `<workspace>/session.key`.

The key file is made on first use, readable by its owner only (0600). Losing it costs nothing
but the open sessions: they cannot be resumed, so their files are sent again from the start.
"""

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hdrive_migrate.errors import WorkspaceError

KEY_FILE = "session.key"


class Sealer:
    """seal/unseal with the workspace's key, created 0600 when missing."""

    def __init__(self, workspace_dir: Path) -> None:
        path = Path(workspace_dir) / KEY_FILE
        try:
            self._fernet = Fernet(_key(path))
        except ValueError as exc:
            raise WorkspaceError(
                "the upload-session key is damaged",
                fix=f"delete {KEY_FILE}; a new one is made, and uploads that were open start "
                "again from the beginning",
                where=str(path),
            ) from exc

    def seal(self, url: str) -> str:
        return self._fernet.encrypt(url.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        """The URL, or None when it was sealed with another key (a lost or replaced key file):
        that session cannot be resumed and its file starts again."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


def _key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _unusable(path, exc) from exc
    key = Fernet.generate_key()
    try:
        # O_EXCL: two commands starting at once must not each write a key of their own.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    except OSError as exc:
        raise _unusable(path, exc) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


def _unusable(path: Path, exc: OSError) -> WorkspaceError:
    return WorkspaceError(
        f"cannot use the upload-session key: {exc.strerror or exc}",
        fix="make the workspace directory writable by the account running hdrive-migrate",
        where=str(path),
    )
