"""Reading the CSV files people hand the tool (user lists, review decisions, hold registers):
UTF-8 as Excel saves it, and records with the line each starts on, for messages."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

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
    """Non-blank records with the line each starts on (a quoted value may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise HdriveError(
            f"cannot read the file as CSV: {exc}",
            fix="save it as CSV UTF-8 from Excel, or correct the line by hand",
            where=f"{file}:{reader.line_num}",
        ) from exc
