"""Per-user totals of the latest complete scan, in the shape of SPMT's ScanSummary."""

from dataclasses import asdict, dataclass, field

from sqlite_utils import Database


@dataclass(frozen=True)
class UserSummary:
    upn: str
    wave: str | None
    status: str  # complete | failed | running | not scanned
    scanned_at: str | None
    files: int = 0
    folders: int = 0
    bytes: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    excluded: int = 0  # files `[scan] exclude` left out
    excluded_folders: int = 0  # folders it left out, unlisted
    findings: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return asdict(self)


def summarise(db: Database, upns: list[str]) -> list[UserSummary]:
    """A summary per user in `upns`, in that order; users never scanned count zero."""
    findings = _findings_by_user(db)
    return [_summary(db, upn, findings.get(upn.lower(), {})) for upn in upns]


def _summary(db: Database, upn: str, findings: dict[str, int]) -> UserSummary:
    wave = db.execute("SELECT wave FROM users WHERE upn = ?", [upn]).fetchone()
    latest = db.execute(
        "SELECT status, finished_at FROM scans WHERE upn = ? ORDER BY id DESC LIMIT 1", [upn]
    ).fetchone()
    complete = db.execute(
        "SELECT finished_at, files, folders, bytes, new, changed, unchanged, deleted,"
        " excluded_files, excluded_folders FROM scans"
        " WHERE upn = ? AND status = 'complete' ORDER BY id DESC LIMIT 1",
        [upn],
    ).fetchone()
    status = latest[0] if latest else "not scanned"
    wave_name = wave[0] if wave else None
    if complete is None:
        return UserSummary(upn, wave_name, status, None, findings=findings)
    return UserSummary(upn, wave_name, status, *complete, findings=findings)


def _findings_by_user(db: Database) -> dict[str, dict[str, int]]:
    by_user: dict[str, dict[str, int]] = {}
    rows = db.execute(
        "SELECT upn, kind, count(*) FROM findings WHERE stage = 'scan' GROUP BY upn, kind"
        " ORDER BY upn, kind"
    )
    for upn, kind, count in rows:
        by_user.setdefault(upn.lower(), {})[kind] = count
    return by_user
