"""`migrate --dry-run`: what a run would send, and how long the quotas make it take.

Counts come from the same work query and decision as the run (work.jobs, work.next_step), and
requests from the same schemes as transfer.py; resource units and the ETA from the pacer's own
table and arithmetic (graph/pacer.py). Nothing is sent, not even a token request: a Pacer is
only arithmetic until someone acquires it.
"""

from collections import Counter
from dataclasses import dataclass, field

from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.graph.pacer import Pacer, RequestKind, request_cost
from hdrive_migrate.migrate.limits import bytes_per_second
from hdrive_migrate.migrate.work import Job, Next, jobs, next_step
from hdrive_migrate.users.roster import User


@dataclass
class Forecast:
    """One user's (or the total's) files and bytes to send, the requests by kind, and what
    they cost."""

    upn: str
    files: int = 0
    bytes: int = 0
    refused: int = 0  # files a run would record as failed without sending (links, long paths)
    unchanged: int = 0  # already migrated and not changed since
    requests: Counter = field(default_factory=Counter)  # RequestKind -> count
    seconds: float = 0.0

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    @property
    def resource_units(self) -> int:
        return sum(request_cost(kind) * n for kind, n in self.requests.items())

    def add(self, other: "Forecast") -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.refused += other.refused
        self.unchanged += other.unchanged
        self.requests.update(other.requests)


def file_requests(job: Job, chunk: int) -> Counter:
    """The requests sending JOB costs when nothing goes wrong (no clash, no retry)."""
    requests: Counter = Counter()
    if job.sealed:
        requests[RequestKind.SESSION] += 1  # asking the open session where to go on
    if job.size == 0:
        requests[RequestKind.WRITE] += 2  # simple PUT, then PATCH of the times
    elif job.size <= chunk:
        requests[RequestKind.WRITE] += 1  # createUploadSession
        requests[RequestKind.UPLOAD_CHUNK] += 1
    else:
        requests[RequestKind.WRITE] += 2  # createUploadSession, deferred commit
        requests[RequestKind.UPLOAD_CHUNK] += -(-job.size // chunk)
    if job.label:
        requests[RequestKind.WRITE] += 1  # PATCH retentionLabel
    return requests


def forecast_user(db: Database, user: User, chunk: int) -> Forecast:
    """USER's forecast; folders not yet known to exist in OneDrive cost one create each."""
    result = Forecast(user.upn)
    if not user.drive_id:
        result.requests[RequestKind.READ] += 1  # the drive look-up
    known = {
        path.casefold()
        for (path,) in db.execute("SELECT path FROM drive_folders WHERE upn = ?", [user.upn])
    }
    if not known:
        result.requests[RequestKind.READ] += 1  # the drive root's id, parent of the first folder
    for job in jobs(db, user.upn, user.drive_id or "", user.folder):
        step, _, _ = next_step(job)
        if step is Next.SKIP:
            result.unchanged += 1
        elif step is Next.REFUSE:
            result.refused += 1
        else:
            result.files += 1
            result.bytes += job.size
            result.requests.update(file_requests(job, chunk))
            _count_folders(result, known, job.target)
    return result


def _count_folders(result: Forecast, known: set[str], target: str) -> None:
    names = target.split("/")[:-1]
    for depth in range(1, len(names) + 1):
        folder = "/".join(names[:depth]).casefold()
        if folder not in known:
            known.add(folder)
            result.requests[RequestKind.WRITE] += 1


def forecast(
    db: Database,
    users: list[User],
    *,
    chunk: int,
    per_minute_ru: int,
    per_day_ru: int,
    max_mbps: float | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[list[Forecast], Forecast]:
    """(per user, total), each with its ETA under the quotas (and --max-mbps, when it binds
    harder): users one after another, as the run takes them."""
    pacer = Pacer(per_minute_ru, per_day_ru, clock=clock)
    rate = bytes_per_second(max_mbps) if max_mbps else None
    per_user = [forecast_user(db, user, chunk) for user in users]
    total = Forecast("total")
    for item in per_user:
        item.seconds = _eta(pacer, item, rate)
        total.add(item)
    total.seconds = _eta(pacer, total, rate)
    return per_user, total


def _eta(pacer: Pacer, item: Forecast, rate: float | None) -> float:
    seconds = pacer.forecast_seconds(item.resource_units)
    return max(seconds, item.bytes / rate) if rate else seconds
