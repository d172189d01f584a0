"""What there is to do for one user: every file whose effective decision is `migrate`, with its
source facts from the inventory and its transfer so far, streamed by keyset paging so a wave of
any size runs in the same memory; and the pure decision of what each file needs next.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from sqlite_utils import Database

from hdrive_migrate import naming
from hdrive_migrate.plan.current import EFFECTIVE_SQL
from hdrive_migrate.plan.names import path_length_problem

PAGE = 1000
DONE = frozenset({"migrated", "skipped-identical", "renamed"})
OURS = frozenset({"migrated", "renamed"})
# Modified times are stored as float seconds from two sources (scan, stat): equal within this.
TIME_TOLERANCE = 1e-6

_WORK_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.path, e.label,
           COALESCE(e.target_path, p.target_folder || '/' || e.path) AS target,
           f.size, f.created, f.modified, f.link, f.sha256, f.quick_xor,
           t.state, t.target_path, t.source_size, t.source_modified, t.sha256, t.item_id,
           t.ours, t.session_sealed, t.next_offset, t.partial_name
    FROM effective AS e
    JOIN plan_runs AS p ON p.id = e.run_id
    JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    WHERE e.action = 'migrate' AND f.change != 'deleted' AND f.is_dir = 0 AND e.path > :after
    ORDER BY e.path LIMIT :page
"""


@dataclass(frozen=True)
class Job:
    """One file to consider. `target` is where it goes: `planned`, or the clash name it went
    to once renamed (or was going to, when an upload was under way); `sent_*` describe the
    source as last sent, `item_id` what it became; `partial` the temporary name an upload
    went under, not yet renamed to `target`."""

    upn: str
    drive_id: str
    home: str  # the user's folder under the source root
    path: str
    target: str
    planned: str  # the plan's target path
    label: str | None
    size: int
    created: float | None
    modified: float
    link: bool
    sha256: str | None
    quick_xor: str | None
    state: str | None
    sent_size: int | None
    sent_modified: float | None
    sent_sha256: str | None
    item_id: str | None
    ours: bool
    sealed: str | None
    next_offset: int | None
    partial: str | None = None

    @property
    def source_path(self) -> str:
        return f"{self.home}/{self.path}" if self.home else self.path

    @property
    def partial_path(self) -> str | None:
        return f"{self.target.rpartition('/')[0]}/{self.partial}" if self.partial else None

    @property
    def may_hold_a_session(self) -> bool:
        """An earlier attempt may have left an upload session of ours open that nobody can
        reach (its URL was never saved): a name held with nothing there is then ours."""
        return self.state == "sending"


def jobs(db: Database, upn: str, drive_id: str, home: str, page: int = PAGE) -> Iterator[Job]:
    """UPN's files whose effective decision is `migrate` and that are still at the source, in
    path order, PAGE rows a query."""
    after = ""
    while True:
        rows = db.execute(_WORK_SQL, {"upn": upn, "after": after, "page": page}).fetchall()
        for row in rows:
            yield _job(upn, drive_id, home, row)
        if len(rows) < page:
            return
        after = rows[-1][0]


def _job(upn: str, drive_id: str, home: str, row: tuple) -> Job:
    (path, label, planned, size, created, modified, link, sha256, quick_xor) = row[:9]
    (state, sent_target, sent_size, sent_modified, sent_sha256, item_id, ours, sealed) = row[9:17]
    # A file once renamed beside someone else's keeps its clash name on later passes, and an
    # upload under way goes on to the target it was going to.
    target = sent_target if state in ("renamed", "sending") else planned
    return Job(
        upn, drive_id, home, path, target, planned, label, size, created, modified,
        bool(link), sha256, quick_xor, state, sent_size, sent_modified, sent_sha256, item_id,
        bool(ours), sealed, row[17], row[18],
    )  # fmt: skip


class Next(Enum):
    SKIP = "skip"  # done and unchanged since: nothing to send
    REFUSE = "refuse"  # cannot go at all: record the reason, send nothing
    RESUME = "resume"  # an upload session was open when the last run stopped
    SEND = "send"


def next_step(job: Job) -> tuple[Next, str | None, str | None]:
    """(what JOB needs, reason code, detail) from the job alone: pure."""
    if job.link:
        return Next.REFUSE, "link-not-migrated", "a link or reparse point; never followed"
    if problem := path_length_problem(job.target):
        return Next.REFUSE, "path-too-long", problem
    if job.size > naming.MAX_FILE_BYTES:
        return Next.REFUSE, "too-large", f"{job.size:,} bytes"
    if job.sealed:
        return Next.RESUME, None, None
    if job.state in DONE and unchanged_since_sent(job):
        return Next.SKIP, None, None
    return Next.SEND, None, None


