"""Writing that is all or nothing: report files replaced atomically, and database transactions
that hold the write lock from their first read."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from hdrive_migrate.errors import HdriveError


@contextmanager
def replaced_atomically(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """A text handle (newline="" for the csv module) on a temporary file beside PATH, renamed
    over PATH when the block ends, so nobody ever reads half a file; on any error the
    temporary file is removed and PATH is as it was. OSError becomes HdriveError."""
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise HdriveError(
            f"cannot write the file: {exc.strerror}",
            fix="choose a folder you can write to, with space to spare",
            where=str(path),
        ) from exc
    finally:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
