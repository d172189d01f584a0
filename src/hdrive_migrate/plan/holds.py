"""The hold register: legal, FOI and subject-access holds, as a CSV `upn,path` where an empty
path holds the whole drive and a path is a glob relative to the user's H: root."""

import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hdrive_migrate.csvfiles import csv_records, read_csv_text
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.globs import matches

HEADER = ["upn", "path"]
ALLOW_FLAG = "--allow-unmatched-holds"


@dataclass(frozen=True)
class HoldRow:
    """One row of the register: `upn` as written, `glob` empty for the whole drive."""

    line: int
    upn: str
    glob: str


@dataclass
class Holds:
    """Who and what is on hold; `sha256` identifies the register a plan used and `source`
    names its file (None when no register was given)."""

    whole_drives: set[str] = field(default_factory=set)
    globs: dict[str, list[str]] = field(default_factory=dict)
    sha256: str | None = None
    source: Path | None = None
    rows: list[HoldRow] = field(default_factory=list)

    def checker(self, upn: str):
        """A path -> bool test for one user's holds, cheap when the user has none."""
        if upn.lower() in self.whole_drives:
            return lambda path: True
        globs = self.globs.get(upn.lower())
        if not globs:
            return lambda path: False
        return lambda path: any(matches(glob, path) for glob in globs)


class UnknownHoldUser(HdriveError):
    """A row naming a UPN that is not in this workspace: a warning, never a stop. A hold
    register is kept for the whole organisation, so it names people of later waves and people
    who have left; their files are not being planned here."""


class UnmatchedHolds(HdriveError):
    """Rows of the register whose path holds nothing for a user being planned; `rows` has one
    error per row, in line order, and `warnings` the rows naming no user of the workspace.
    A mistyped legal hold must stop the plan, not let held material be disposed of."""

    def __init__(
        self, source: Path, rows: list[HdriveError], warnings: list[HdriveError] = ()
    ) -> None:
        super().__init__(
            f"{len(rows)} row(s) of the hold register match nothing, so nothing was planned",
            where=str(source),
            fix=f"correct each row named above, or add {ALLOW_FLAG} to plan anyway",
        )
        self.rows = rows
        self.warnings = list(warnings)


def stops_plan(error: HdriveError) -> bool:
    """Whether an unmatched row (see `unmatched_rows`) stops the plan: all but a UPN not in
    the workspace, which is only warned of."""
    return not isinstance(error, UnknownHoldUser)


def read_holds(path: Path) -> Holds:
    """Parse the register; the first mistake raises HdriveError naming file, line and fix,
    because a plan made with a half-read hold register could dispose of held material."""
    text = read_csv_text(path)
    holds = Holds(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), source=path)
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
    holds.rows.append(HoldRow(line, upn, glob))
    if glob:
        holds.globs.setdefault(upn.lower(), []).append(glob)
    else:
        holds.whole_drives.add(upn.lower())


def unmatched_rows(
    holds: Holds,
    workspace_upns: Collection[str],
    planned_upns: Collection[str],
    entries_of: Callable[[str], Iterable[tuple[str, bool]]],
) -> list[HdriveError]:
    """One error per row that holds nothing, in line order: a UPN not among WORKSPACE_UPNS
    (an UnknownHoldUser, see `stops_plan`), or a path that matches no file of a user among
    PLANNED_UPNS (both lower-cased). ENTRIES_OF(upn) yields the (path, is_dir) of that
    user's inventory. Rows for workspace users outside this plan are not judged: their files
    are not being planned, and their own plan will judge them. A whole-drive row holds
    whatever the drive has."""
    unmatched: dict[HoldRow, HdriveError] = {}
    to_search: dict[str, list[HoldRow]] = defaultdict(list)
    for row in holds.rows:
        key = row.upn.lower()
        if key not in workspace_upns:
            unmatched[row] = UnknownHoldUser(
                f"no user {row.upn} in this workspace",
                where=f"{holds.source}:{row.line}",
                fix="correct the UPN, or import the user with `hdrive-migrate users import`",
            )
        elif row.glob and key in planned_upns:
            to_search[key].append(row)
    for key, rows in to_search.items():
        unmatched.update(_search(holds, rows, entries_of(key)))
    return [unmatched[row] for row in sorted(unmatched, key=lambda row: row.line)]


def _search(
    holds: Holds, rows: list[HoldRow], entries: Iterable[tuple[str, bool]]
) -> dict[HoldRow, HdriveError]:
    """The rows among ROWS (one user's) whose glob matches none of ENTRIES' files; the
    inventory is read once and no further than the last row still unmatched needs."""
    pending = set(rows)
    folders: set[HoldRow] = set()
    for path, is_dir in entries:
        for row in [row for row in pending if matches(row.glob, path)]:
            if is_dir:
                folders.add(row)
            else:
                pending.discard(row)
        if not pending:
            break
    return {row: _no_file(holds, row, row in folders) for row in pending}


def _no_file(holds: Holds, row: HoldRow, names_a_folder: bool) -> HdriveError:
    what = f"path {row.glob!r} matches no file of {row.upn}"
    if names_a_folder and not row.glob.endswith("**"):
        return _unmatched(
            holds,
            row,
            f"{what}, only a folder",
            f"write {row.glob.rstrip('/')}/** to hold the folder and everything in it",
        )
    return _unmatched(
        holds,
        row,
        what,
        "correct the path: a glob from the user's H: root as the scan saw it, e.g. Cases/2021/**",
    )


def _unmatched(holds: Holds, row: HoldRow, what: str, fix: str) -> HdriveError:
    return HdriveError(what, where=f"{holds.source}:{row.line}", fix=fix)
