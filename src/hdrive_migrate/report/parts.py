"""The per-file pass of a report: every planned file of every user, written as it passes to
items.csv, its user's manifest and its records register, split across processes.

Putting a wave's lines together keeps a core busy: so the users are split into contiguous
parts of about equal files, one per core. This process writes the first part straight into
the files; each other part is written by a process of its own (items and register lines into
part files, manifests in place), and those parts are then appended in order. Each part reads
in one read transaction, so a user's lines, status and summary row always agree, even while a
migration runs.
"""

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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
    """A file's lines, written a chunk at a time (report.rows.CHUNK files): one write of many
    lines costs what one line's write does (the CSV encoding is applied per write)."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle

    def write(self, lines: list[str]) -> None:
        self.handle.write("".join(lines))

    def flush(self) -> None:
        self.handle.flush()


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
            groups = _write_lines(db, cells, items, Lines(handle), registers, part.timeline)
        part.users.append((found, Tally.of(groups)))
        part.manifests.append(name)
    return part


def _write_lines(db, cells, items, manifest, registers, timeline) -> dict:
    """Write one user's lines; their (decision, outcome, failure) -> [files, bytes]."""
    groups: dict[tuple[str, str, str | None], list[int]] = {}
    for chunk in planned_lines(db, cells):
        items.write(chunk.items)
        manifest.write(chunk.manifest)
        for action, lines in chunk.registers.items():
            registers[action].write(lines)
        for key, (files, size) in chunk.groups.items():
            group = groups.setdefault(key, [0, 0])
            group[0] += files
            group[1] += size
        for minute, (files, sent) in chunk.good.items():
            timeline.add(minute, files, sent)
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
            _Job(database, part, folder, source_root, scratch, n)
            for n, part in enumerate(parts[1:], start=1)
        ]
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
            pending = [pool.submit(_write_job, job) for job in jobs]
            # This process writes the first part itself, straight into the files.
            written = [write_users(db, parts[0], folder, source_root, items, registers)]
            for future in pending:
                result = future.result()
                if isinstance(result, _Failure):
                    raise HdriveError(result.what, fix=result.fix, where=result.where)
                folder.written.extend(result.manifests)  # written by another process's copy
                written.append(result)
        _join_parts(jobs, {"items": items, **_register_lines(registers)})
        return written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _split(db: Database, users: Sequence[User], processes: int) -> list[list[User]]:
    """USERS in contiguous parts of about equal files, one per process, and only as many as
    have _FILES_PER_PROCESS files each. A user's files are those of their latest complete
    scan: counting their planned files would cost a tenth of the report."""
    weights = [_scanned_files(db, user.upn) + 1 for user in users]
    total = sum(weights)
    count = max(1, min(processes, len(users), total // _FILES_PER_PROCESS))
    parts: list[list[User]] = [[] for _ in range(count)]
    seen = 0
    for user, weight in zip(users, weights, strict=True):
        parts[min(count - 1, seen * count // total)].append(user)
        seen += weight
    return [part for part in parts if part]


def _scanned_files(db: Database, upn: str) -> int:
    row = db.execute(
        "SELECT files FROM scans WHERE upn = ? AND status = 'complete' ORDER BY id DESC LIMIT 1",
        [upn],
    ).fetchone()
    return (row[0] or 0) if row else 0


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
                return Lines(handle)

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


def _join_parts(jobs: list[_Job], files: dict[str, Lines]) -> None:
    """Append each job's part of FILES (name -> lines) in job order. Each file is joined in a
    thread of its own: the kernel copies, and the copies of different files overlap."""

    def join_file(name: str, lines: Lines) -> None:
        for job in jobs:
            _join(job.part_file(name), lines)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        for joined in [pool.submit(join_file, name, lines) for name, lines in files.items()]:
            joined.result()


def _join(part: Path, lines: Lines) -> None:
    """Append PART's bytes to LINES' file: both UTF-8, the byte order mark written already with
    the header, so nothing needs decoding. The kernel copies them where it can."""
    lines.flush()
    target = lines.handle.buffer
    with part.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        try:
            while size > 0:
                copied = os.copy_file_range(source.fileno(), target.fileno(), size)
                if copied == 0:
                    break
                size -= copied
        except OSError:  # a file system without it: copy the rest through this process
            pass
        shutil.copyfileobj(source, target, 1 << 20)
