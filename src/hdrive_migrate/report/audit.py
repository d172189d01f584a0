"""The audit log (DPA 2018 s62) for the information-rights team: check its hash chain
(store/chain.py) and export it as CSV.

`verify_chain` reads the log a page at a time and stops at the first entry that breaks the
chain; `export_events` streams the log into the CSV. Both only read entries, which the tool
never changes once written.
"""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.display import counted
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import CSV_ENCODING, csv_writer, open_output
from hdrive_migrate.store import record_event
from hdrive_migrate.store.chain import GENESIS, Entry, entries

EXPORT_COLUMNS = ("id", "at", "actor", "action", "subject", "detail", "hash")
FIX_BROKEN = (
    "do not add to or repair the log; keep a copy of state.db as it is, compare it with the "
    "latest backup from before that time, and tell the information-rights team"
)


class Break(NamedTuple):
    """The first entry where the chain breaks (None when the break is after the last entry),
    and what is wrong there."""

    entry: Entry | None
    problem: str

    def line(self) -> str:
        """One line: which entry, what is wrong, and the fix."""
        entry = self.entry
        where = "audit log" if entry is None else f"audit log entry {entry.id}"
        if entry is not None:
            where += f" ({entry.at}, {entry.action})"
        return str(HdriveError(self.problem, fix=FIX_BROKEN, where=where))


class Verdict(NamedTuple):
    """What `verify_chain` found: how many entries were checked (up to the first break), the
    earliest and latest times among them, and the first break, if any."""

    entries: int
    first_at: str | None
    last_at: str | None
    broken: Break | None

    def line(self) -> str:
        if self.broken is not None:
            return self.broken.line()
        span = f", {self.first_at} to {self.last_at}" if self.entries else ""
        return f"audit log intact: {counted(self.entries, 'entry', 'entries')}{span}"


def verify_chain(db: Database) -> Verdict:
    """Walk DB's audit log in id order and return the first entry that was edited (its hash
    does not match its fields), or that does not follow the entry before it (one removed,
    inserted or moved before it); then check the last entry is the one the tool wrote last
    (events_head), which catches entries removed from, or added at, the end."""
    prev, count, last = GENESIS, 0, None
    earliest = latest = None
    for entry in entries(db):
        problem = _entry_problem(entry, prev, last)
        if problem is not None:
            return Verdict(count, earliest, latest, Break(entry, problem))
        prev, count, last = entry.hash, count + 1, entry
        # Times are stored alike (UTC ISO 8601), so they order as text.
        earliest = min(earliest or entry.at, entry.at)
        latest = max(latest or entry.at, entry.at)
    return Verdict(count, earliest, latest, _head_problem(db, last))


def _entry_problem(entry: Entry, prev: str, before: Entry | None) -> str | None:
    after = f"entry {before.id}" if before else "the start of the log"
    if entry.hash is None or entry.prev_hash is None:
        return "it has no hash: it was written around hdrive-migrate, by hand"
    if entry.prev_hash != prev:
        return f"it does not follow {after}: an entry was removed, inserted or moved between them"
    if entry.expected_hash() != entry.hash:
        return "its contents do not match its hash: it was edited, or inserted or moved by hand"
    return None


def _head_problem(db: Database, last: Entry | None) -> Break | None:
    head = db.execute("SELECT id, hash FROM events_head").fetchone()
    if head is None:
        return Break(last, "the record of the last entry written (events_head) is missing")
    last_id, last_hash = (last.id, last.hash) if last else (0, GENESIS)
    if (last_id, last_hash) == tuple(head):
        return None
    if last_id < head[0]:
        problem = f"the log ends here, but entry {head[0]} was written: entries were removed"
    elif last_id > head[0]:
        problem = f"the last entry hdrive-migrate wrote is {head[0]}: later ones were added"
    else:
        problem = "it is not the entry hdrive-migrate wrote last: it was replaced"
    return Break(last, problem)


class ExportResult(NamedTuple):
    file: str
    rows: int
    since: str | None

    def summary(self) -> str:
        since = f" since {self.since}" if self.since else ""
        return f"{self.file}: {counted(self.rows, 'audit log entry', 'audit log entries')}{since}"


def parse_since(text: str) -> datetime:
    """The --since value TEXT (a date, YYYY-MM-DD, or an ISO 8601 time; UTC unless it says
    otherwise) as an aware datetime; anything else raises HdriveError."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HdriveError(
            f"{text!r} is not a date",
            fix="give a date as YYYY-MM-DD (UTC), e.g. --since 2025-06-01",
            where="--since",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def export_events(
    db: Database,
    out: Path,
    *,
    workspace: Path,
    force: bool,
    since: datetime | date | None = None,
    actor: str | None = None,
) -> ExportResult:
    """Write OUT (through open_output: not over the WORKSPACE's own files, nor an existing file
    unless FORCE), a CSV of EXPORT_COLUMNS with one row per audit log entry at or after SINCE
    (every entry when None), in id order, streamed. The export is itself recorded, by ACTOR
    (default the OS user), as `audit.exported`: the log names people and their files."""
    since_text = _stored(since) if since is not None else ""
    rows = 0
    with open_output(out, workspace=workspace, force=force, encoding=CSV_ENCODING) as handle:
        writer = csv_writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        cursor = db.execute(
            "SELECT id, at, actor, action, subject, detail, hash FROM events"
            " WHERE at >= ? ORDER BY id",
            [since_text],
        )
        for row in cursor:
            writer.writerow(row)
            rows += 1
    detail = {"rows": rows, "since": since_text or None}
    record_event(db, "audit.exported", str(out.resolve()), detail, actor=actor)
    return ExportResult(str(out), rows, since_text or None)


def _stored(moment: datetime | date) -> str:
    """MOMENT as record_event stores `at`, so the log's times compare with it as text."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
