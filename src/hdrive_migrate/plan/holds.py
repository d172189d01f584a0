"""The hold register: legal, FOI and subject-access holds, as a CSV `upn,path` where an empty
path holds the whole drive and a path is a glob relative to the user's H: root."""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from hdrive_migrate.csvfiles import csv_records, read_csv_text
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.globs import matches

HEADER = ["upn", "path"]


@dataclass
class Holds:
    """Who and what is on hold; `sha256` identifies the register a plan used."""

    whole_drives: set[str] = field(default_factory=set)
    globs: dict[str, list[str]] = field(default_factory=dict)
    sha256: str | None = None

    def checker(self, upn: str):
        """A path -> bool test for one user's holds, cheap when the user has none."""
        if upn.lower() in self.whole_drives:
            return lambda path: True
        globs = self.globs.get(upn.lower())
        if not globs:
            return lambda path: False
        return lambda path: any(matches(glob, path) for glob in globs)


def read_holds(path: Path) -> Holds:
    """Parse the register; the first mistake raises HdriveError naming file, line and fix,
    because a plan made with a half-read hold register could dispose of held material."""
    text = read_csv_text(path)
    holds = Holds(sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    records = csv_records(text, str(path))
    first = next(records, (1, []))
    header = [cell.strip().lower() for cell in first[1]]
    if header != HEADER:
        raise HdriveError(
            f"header is {','.join(header) or '(empty)'}",
            where=f"{path}:1",
            fix="make the first line upn,path",
        )
    for line, cells in records:
        _add(holds, path, line, cells)
    return holds


def _add(holds: Holds, path: Path, line: int, cells: list[str]) -> None:
    if len(cells) != 2:
        raise HdriveError(
            f"{len(cells)} columns",
            where=f"{path}:{line}",
            fix="give two columns, upn,path (leave path empty to hold a whole drive)",
        )
    upn, glob = (cell.strip() for cell in cells)
    if "@" not in upn:
        raise HdriveError(
            f"'{upn}' is not a UPN",
            where=f"{path}:{line}",
            fix="write the user's UPN, e.g. jdoe@force.police.uk",
        )
    if glob.startswith("/") or "\\" in glob:
        raise HdriveError(
            f"path '{glob}' is not relative to the user's H: root",
            where=f"{path}:{line}",
            fix="write it with forward slashes from the H: root, e.g. Cases/2021/**",
        )
    if glob:
        holds.globs.setdefault(upn.lower(), []).append(glob)
    else:
        holds.whole_drives.add(upn.lower())
