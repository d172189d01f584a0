"""`hdrive-migrate report`: the whole report of a wave (or of everyone) from the database.

Every planned file is read once, user by user from a cursor, and written as it passes to
items.csv, its user's manifest and its records register, while counts and bytes add up for
summary.csv, failures.csv and summary.html: memory stays flat however large the wave. All of
it is read in one read transaction, so the files agree with each other even while a migration
runs. The export is recorded in the audit log (`report.exported`).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlite_utils import Database

from hdrive_migrate.migrate.status import Report
from hdrive_migrate.outputs import CSV_ENCODING, csv_writer
from hdrive_migrate.policy.record import ACTIONS
from hdrive_migrate.report.columns import (
    FAILURE_COLUMNS,
    ITEM_COLUMNS,
    OUTCOMES,
    REGISTER_COLUMNS,
    REGISTERS,
    SUMMARY_COLUMNS,
)
from hdrive_migrate.report.cutover import CUTOVER_COLUMNS, blocker, cutover_facts, cutover_row
from hdrive_migrate.report.folder import (
    CUTOVER,
    FAILURES,
    FIXED,
    ITEMS,
    SUMMARY_CSV,
    SUMMARY_HTML,
    ReportFolder,
    manifest_name,
)
from hdrive_migrate.report.parts import Lines, write_in_parts
from hdrive_migrate.report.summary import (
    NEEDS_ACTION,
    WaveFailure,
    render_summary,
    wave_failures,
)
from hdrive_migrate.report.tally import Tally, Timeline
from hdrive_migrate.store import record_event
from hdrive_migrate.users.roster import User

REPORTS_DIR = "reports"
ALL_USERS = "all"
# Default folders a wave may not take: the everyone report's, and the disposal certificates'.
_RESERVED = {ALL_USERS, "disposals"}
EVENT = "report.exported"


@dataclass(frozen=True)
class Exported:
    """A written report: its folder, what it covers, and SHA256SUMS's own SHA-256."""

    folder: Path
    users: int
    files: int
    bytes: int
    written: list[str]
    sums_sha256: str


def default_folder(workspace: Path, wave: str | None) -> Path:
    """WORKSPACE/reports/WAVE (the wave's name made a safe folder name), or reports/all for
    everyone; a wave named `all` or `disposals` gets reports/wave-NAME."""
    if wave is None:
        return workspace / REPORTS_DIR / ALL_USERS
    name = re.sub(r"[^\w .()-]", "_", wave).strip(" .") or "_"
    if name.lower() in _RESERVED:
        name = f"wave-{name}"
    return workspace / REPORTS_DIR / name


def export_report(
    db: Database,
    users: Sequence[User],
    *,
    source_root: str,
    title: str,
    out: Path,
    workspace: Path,
    force: bool,
    now: datetime,
    actor: str | None = None,
) -> Exported:
    """Write the report of USERS (titled TITLE, their files on the share under SOURCE_ROOT)
    into OUT, as `folder.ReportFolder` allows with FORCE, and record the export at NOW by
    ACTOR (default the OS user). Raises HdriveError before writing anything when a file may
    not be written."""
    folder = ReportFolder(out, workspace=workspace, force=force)
    folder.check([*FIXED, *(manifest_name(user.upn) for user in users)])
    # One snapshot for every file of the report, even while a migration writes (WAL).
    snapshot = not db.conn.in_transaction
    if snapshot:
        db.execute("BEGIN")
    try:
        wave = _write(db, users, folder, source_root, title, now)
    finally:
        if snapshot:
            db.conn.rollback()  # nothing was written: this only ends the read
    sums = folder.finish()
    detail = {
        "title": title,
        "users": len(users),
        "files": wave.files,
        "bytes": wave.bytes,
        "written": len(folder.written) + 1,
        "sha256sums_sha256": sums,
    }
    record_event(db, EVENT, str(out.resolve()), detail, actor=actor, at=now)
    return Exported(out, len(users), wave.files, wave.bytes, sorted(folder.written), sums)


