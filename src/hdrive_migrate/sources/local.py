"""A local or mounted folder (an NFS or CIFS mount of the share, or a plain disk) as a Source.

Reading changes nothing, not even access times: folders and files are opened with O_NOATIME,
which Linux grants to the owner and to root (CAP_FOWNER); for anyone else the open falls back
to a plain read-only open, and a relatime mount may then move access times forward.
"""

import errno
import io
import os
import stat
from pathlib import Path

from hdrive_migrate.sources import (
    DIRECTORY,
    HIDDEN,
    READONLY,
    REPARSE_POINT,
    Entry,
    EntryError,
    FileStat,
    SourceError,
)

_NOATIME = getattr(os, "O_NOATIME", 0)  # Linux only; elsewhere atime follows the mount options
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_CHUNK = 1 << 20


class LocalSource:
    """The folders below `root`, listed with os.scandir: one fstatat per entry, never
    following a link.

    Entries are what lstat says, with DOS attributes derived honestly: DIRECTORY, HIDDEN for
    names starting with '.', READONLY for files without any write bit, REPARSE_POINT (and
    is_link) for symlinks, whose size is the link's own. `created` is st_birthtime where the
    platform has it and None on Linux, where only statx knows it and Python does not call it.
    On a CIFS mount the real DOS attributes sit in the `user.cifs.dosattrib` xattr; it is not
    read, since one more call per entry would slow every listing.

    A name that is not valid UTF-8 is listed all the same, as os.fsdecode gives it: the bytes
    that do not decode become lone surrogates in `Entry.name` (the scanner flags them), and
    the name still opens. Links are never followed, so link loops cannot happen; the one
    residue is a race in which a parent folder is swapped for a link after it was listed.
    """

    # One thread lists fastest: on a local disk more threads only contend for the GIL.
    parallel_listings = 1

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(
                f"{self.root} is not a folder",
                fix="set [source] root to the folder holding the H: drives: a local or mounted "
                "path, \\\\server\\share\\path or smb://server/share/path",
                where=str(self.root),
            )

    def describe(self) -> str:
        return str(self.root)

    def list_dir(self, path: str) -> list[Entry]:
        """The entries of folder `path`; EntryError unreadable_folder or vanished. An entry
        deleted while the folder is being listed is left out, as a moment later it would be."""
        fd = _open(self.root / path, _FOLDER_FLAGS, path, "unreadable_folder")
        try:
            with os.scandir(fd) as listing:
                return _entries(listing)
        except OSError as exc:
            raise _entry_error(exc, path, "unreadable_folder") from exc
        finally:
            os.close(fd)

    def open_file(self, path: str) -> io.BufferedReader:
        """The regular file `path`, read-only and without moving its access time where the
        kernel allows; EntryError for a link, a FIFO or device, or anything unreadable."""
        fd = _open(self.root / path, _FILE_FLAGS, path, "unreadable_file")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise EntryError("unreadable_file", f"{path}: not a regular file")
        return io.BufferedReader(_File(fd, path), buffer_size=_CHUNK)

    def stat_file(self, path: str) -> FileStat:
        """Size and modified time of the regular file `path` by lstat, which reads no data and
        so moves no access time; EntryError for a link or anything that is not a file."""
        try:
            info = os.lstat(self.root / path)
        except OSError as exc:
            raise _entry_error(exc, path, "unreadable_file") from exc
        if not stat.S_ISREG(info.st_mode):
            raise EntryError("unreadable_file", f"{path}: not a regular file")
        return FileStat(info.st_size, info.st_mtime)

    def close(self) -> None:
        """Nothing to release: every listing and file closes its own descriptor."""


def _open(full: Path, flags: int, path: str, kind: str) -> int:
    """A descriptor for FULL opened with FLAGS, O_NOATIME when the kernel allows it."""
    try:
        try:
            return os.open(full, flags | _NOATIME)
        except PermissionError as exc:
            # EPERM is O_NOATIME refused (not our file, no CAP_FOWNER); EACCES is a real denial.
            if exc.errno != errno.EPERM or not _NOATIME:
                raise
            return os.open(full, flags)
    except OSError as exc:
        raise _entry_error(exc, path, kind) from exc


def _entry_error(exc: OSError, path: str, kind: str) -> EntryError:
    if isinstance(exc, FileNotFoundError):
        return EntryError("vanished", f"{path}: gone since it was listed")
    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and kind == "unreadable_folder":
        return EntryError(kind, f"{path}: not a folder (links are never followed)")
    if exc.errno == errno.ELOOP:
        return EntryError(kind, f"{path}: a link, and links are never followed")
    return EntryError(kind, f"{path}: {exc.strerror or exc}")


_HAS_BIRTHTIME = hasattr(os.stat_result, "st_birthtime")
_FORMAT = stat.S_IFMT(0o177777)
# An Entry made straight from its tuple of fields, without the call to the named tuple's __new__.
_make_entry = tuple.__new__


# What a file type gives an entry: (is_dir, is_link, its attributes); anything else is a file.
_KINDS = {stat.S_IFDIR: (True, False, DIRECTORY), stat.S_IFLNK: (False, True, REPARSE_POINT)}
_FILE_KIND = (False, False, 0)


def _entries(listing) -> list[Entry]:
    """An Entry per item of the scandir LISTING, from lstat (fstatat on the folder's
    descriptor). One loop with no calls but the stat, and what it reads in local names: it runs
    once per file."""
    entries: list[Entry] = []
    append, make, kinds, file_kind = entries.append, _make_entry, _KINDS, _FILE_KIND
    file_format, write_bits, birthtime = _FORMAT, _WRITE_BITS, _HAS_BIRTHTIME
    for item in listing:
        try:
            info = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # deleted since the folder was read
        mode = info.st_mode
        is_dir, is_link, attributes = kinds.get(mode & file_format, file_kind)
        name = item.name
        if name[0] == ".":
            attributes |= HIDDEN
        if not mode & write_bits and not is_dir:
            attributes |= READONLY
        append(
            make(
                Entry,
                (
                    name,
                    is_dir,
                    0 if is_dir else info.st_size,
                    info.st_birthtime if birthtime else None,
                    info.st_mtime,
                    info.st_atime,
                    attributes,
                    is_link,
                ),
            )
        )
    return entries


class _File(io.RawIOBase):
    """A read-only descriptor whose read errors are EntryErrors about `path`."""

    def __init__(self, fd: int, path: str) -> None:
        self._file = io.FileIO(fd, "rb")
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._file.readinto(buffer)
        except OSError as exc:
            raise _entry_error(exc, self._path, "unreadable_file") from exc

    def readall(self) -> bytes:
        # RawIOBase's own readall would go 8 KiB at a time.
        try:
            return self._file.readall()
        except OSError as exc:
            raise _entry_error(exc, self._path, "unreadable_file") from exc

    def close(self) -> None:
        self._file.close()
        super().close()
