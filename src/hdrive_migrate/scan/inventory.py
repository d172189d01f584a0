"""The scanner's writes to the workspace database: scans, inventory rows with their change
since the previous scan, and findings. Every write is an upsert, so a killed scan that runs
again converges on the same inventory."""

from dataclasses import dataclass

from sqlite_utils import Database

from hdrive_migrate.store import transaction

# `change` is judged once per scan, on first sight: a scan resumed after a kill keeps what its
# first attempt judged, instead of comparing a row with itself. A hash survives while size and
# modification time stay the same.
UPSERT_ENTRY = """
INSERT INTO files(upn, path, is_dir, size, created, modified, accessed, attributes, link,
                  seen_scan, change)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new')
ON CONFLICT(upn, path) DO UPDATE SET
    change = CASE
        WHEN files.seen_scan = excluded.seen_scan THEN files.change
        WHEN files.change = 'deleted' THEN 'new'
        WHEN files.size != excluded.size OR files.modified IS NOT excluded.modified
             OR files.is_dir != excluded.is_dir THEN 'changed'
        ELSE 'unchanged' END,
    sha256 = CASE WHEN files.size = excluded.size AND files.modified IS excluded.modified
                  THEN files.sha256 END,
    quick_xor = CASE WHEN files.size = excluded.size AND files.modified IS excluded.modified
                     THEN files.quick_xor END,
    is_dir = excluded.is_dir, size = excluded.size, created = excluded.created,
    modified = excluded.modified, accessed = excluded.accessed,
    attributes = excluded.attributes, link = excluded.link, seen_scan = excluded.seen_scan
"""

UPSERT_FINDING = """
INSERT INTO findings(upn, stage, scan_id, kind, path, detail, at)
VALUES (?, 'scan', ?, ?, ?, ?, ?)
ON CONFLICT(upn, stage, kind, path) DO UPDATE SET
    scan_id = excluded.scan_id, detail = excluded.detail, at = excluded.at
"""


@dataclass(frozen=True)
class ScanCounts:
    files: int = 0
    folders: int = 0
    bytes: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0


def begin_scan(db: Database, upn: str, *, hashed: bool, atime_trusted: bool, now: str) -> int:
    """The scan to write into: an unfinished one of this user's (a killed run resumes it), or a
    new one."""
    row = db.execute(
        "SELECT id FROM scans WHERE upn = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
        [upn],
    ).fetchone()
    with transaction(db):
        if row:
            db.execute("UPDATE scans SET hashed = max(hashed, ?) WHERE id = ?", [hashed, row[0]])
            return row[0]
        cursor = db.execute(
            "INSERT INTO scans(upn, status, hashed, atime_trusted, started_at)"
            " VALUES (?, 'running', ?, ?, ?)",
            [upn, hashed, atime_trusted, now],
        )
        return cursor.lastrowid


def write_batch(db: Database, entries: list[tuple], findings: list[tuple]) -> None:
    """Rows for UPSERT_ENTRY and UPSERT_FINDING, in one transaction."""
    with transaction(db):
        db.conn.executemany(UPSERT_ENTRY, entries)
        db.conn.executemany(UPSERT_FINDING, findings)


def keep_unseen_subtree(db: Database, upn: str, scan_id: int, folder: str) -> None:
    """A folder that could not be listed is not a deleted folder: keep what the last scan saw
    below it, marked 'unverified' rather than deleted."""
    with transaction(db):
        db.execute(
            "UPDATE files SET seen_scan = ?, change = 'unverified' WHERE upn = ?"
            " AND path >= ? AND path < ? AND change != 'deleted' AND seen_scan < ?",
            [scan_id, upn, folder + "/", folder + "0", scan_id],
        )


def finish_scan(db: Database, upn: str, scan_id: int, now: str) -> ScanCounts:
    """Mark what this scan did not see as deleted, drop older scan findings, store the counts."""
    with transaction(db):
        deleted = db.execute(
            "UPDATE files SET change = 'deleted', seen_scan = ? WHERE upn = ?"
            " AND seen_scan < ? AND change != 'deleted' AND is_dir = 0",
            [scan_id, upn, scan_id],
        ).rowcount
        db.execute(
            "UPDATE files SET change = 'deleted', seen_scan = ? WHERE upn = ?"
            " AND seen_scan < ? AND change != 'deleted'",
            [scan_id, upn, scan_id],
        )
        counts = _counts(db, upn, scan_id, deleted)
        db.execute(
            "DELETE FROM findings WHERE upn = ? AND stage = 'scan' AND scan_id != ?",
            [upn, scan_id],
        )
        db.execute(
            "UPDATE scans SET status = 'complete', finished_at = ?, files = ?, folders = ?,"
            " bytes = ?, new = ?, changed = ?, unchanged = ?, deleted = ? WHERE id = ?",
            [
                now,
                counts.files,
                counts.folders,
                counts.bytes,
                counts.new,
                counts.changed,
                counts.unchanged,
                counts.deleted,
                scan_id,
            ],
        )
    return counts


def record_excluded(db: Database, scan_id: int, files: int, folders: int) -> None:
    """How many files and folders `[scan] exclude` left out of the scan's listing. Set, not
    added: a killed scan lists everything again when it resumes."""
    with transaction(db):
        db.execute(
            "UPDATE scans SET excluded_files = ?, excluded_folders = ? WHERE id = ?",
            [files, folders, scan_id],
        )


def fail_scan(db: Database, scan_id: int, now: str) -> None:
    with transaction(db):
        db.execute(
            "UPDATE scans SET status = 'failed', finished_at = ? WHERE id = ?", [now, scan_id]
        )


def _counts(db: Database, upn: str, scan_id: int, deleted: int) -> ScanCounts:
    totals = {"files": 0, "folders": 0, "bytes": 0, "new": 0, "changed": 0, "unchanged": 0}
    rows = db.execute(
        "SELECT is_dir, change, count(*), total(size) FROM files"
        " WHERE upn = ? AND seen_scan = ? AND change != 'deleted' GROUP BY is_dir, change",
        [upn, scan_id],
    )
    for is_dir, change, count, size in rows:
        if is_dir:
            totals["folders"] += count
            continue
        totals["files"] += count
        totals["bytes"] += int(size)
        if change in totals:
            totals[change] += count
    return ScanCounts(**totals, deleted=deleted)
