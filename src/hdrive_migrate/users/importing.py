"""`users import`: a user list into the roster, row by row, as one audited event.

Good rows are imported even when others are bad; each bad row becomes one RowError. Importing
the same file again changes nothing (rows are upserted).
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from hdrive_migrate.clock import SYSTEM_CLOCK
from hdrive_migrate.csvfiles import read_csv_text
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.store import now_text, record_event, transaction
from hdrive_migrate.users.csvfiles import Row, RowError, UserList, parse_user_list, wave_problem
from hdrive_migrate.users.roster import (
    IMPORTED,
    UNCHANGED,
    UPDATED,
    check_folders,
    home_folders,
    moved_warning,
    opened_source,
    reject_duplicates,
    upsert,
    user,
)
from hdrive_migrate.workspace import Workspace


@dataclass(frozen=True)
class ImportReport:
    """What an import did: counts by outcome, and one error per rejected row."""

    file: str
    kind: str
    counts: Counter
    errors: list[RowError]
    warnings: list[RowError]

    def summary(self) -> str:
        """One line: FILE (KIND CSV): imported N, updated N, unchanged N, rejected N."""
        counts = ", ".join(f"{outcome} {self.counts[outcome]}" for outcome in OUTCOMES)
        return f"{self.file} ({self.kind} CSV): {counts}, rejected {len(self.errors)}"


OUTCOMES = (IMPORTED, UPDATED, UNCHANGED)


def import_file(
    workspace: Workspace, path: Path, *, wave: str | None = None, resolve_sam: bool = False
) -> ImportReport:
    """Import the user list at PATH (simple or SPMT CSV) into WORKSPACE's roster.

    WAVE, when given, is every imported user's wave. RESOLVE_SAM asks the tenant for the UPNs
    the file leaves out (by folder name as the on-premises account name) and confirms UPNs
    guessed from OneDrive URLs. A file that cannot be read or parsed at all, a source root that
    cannot be listed, or a Graph failure raises HdriveError and imports nothing.
    """
    if wave is not None and (why := wave_problem(wave)):
        raise HdriveError(why, fix="choose another wave name", where="--wave")
    user_list = read_user_list(path, workspace.config.source_root, resolve_sam)
    with opened_source(workspace.config) as source:
        rows, errors = check_folders(user_list.rows, home_folders(source), source.describe())
    if resolve_sam:
        rows, unresolved = asyncio.run(_resolve(workspace, rows))
        errors += unresolved
    rows, duplicates = reject_duplicates(rows)
    rows = [replace(row, wave=wave or row.wave) for row in rows]
    errors = [*user_list.errors, *errors, *duplicates]
    about = {"format": user_list.kind, "wave": wave, "resolve_sam": resolve_sam}
    counts, clashes, warnings = _save(workspace, path, rows, about, len(errors))
    errors = sorted([*errors, *clashes], key=lambda error: error.line)
    return ImportReport(str(path), user_list.kind, counts, errors, warnings)


def read_user_list(path: Path, source_root: str, resolve_sam: bool) -> UserList:
    """Read and parse the file at PATH; HdriveError when it cannot be read as UTF-8 text."""
    text = read_csv_text(path)
    return parse_user_list(
        text, file=str(path), source_root=source_root, upn_required=not resolve_sam
    )


async def _resolve(workspace: Workspace, rows: list[Row]) -> tuple[list[Row], list[RowError]]:
    # Imported here: the Graph SDK is only loaded by commands that talk to Graph.
    from hdrive_migrate.graph.client import GraphConnection
    from hdrive_migrate.graph.pacer import paced_by
    from hdrive_migrate.users.resolve import Directory, confirm_derived, resolve_sam

    resolved: list[Row] = []
    errors: list[RowError] = []
    async with GraphConnection(workspace.config.graph) as connection:
        directory = Directory(connection, paced_by(workspace.config))
        for row in rows:
            if row.upn is None:
                found = await resolve_sam(workspace.db, directory, row.folder, SYSTEM_CLOCK.now())
            elif row.derived_from is not None:
                found = await confirm_derived(directory, row.derived_from)
            else:
                resolved.append(row)
                continue
            if found.finding is not None:
                errors.append(RowError(row.line, found.finding.what, found.finding.fix))
            else:
                resolved.append(replace(row, upn=found.upn, derived_from=None))
    return resolved, errors


def _save(
    workspace: Workspace, path: Path, rows: list[Row], about: dict, rejected: int
) -> tuple[Counter, list[RowError], list[RowError]]:
    """Upsert ROWS and record the import event (ABOUT, the counts, REJECTED rows before these
    plus the clashes, users moved to another folder) in one transaction; return the counts,
    the rows that clashed and the warnings for users whose folder changed."""
    db, now = workspace.db, now_text()
    counts: Counter = Counter()
    clashes: list[RowError] = []
    warnings: list[RowError] = []
    with transaction(db):
        for row in rows:
            before = user(db, row.upn) if row.upn else None
            outcome = upsert(db, row, source_file=str(path.resolve()), now=now)
            if isinstance(outcome, RowError):
                clashes.append(outcome)
                continue
            counts[outcome] += 1
            if outcome == UPDATED and (warning := moved_warning(db, before, row)):
                warnings.append(warning)
        tally = {outcome: counts[outcome] for outcome in OUTCOMES}
        detail = {**about, **tally, "rejected": rejected + len(clashes), "moved": len(warnings)}
        if any(tally.values()):  # a file rejected whole leaves the workspace as it was
            record_event(db, "users.imported", str(path.resolve()), detail)
    return counts, clashes, warnings