class _Wave:
    """What the per-user pass leaves for the wave-level files: never a row per file."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.timeline = Timeline()
        self.states: Counter = Counter()  # users by state
        self.needing_action: list[Report] = []
        self.users_by_reason: dict[str, list[str]] = defaultdict(list)

    def add(self, found: Report, tally: Tally) -> None:
        """Count in one user's status FOUND and their TALLY."""
        self.tally.merge(tally)
        self.states[found.state.state] += 1
        if found.state.state in NEEDS_ACTION:
            self.needing_action.append(found)
        for reason in tally.failures:
            self.users_by_reason[reason].append(found.upn)

    @property
    def files(self) -> int:
        return self.tally.files

    @property
    def bytes(self) -> int:
        return self.tally.bytes


def _write(
    db: Database,
    users: Sequence[User],
    folder: ReportFolder,
    source_root: str,
    title: str,
    now: datetime,
) -> _Wave:
    wave = _Wave()
    with ExitStack() as stack:

        def opened(name: str, columns: Sequence[str]) -> TextIO:
            handle = stack.enter_context(folder.open(name, encoding=CSV_ENCODING))
            csv_writer(handle).writerow(columns)
            return handle

        def lines(name: str, columns: Sequence[str]) -> Lines:
            return Lines(opened(name, columns))

        items = lines(ITEMS, ITEM_COLUMNS)
        summary = csv_writer(opened(SUMMARY_CSV, SUMMARY_COLUMNS))
        cutover = csv_writer(opened(CUTOVER, CUTOVER_COLUMNS))
        registers = {
            action: buffered
            for name, actions in REGISTERS.items()
            for buffered in [lines(name, REGISTER_COLUMNS)]
            for action in actions
        }
        for part in write_in_parts(db, users, folder, source_root, items, registers):
            wave.timeline.merge(part.timeline)
            for found, tally in part.users:
                facts = cutover_facts(db, found.upn)
                not_ready = blocker(found, facts)
                summary.writerow(summary_row(found, tally, not_ready))
                if not_ready is None:
                    cutover.writerow(cutover_row(found, facts))
                wave.add(found, tally)
    failures = wave_failures(wave.tally, wave.users_by_reason)
    _write_failures(folder, failures)
    page = render_summary(
        title=title,
        generated_at=now,
        states=wave.states,
        needing_action=wave.needing_action,
        tally=wave.tally,
        timeline=wave.timeline,
        failures=failures,
    )
    with folder.open(SUMMARY_HTML, encoding="utf-8") as handle:
        handle.write(page)
    return wave


def _write_failures(folder: ReportFolder, failures: list[WaveFailure]) -> None:
    with folder.open(FAILURES, encoding=CSV_ENCODING) as handle:
        writer = csv_writer(handle)
        writer.writerow(FAILURE_COLUMNS)
        for failure in failures:
            writer.writerow(
                [
                    failure.reason,
                    failure.files,
                    failure.bytes,
                    len(failure.users),
                    failure.explanation,
                    failure.fix,
                    "; ".join(failure.users),
                ]
            )


def summary_row(found: Report, tally: Tally, not_ready: str | None) -> list:
    """The user's row of summary.csv (columns.SUMMARY_COLUMNS); NOT_READY says why they are not
    on the cutover list (None: they are)."""
    state, cause = found.state
    by_decision = [
        value
        for action in ACTIONS
        for value in (tally.files_by_decision[action], tally.bytes_by_decision[action])
    ]
    by_outcome = [
        value
        for outcome in OUTCOMES
        for value in (tally.files_by_outcome[outcome], tally.bytes_by_outcome[outcome])
    ]
    return [
        found.upn,
        found.wave,
        state,
        cause.reason if cause else None,
        found.scanned_files,
        found.scanned_bytes,
        tally.files,
        tally.bytes,
        *by_decision,
        *by_outcome,
        tally.files_by_outcome["failed"],
        _failures_text(tally.failures),
        found.last_activity,
        found.next_step,
        "no" if not_ready else "yes",
        not_ready,
    ]


def _failures_text(failures: Counter) -> str:
    return "; ".join(f"{reason}: {count}" for reason, count in sorted(failures.items()))