def unchanged_since_sent(job: Job) -> bool:
    """The source is as it was when last sent: size and modified time, and content where both
    hashes are known (a re-scan with --hash sees a change that kept size and time)."""
    if job.sent_size != job.size or job.sent_modified is None:
        return False
    if not math.isclose(job.sent_modified, job.modified, abs_tol=TIME_TOLERANCE):
        return False
    return job.sha256 is None or job.sent_sha256 is None or job.sha256 == job.sent_sha256


_DELETED_SQL = """
    SELECT t.path, t.target_path, t.item_id, t.ours
    FROM transfers AS t
    LEFT JOIN files AS f ON f.upn = t.upn AND f.path = t.path
    WHERE t.upn = :upn AND t.state IN ('migrated', 'renamed', 'skipped-identical')
      AND (f.path IS NULL OR f.change = 'deleted') AND t.path > :after
    ORDER BY t.path LIMIT :page
"""


@dataclass(frozen=True)
class Deleted:
    """A file migrated earlier and deleted at the source since (by the latest scan)."""

    path: str
    target: str
    item_id: str | None
    ours: bool


def deleted_at_source(db: Database, upn: str, page: int = PAGE) -> Iterator[Deleted]:
    after = ""
    while True:
        rows = db.execute(_DELETED_SQL, {"upn": upn, "after": after, "page": page}).fetchall()
        for path, target, item_id, ours in rows:
            yield Deleted(path, target, item_id, bool(ours))
        if len(rows) < page:
            return
        after = rows[-1][0]


_ABANDONED_SQL = f"""
    SELECT t.path, t.session_sealed, t.target_path, t.partial_name FROM transfers AS t
    WHERE t.upn = :upn AND t.state = 'sending' AND NOT EXISTS (
        WITH effective AS ({EFFECTIVE_SQL})
        SELECT 1 FROM effective AS e JOIN files AS f ON f.upn = e.upn AND f.path = e.path
        WHERE e.path = t.path AND e.action = 'migrate' AND f.change != 'deleted')
"""


def abandoned_sessions(db: Database, upn: str) -> list[tuple[str, str | None, str, str | None]]:
    """(path, sealed URL, target path, partial name) of UPN's uploads under way whose file is
    no longer to migrate (its decision changed, or it was deleted at the source): they are
    cancelled for good."""
    return db.execute(_ABANDONED_SQL, {"upn": upn}).fetchall()


BLOCK_REMAINING = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    INSERT INTO transfers(upn, path, state, target_path, label, reason, detail, run_id,
                          finished_at)
    SELECT e.upn, e.path, 'blocked', COALESCE(e.target_path, p.target_folder || '/' || e.path),
           e.label, :reason, :detail, :run, :at
    FROM effective AS e
    JOIN plan_runs AS p ON p.id = e.run_id
    JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    WHERE e.action = 'migrate' AND f.change != 'deleted' AND f.is_dir = 0
    ON CONFLICT(upn, path) DO UPDATE SET state = 'blocked', reason = excluded.reason,
        detail = excluded.detail, run_id = excluded.run_id, finished_at = excluded.finished_at,
        session_sealed = NULL, session_expires = NULL, next_offset = NULL
    WHERE transfers.state NOT IN ('migrated', 'skipped-identical', 'renamed')
"""
"""A `blocked` outcome for every one of :upn's files not done, after a user-level block
(their sessions were cancelled: a block outlasts a session); parameters :upn, :reason,
:detail, :run, :at."""


_TO_SEND_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT count(*), COALESCE(sum(f.size), 0)
    FROM effective AS e
    JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    WHERE e.action = 'migrate' AND f.change != 'deleted' AND f.is_dir = 0
      AND NOT COALESCE(
          t.state IN ('migrated', 'skipped-identical', 'renamed') AND t.source_size = f.size
          AND abs(t.source_modified - f.modified) <= {TIME_TOLERANCE}
          AND (f.sha256 IS NULL OR t.sha256 IS NULL OR f.sha256 = t.sha256), 0)
"""


def to_send(db: Database, upn: str) -> tuple[int, int]:
    """(files, bytes) of UPN's that a run would consider sending: for progress and its ETA.
    The same rule as `unchanged_since_sent`, in one aggregate query."""
    files, size = db.execute(_TO_SEND_SQL, {"upn": upn}).fetchone()
    return files, size
