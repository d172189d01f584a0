"""Reading a report folder back as a spreadsheet would: CSVs by header, cells unquoted."""

import csv
import hashlib
import subprocess
from pathlib import Path

from hdrive_migrate.outputs import CSV_ENCODING, from_excel


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of PATH, each cell as it was before formula quoting."""
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, map(from_excel, cells), strict=True)) for cells in reader]
    return header, rows


def raw_cells(path: Path) -> list[list[str]]:
    """PATH's cells exactly as written (formula quoting kept)."""
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        return list(csv.reader(handle))


def sums(folder: Path) -> dict[str, str]:
    """SHA256SUMS of FOLDER: name -> SHA-256."""
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {line[66:]: line[:64] for line in lines}


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def sha256sum_checks(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
