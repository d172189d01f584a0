"""Reading the CSV files people hand the tool (user lists, review decisions, hold registers):
UTF-8 as Excel saves it, and records with the line each starts on, for messages."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hdrive_migrate.display import counted
from hdrive_migrate.errors import HdriveError


def read_csv_text(path: Path) -> str:
    """The file's text; HdriveError naming the line when it is not UTF-8 or cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HdriveError(
            f"cannot read the file: {exc.strerror}",
            where=str(path),
            fix="check the path and that you can read it",
        ) from exc
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts the file with a byte order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise HdriveError(
            "not UTF-8 text",
            where=f"{path}:{line}",
            fix='save it from Excel as "CSV UTF-8 (Comma delimited)"',
        ) from None


def csv_records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (a quoted value may span lines).

    The values are separated by commas, or by semicolons or tabs when the first line holds
    more of those: Excel saves CSV that way where the comma is the decimal sign. A quote
    never closed would swallow the rest of the file into one value; it raises HdriveError
    naming its line and how many lines went unread, before that last record is yielded.
    """
    lines = io.StringIO(text, newline="").readlines()
    delimiter = detect_delimiter(lines)
    reader = csv.reader(lines, delimiter=delimiter)
    start = last_start = 1
    pending: tuple[int, list[str]] | None = None
    try:
        for cells in reader:
            if pending is not None:
                yield pending
            pending = (start, cells) if any(cell.strip() for cell in cells) else None
            last_start, start = start, reader.line_num + 1
    except csv.Error as exc:
        raise HdriveError(
            f"cannot read the file as CSV: {exc}",
            fix="save it as CSV UTF-8 from Excel, or correct the line by hand",
            where=f"{file}:{reader.line_num}",
        ) from exc
    _refuse_unclosed_quote(lines, last_start, delimiter, file)
    if pending is not None:
        yield pending


DELIMITERS = (",", ";", "\t")


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter the first non-blank line uses most; the comma when none is used more."""
    first = next((line for line in lines if line.strip()), "")
    return max(DELIMITERS, key=first.count)


def _refuse_unclosed_quote(lines: list[str], start: int, delimiter: str, file: str) -> None:
    """HdriveError when the record starting at line START (the last one, the only one that
    can) ends inside a quoted value."""
    opened = unclosed_quote(lines[start - 1 :], delimiter)
    if opened is None:
        return
    line = start + opened
    unread = len(lines) - line
    lost = f"; {counted(unread, 'line')} after it {'was' if unread == 1 else 'were'} not read"
    raise HdriveError(
        "a quote opened on this line is never closed" + (lost if unread else ""),
        fix='close the quote, and write "" for a quote inside a quoted value',
        where=f"{file}:{line}",
    )


def unclosed_quote(lines: list[str], delimiter: str) -> int | None:
    """The index in LINES of the line where a quoted value opens and is never closed, else
    None. Reads as the csv module does: a quote opens a value only at its start, "" inside a
    quoted value is a quote, and after the closing quote the value goes on unquoted."""
    quoted, opened_on, at_value_start = False, None, True
    for index, line in enumerate(lines):
        chars = iter(line)
        for char in chars:
            if quoted and char == '"':
                following = next(chars, "")
                if following == '"':  # doubled: a quote inside the value
                    continue
                quoted, char = False, following
            elif not quoted and char == '"' and at_value_start:
                quoted, opened_on = True, index
            at_value_start = not quoted and char in (delimiter, "\r", "\n")
    return opened_on if quoted else None
