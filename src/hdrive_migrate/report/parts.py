"""The per-file pass of a report: every planned file of every user, written as it passes to
items.csv, its user's manifest and its records register, split across processes.

SQLite builds each line (report.rows), which leaves one core busy per process: so the users
are split into contiguous parts of about equal files, each part is written by a process of its
own (items and register lines into part files, manifests in place), and the parts are then
joined in order. Each part reads in one read transaction, so a user's lines, status and
summary row always agree, even while a migration runs.
"""

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from sqlite_utils import Database

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.migrate.status import BLOCKED, Report
from hdrive_migrate.migrate.status import report as user_status
from hdrive_migrate.outputs import CSV_ENCODING, csv_writer
from hdrive_migrate.report.columns import MANIFEST_COLUMNS, REGISTERS
from hdrive_migrate.report.folder import ReportFolder, manifest_name
from hdrive_migrate.report.rows import planned_lines, user_cells
from hdrive_migrate.report.tally import Tally, Timeline
from hdrive_migrate.users.roster import User

# Below this many files a wave is written in this process: starting others costs more.
_FILES_PER_PROCESS = 50_000
_PART_ENCODING = "utf-8"  # part files have no byte order mark: they are joined after one


class Lines:
    """Lines for HANDLE, written a batch at a time: one write of many lines costs what one
    line's write does (the CSV encoding is applied per write)."""

    BATCH = 4096

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.pending: list[str] = []

    def add(self, line: str) -> None:
        self.pending.append(line)
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        self.handle.write("".join(self.pending))
        self.pending.clear()


@dataclass
class Part:
    """What writing some users' files leaves for the wave-level files: each user's status and
    tally (in order), the timeline of good outcomes, and the manifests written."""

    users: list[tuple[Report, Tally]] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    manifests: list[str] = field(default_factory=list)


def write_users(
    db: Database,
    users: Iterable[User],
    folder: ReportFolder,
    source_root: str,
    items: Lines,
    registers: dict[str, Lines],
) -> Part:
    """Write USERS' lines of items.csv and the registers (REGISTERS: decision -> lines) and
    each user's manifest into FOLDER."""
    part = Part()
    for user in users:
        found = user_status(db, user.upn)
        block = found.state.cause if found.state.state == BLOCKED else None
        cells = user_cells(db, user.upn, source_root=source_root, folder=user.folder, block=block)
        name = manifest_name(user.upn)
        with folder.open(name, encoding=CSV_ENCODING) as handle:
            csv_writer(handle).writerow(MANIFEST_COLUMNS)
            manifest = Lines(handle)
            groups = _write_lines(db, cells, items, manifest, registers, part.timeline)
            manifest.flush()
        part.users.append((found, Tally.of(groups)))
        part.manifests.append(name)
    return part


def _write_lines(db, cells, items, manifest, registers, timeline) -> dict:
    """Write one user's lines; their (decision, outcome, failure) -> [files, bytes]."""
    groups: dict[tuple[str, str, str | None], list[int]] = {}
    for item, line, register, action, outcome, size, failure, minute in planned_lines(db, cells):
        items.add(item)
        manifest.add(line)
        if register is not None:
            registers[action].add(register)
        group = groups.get((action, outcome, failure))
        if group is None:
            groups[action, outcome, failure] = [1, size]
        else:
            group[0] += 1
            group[1] += size
        if minute is not None:
            timeline.add(minute, outcome, size)
    return groups


def write_in_parts(
    db: Database,
    users: Sequence[User],
    folder: ReportFolder,
    source_root: str,
    items: Lines,
    registers: dict[str, Lines],
) -> list[Part]:
    """As `write_users`, in as many processes as there are cores (and files to share out),
    the parts joined in the order of USERS."""
    parts = _split(db, users, os.cpu_count() or 1)
    if len(parts) == 1:
        return [write_users(db, users, folder, source_root, items, registers)]
    database = db.execute("PRAGMA database_list").fetchone()[2]
    scratch = Path(tempfile.mkdtemp(dir=folder.path, prefix=".parts-"))
    try:
        jobs = [
            _Job(database, part, folder, source_root, scratch, n) for n, part in enumerate(parts)
        ]
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
            written = list(pool.map(_write_job, jobs))
        for job, result in zip(jobs, written, strict=True):
            if isinstance(result, _Failure):
                raise HdriveError(result.what, fix=result.fix, where=result.where)
            folder.written.extend(result.manifests)  # written by another process's copy
            _join(job.part_file("items"), items)
            for name, lines in _register_lines(registers).items():
                _join(job.part_file(name), lines)
        return [result for result in written if isinstance(result, Part)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _split(db: Database, users: Sequence[User], processes: int) -> list[list[User]]:
    """USERS in contiguous parts of about equal planned files, one per process, and only as
    many as have _FILES_PER_PROCESS files each."""
    weights = [_planned_files(db, user.upn) + 1 for user in users]
    total = sum(weights)
    count = max(1, min(processes, len(users), total // _FILES_PER_PROCESS))
    parts: list[list[User]] = [[] for _ in range(count)]
    seen = 0
    for user, weight in zip(users, weights, strict=True):
        parts[min(count - 1, seen * count // total)].append(user)
        seen += weight
    return [part for part in parts if part]


def _planned_files(db: Database, upn: str) -> int:
    return db.execute(
        "SELECT count(*) FROM plan_users AS pu JOIN decisions AS d"
        " ON d.run_id = pu.run_id AND d.upn = pu.upn WHERE pu.upn = ?",
        [upn],
    ).fetchone()[0]


def _register_lines(registers: dict[str, Lines]) -> dict[str, Lines]:
    """Register file name -> its lines (REGISTERS maps decisions to files)."""
    return {name: registers[actions[0]] for name, actions in REGISTERS.items()}


@dataclass(frozen=True)
class _Job:
    database: str
    users: list[User]
    folder: ReportFolder
    source_root: str
    scratch: Path
    number: int

    def part_file(self, name: str) -> Path:
        return self.scratch / f"{name}.{self.number}"


@dataclass(frozen=True)
class _Failure:
    """An HdriveError in a process, carried back whole (exceptions with keyword-only
    arguments do not survive pickling)."""

    what: str
    fix: str
    where: str | None


def _write_job(job: _Job) -> Part | _Failure:
    """Run in a process of its own: write JOB's users, items and register lines into part
    files, in one read transaction of the workspace database opened read-only."""
    connection = sqlite3.connect(f"file:{quote(job.database)}?mode=ro", uri=True)
    try:
        db = Database(connection)
        db.execute("BEGIN")
        with ExitStack() as stack:

            def part(name: str) -> Lines:
                handle = stack.enter_context(
                    job.part_file(name).open("w", encoding=_PART_ENCODING, newline="")
                )
                lines = Lines(handle)
                stack.callback(lines.flush)
                return lines

            items = part("items")
            registers = {
                action: lines
                for name, actions in REGISTERS.items()
                for lines in [part(name)]
                for action in actions
            }
            return write_users(db, job.users, job.folder, job.source_root, items, registers)
    except HdriveError as exc:
        return _Failure(exc.what, exc.fix, exc.where)
    finally:
        connection.close()


def _join(part: Path, lines: Lines) -> None:
    """Append PART's bytes to LINES' file: both UTF-8, the byte order mark written already with
    the header, so nothing needs decoding."""
    lines.flush()
    lines.handle.flush()
    with part.open("rb") as handle:
        shutil.copyfileobj(handle, lines.handle.buffer, 1 << 20)
