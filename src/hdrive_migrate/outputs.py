"""Files the tool writes for people (review exports, disposal certificates, reports): never
over the workspace's own files, never over an existing file unless asked, and CSV that a
spreadsheet opens as text.

Every command writing a file goes through `open_output`; every CSV through `csv_writer`, with
CSV_ENCODING.
"""

import csv
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from hdrive_migrate.config import CONFIG_NAME
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.plan.writing import replaced_atomically
from hdrive_migrate.workspace import STATE_DB

# SQLite keeps uncommitted and checkpoint-pending data beside the database; losing either
# loses work as surely as losing state.db.
_OWN_FILES = (
    STATE_DB,
    f"{STATE_DB}-wal",
    f"{STATE_DB}-shm",
    f"{STATE_DB}-journal",
    CONFIG_NAME,
    "session.key",  # seals the upload URLs of resumable sessions
)
# Certificates are records of an approval: replacing one, even on purpose, falsifies it.
_RECORDS_DIR = Path("reports") / "disposals"

# Excel's "CSV UTF-8" has a byte order mark, without which it misreads names like "Siân".
CSV_ENCODING = "utf-8-sig"
# Excel (and LibreOffice) take a cell starting with one of these for a formula, which both
# mangles the value on save and runs whatever the formula says (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A text cell is quoted with an apostrophe, as Excel itself does; a value that already starts
# with one is quoted too, so that removing the quote always gives back the value.
_QUOTED_STARTS = (*FORMULA_STARTS, "'")


@contextmanager
def open_output(
    path: Path, *, workspace: Path, force: bool, encoding: str = "utf-8"
) -> Iterator[TextIO]:
    """A text handle (newline="" for the csv module) for PATH, replaced atomically when the
    block ends. Raises HdriveError, before anything is written, when PATH is one of the
    WORKSPACE's own files (even through a link), or when it exists and FORCE is false."""
    check_output(path, workspace=workspace, force=force)
    with replaced_atomically(path, encoding=encoding) as handle:
        yield handle


def check_output(path: Path, *, workspace: Path, force: bool) -> None:
    """Raise HdriveError unless `open_output` may write PATH."""
    owned = _workspace_file(path, workspace)
    if owned is not None:
        raise HdriveError(
            f"this is the workspace's {owned}; writing over it would destroy the workspace's"
            " records",
            fix="choose another file for --out, outside the workspace's own files",
            where=str(path),
        )
    if os.path.lexists(path) and not force:
        raise HdriveError(
            "the file already exists",
            fix="choose another name, or add --force to replace it",
            where=str(path),
        )


def _workspace_file(path: Path, workspace: Path) -> str | None:
    """Which of WORKSPACE's own files PATH is (resolved, so links count), else None."""
    target = path.resolve()
    for name in _OWN_FILES:
        own = workspace / name
        if target == own.resolve() or _same_file(path, own):
            return name
    records = (workspace / _RECORDS_DIR).resolve()
    if target.is_relative_to(records) and target.exists():
        return f"disposal record {target.relative_to(records)}"
    return None


def _same_file(path: Path, other: Path) -> bool:
    # A hard link names the same file under another path, which resolve() cannot see.
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


class CsvWriter:
    """csv.writer whose text cells are quoted against spreadsheet formulas (`excel_safe`);
    numbers and None (an empty cell) are written as they are."""

    def __init__(self, handle: TextIO) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, cells: Iterable[Any]) -> None:
        self._writer.writerow(
            [excel_safe(cell) if isinstance(cell, str) else cell for cell in cells]
        )

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for cells in rows:
            self.writerow(cells)


def csv_writer(handle: TextIO) -> CsvWriter:
    """The one way the tool writes CSV rows (open the handle with encoding=CSV_ENCODING)."""
    return CsvWriter(handle)


def excel_safe(text: str) -> str:
    """TEXT with an apostrophe before it when a spreadsheet would take it for a formula."""
    return f"'{text}" if text.startswith(_QUOTED_STARTS) else text


def csv_cell(value: str | int | None) -> str:
    """VALUE as one cell of a CSV line by CsvWriter's rules, for lines put together whole: text
    always quoted (any CSV reader takes it as the same text) and `excel_safe`, a number as it
    is, None empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        if value.startswith(_QUOTED_STARTS):
            value = "'" + value
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def from_excel(text: str) -> str:
    """TEXT as it was before `excel_safe`. Excel either keeps the apostrophe or drops it on
    save; it is removed only where `excel_safe` would have added it, so both read back."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_QUOTED_STARTS) else text


def person_name(name: str, *, option: str, role: str, fix: str) -> str:
    """NAME, trimmed, as given for OPTION (e.g. --reviewer) to name ROLE (e.g. "a reviewer").
    Names end up in CSVs and certificates, so one that is empty, holds a character that cannot
    be printed, or starts like a formula is refused (HdriveError with FIX) rather than quoted:
    a record should show the name exactly as it was given."""
    name = name.strip()
    refused = f"{name!r} cannot name {role}"
    unprintable = [char for char in name if not char.isprintable()]
    if not name:
        problem = refused
    elif unprintable:
        problem = f"{refused}: it holds the unprintable character {unprintable[0]!r}"
    elif name.startswith(FORMULA_STARTS):
        problem = f"{refused}: spreadsheets take a cell starting with {name[0]!r} for a formula"
    else:
        return name
    raise HdriveError(problem, fix=fix, where=option)
