"""Where H: drives are read from: a local or mounted path, or an SMB share read directly.

Sources are read-only by construction: the protocol has no call that writes, and reading a file
asks the platform not to update its access time.
"""

from contextlib import AbstractContextManager
from typing import BinaryIO, NamedTuple, Protocol

from hdrive_migrate.errors import HdriveError

# DOS attribute bits (MS-FSCC 2.6), as SMB reports them and as the inventory stores them.
READONLY = 0x1
HIDDEN = 0x2
SYSTEM = 0x4
DIRECTORY = 0x10
ARCHIVE = 0x20
REPARSE_POINT = 0x400
OFFLINE = 0x1000
RECALL_ON_OPEN = 0x40000
RECALL_ON_DATA_ACCESS = 0x400000


class Entry(NamedTuple):
    """One directory entry as listed, without following links. Times are POSIX seconds.
    A named tuple because a scan builds one per file: it is several times cheaper to make."""

    name: str
    is_dir: bool
    size: int  # 0 for a folder
    created: float | None
    modified: float
    accessed: float
    attributes: int
    is_link: bool  # symlink, junction or other reparse point: recorded, never followed


class FileStat(NamedTuple):
    """What a file's size and last write time are now, to tell whether it changed while it
    was read (times as POSIX seconds, as the inventory stores them)."""

    size: int
    modified: float


class SourceError(HdriveError):
    """A whole source cannot be used (bad address, refused login): stops the command."""


class EntryError(Exception):
    """One folder or file cannot be read (permission denied, vanished, bad name): becomes a
    finding on that user, and the scan goes on. `kind` is the finding's kind."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Source(Protocol):
    """A tree of home folders below one root. Paths are relative to the root, '/'-separated,
    with no leading slash ('' is the root itself)."""

    parallel_listings: int
    """How many folder listings at once pay off: 1 for a local disk (the GIL makes more cost
    more), several for a share whose round trips would otherwise serialise the walk."""

    def describe(self) -> str:
        """The root as people write it, without credentials: for messages and reports."""

    def list_dir(self, path: str) -> list[Entry]:
        """The entries of folder `path` (no '.' or '..'); raises EntryError when unreadable."""

    def open_file(self, path: str) -> AbstractContextManager[BinaryIO]:
        """The file's bytes, opened read-only without changing its access time where the
        platform allows; raises EntryError when unreadable."""

    def stat_file(self, path: str) -> FileStat:
        """The file's size and last write time, without reading it or changing its access
        time; raises EntryError when it cannot be looked at."""

    def close(self) -> None:
        """Release connections."""
