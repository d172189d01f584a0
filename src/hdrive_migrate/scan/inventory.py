"""The scanner's writes to the workspace database: scans, inventory rows with their change
since the previous scan, and findings.

A listing streams in as batches of thousands of rows. Each batch goes into a staging table
with executemany (a hundred rows per statement), and one set-based statement merges it into
`files`, judging every row against what the previous completed scan left there: new, changed
or unchanged. Once the listing is over, what the scan did not see is marked deleted, again in
one statement. A killed scan that runs again converges on the same inventory: a row this scan
has already judged keeps its judgement, instead of being compared with itself."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlite_utils import Database

from hdrive_migrate.store import transaction

# One batch of listed entries on its way into `files`, as the listers built them. TEMP: it
# lives in this connection only, so a killed scan leaves nothing behind to clean up.
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS scan_batch(
    path TEXT NOT NULL, is_dir INTEGER NOT NULL, size INTEGER NOT NULL, created REAL,
    modified REAL, accessed REAL, attributes INTEGER NOT NULL, link INTEGER NOT NULL)
"""
ROW_WIDTH = 8  # values in a staged row, as STAGING lists them
ROW_VALUES = "(" + ", ".join(["?"] * ROW_WIDTH) + ")"
STAGE_ROWS = f"INSERT INTO temp.scan_batch VALUES {ROW_VALUES}"
# Rows staged per statement: one statement binding a hundred rows costs about half as much per
# row as a hundred statements of one.
STAGE_CHUNK = 100
STAGE_CHUNKS = "INSERT INTO temp.scan_batch VALUES " + ", ".join([ROW_VALUES] * STAGE_CHUNK)

# `change` is judged once per scan, on first sight (a scan resumed after a kill keeps what its
# first attempt judged); a row the previous scan marked deleted is new again. A hash survives
# while size and modification time stay the same. (`WHERE true` lets SQLite read ON CONFLICT
# as the upsert clause rather than as part of the SELECT's join.)
MERGE_BATCH = """
INSERT INTO files(upn, path, is_dir, size, created, modified, accessed, attributes, link,
                  seen_scan, change)
SELECT :upn, path, is_dir, size, created, modified, accessed, attributes, link, :scan, 'new'
FROM temp.scan_batch WHERE true
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


def write_batch(
    db: Database,
    upn: str,
    scan_id: int,
    values: list,
    findings: list[tuple],
    unseen: Sequence[str] = (),
) -> None:
    """In one transaction: VALUES, rows of ROW_WIDTH (path, is_dir, size, created, modified,
    accessed, attributes, link) laid end to end, staged and merged into UPN's inventory for
    scan SCAN_ID, FINDINGS rows for UPSERT_FINDING, and what the last scan saw below each
    UNSEEN folder (one that could not be listed) kept as unverified."""
    with transaction(db):
        if values:
            _stage(db, values)
            db.conn.execute(MERGE_BATCH, {"upn": upn, "scan": scan_id})
            # Without a WHERE, SQLite empties the table at once instead of row by row.
            db.conn.execute("DELETE FROM temp.scan_batch")
        db.conn.executemany(UPSERT_FINDING, findings)
        for folder in unseen:
            _keep_unseen_subtree(db, upn, scan_id, folder)


def _stage(db: Database, values: list) -> None:
    width = ROW_WIDTH * STAGE_CHUNK
    whole = len(values) - len(values) % width
    db.conn.executemany(STAGE_CHUNKS, [values[at : at + width] for at in range(0, whole, width)])
    rest = range(whole, len(values), ROW_WIDTH)
    db.conn.executemany(STAGE_ROWS, [values[at : at + ROW_WIDTH] for at in rest])


@contextmanager
def scan_writes(db: Database) -> Iterator[None]:
    """The connection set up for a scan's stream of batches: the staging table, and commits
    that do not wait for the disk (a scan cut short by a power cut is resumed like a killed one,
    so its last batches need not survive one), restored afterwards."""
    synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
    # Set before the staging table exists: changing it drops TEMP tables.
    db.execute("PRAGMA temp_store = MEMORY")
    db.execute(STAGING)
    db.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        if db.conn.in_transaction:
            # Ctrl-C can land between BEGIN and the block that would roll it back; what was
            # not committed is listed again when the scan resumes.
            db.conn.rollback()
        db.execute(f"PRAGMA synchronous = {synchronous}")


def _keep_unseen_subtree(db: Database, upn: str, scan_id: int, folder: str) -> None:
    """A folder that could not be listed is not a deleted folder: keep what the last scan saw
    below it, marked 'unverified' rather than deleted."""
    db.execute(
        "UPDATE files SET seen_scan = ?, change = 'unverified' WHERE upn = ?"
        " AND path >= ? AND path < ? AND change != 'deleted' AND seen_scan < ?",
        [scan_id, upn, folder + "/", folder + "0", scan_id],
    )


def finish_scan(
    db: Database, upn: str, scan_id: int, now: str, listed: ScanCounts | None = None
) -> ScanCounts:
    """Mark what this scan did not see as deleted (in one statement: taking `seen_scan`, they
    count among this scan's rows), drop older scan findings, store the counts. LISTED is what
    a scan into an inventory that held none of UPN's rows listed (`first_counts`): every row is
    new, none unseen, and the pass over the user's rows is skipped."""
    with transaction(db):
        if listed is None:
            db.execute(
                "UPDATE files SET change = 'deleted', seen_scan = ? WHERE upn = ?"
                " AND seen_scan < ? AND change != 'deleted'",
                [scan_id, upn, scan_id],
            )
        counts = inventory_counts(db, upn, scan_id) if listed is None else listed
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


def holds_no_rows(db: Database, upn: str) -> bool:
    """True when the inventory has no row of UPN: neither an earlier scan nor a killed attempt
    at this one left any, so what this scan lists is all of it, and all of it new."""
    return db.execute("SELECT 1 FROM files WHERE upn = ? LIMIT 1", [upn]).fetchone() is None


def first_counts(files: int, folders: int, size: int) -> ScanCounts:
    """The counts of a scan into an inventory that held no row of the user (holds_no_rows)."""
    return ScanCounts(files=files, folders=folders, bytes=size, new=files)


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


def inventory_counts(db: Database, upn: str, scan_id: int) -> ScanCounts:
    """This scan's totals; files it found deleted count only as deleted."""
    totals = dict.fromkeys(("files", "folders", "bytes", "new", "changed", "unchanged"), 0)
    deleted = 0
    rows = db.execute(
        "SELECT is_dir, change, count(*), total(size) FROM files"
        " WHERE upn = ? AND seen_scan = ? GROUP BY is_dir, change",
        [upn, scan_id],
    )
    for is_dir, change, count, size in rows:
        if change == "deleted":
            deleted += 0 if is_dir else count
        elif is_dir:
            totals["folders"] += count
        else:
            totals["files"] += count
            totals["bytes"] += int(size)
            if change in totals:
                totals[change] += count
    return ScanCounts(**totals, deleted=deleted)
