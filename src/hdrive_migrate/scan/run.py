"""Scanning users: list each home folder, write the inventory in batches, hash what needs it,
and close the scan with its deltas. One user's trouble never stops the others."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.hashing import hash_stream
from hdrive_migrate.scan import inventory
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.findings import (
    STUB_BITS,
    folder_findings,
    has_bad_encoding,
    printable,
)
from hdrive_migrate.scan.walker import Listing, join, list_tree
from hdrive_migrate.sources import Entry, EntryError, Source
from hdrive_migrate.store import now_text, record_event, transaction

BATCH_ROWS = 2000
HASH_BATCH = 256
FOLDER_MISSING = "folder_missing"


@dataclass(frozen=True)
class ScanOptions:
    target_folder: str
    excludes: Excludes
    hashed: bool = False
    atime_trusted: bool = False
    workers: int = 8
    clock: Clock = SYSTEM_CLOCK  # the times scans, findings and the audit log record


@dataclass(frozen=True)
class ScanResult:
    upn: str
    scan_id: int
    status: str  # complete | failed
    counts: inventory.ScanCounts
    findings: int
    problem: str | None = None


class Progress:
    """Observer of a scan; the default ignores everything (non-terminal runs stay quiet)."""

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def start_user(self, upn: str) -> None: ...

    def listed(self, files: int, size: int) -> None: ...

    def hashed(self, files: int, size: int) -> None: ...


def scan_user(
    db: Database,
    source: Source,
    upn: str,
    folder: str,
    options: ScanOptions,
    progress: Progress | None = None,
) -> ScanResult:
    """Inventory one user's folder into `db`; a folder that cannot be listed fails this user
    only, with a finding that says why."""
    progress = progress or Progress()
    progress.start_user(upn)
    scan_id = inventory.begin_scan(
        db,
        upn,
        hashed=options.hashed,
        atime_trusted=options.atime_trusted,
        now=now_text(options.clock),
    )
    listings = list_tree(source, folder, descend=options.excludes.keep, workers=options.workers)
    first = next(listings)
    if first.error is not None:
        return _fail(db, upn, scan_id, first.error, now_text(options.clock))
    excluded = _write_listings(db, upn, scan_id, _chain(first, listings), options, progress)
    inventory.record_excluded(db, scan_id, *excluded)
    if options.hashed:
        _hash_pending(db, source, upn, folder, scan_id, options, progress)
    counts = inventory.finish_scan(db, upn, scan_id, now_text(options.clock))
    findings = _finding_count(db, upn)
    record_event(
        db,
        "scan",
        upn,
        {
            "scan_id": scan_id,
            "files": counts.files,
            "bytes": counts.bytes,
            "hashed": options.hashed,
        },
        at=options.clock.now(),
    )
    return ScanResult(upn, scan_id, "complete", counts, findings)


def _chain(first: Listing, rest: Iterator[Listing]) -> Iterator[Listing]:
    yield first
    yield from rest


def _fail(db: Database, upn: str, scan_id: int, error: EntryError, at: str) -> ScanResult:
    kind = FOLDER_MISSING if error.kind == "vanished" else error.kind
    inventory.write_batch(db, [], [(upn, scan_id, kind, "", error.detail, at)])
    inventory.fail_scan(db, scan_id, at)
    return ScanResult(upn, scan_id, "failed", inventory.ScanCounts(), 1, error.detail)


def _write_listings(
    db: Database,
    upn: str,
    scan_id: int,
    listings: Iterator[Listing],
    options: ScanOptions,
    progress: Progress,
) -> tuple[int, int]:
    """Write the inventory of LISTINGS; return the files and folders `[scan] exclude` left
    out."""
    rows: list[tuple] = []
    findings: list[tuple] = []
    files_out = folders_out = 0
    at = now_text(options.clock)
    for listing in listings:
        if listing.error is not None:
            path = printable(listing.folder)
            findings.append((upn, scan_id, listing.error.kind, path, listing.error.detail, at))
            inventory.keep_unseen_subtree(db, upn, scan_id, path)
            continue
        entries, files, folders = options.excludes.split(listing.folder, listing.entries)
        files_out, folders_out = files_out + files, folders_out + folders
        rows += _rows(upn, scan_id, listing.folder, entries)
        findings += [
            (upn, scan_id, kind, printable(path), detail, at)
            for path, kind, detail in folder_findings(
                listing.folder, entries, options.target_folder
            )
        ]
        size = sum(entry.size for entry in entries if not entry.is_dir)
        progress.listed(len(listing.entries), size)
        if len(rows) >= BATCH_ROWS:
            inventory.write_batch(db, rows, findings)
            rows, findings = [], []
    inventory.write_batch(db, rows, findings)
    return files_out, folders_out


def _rows(upn: str, scan_id: int, folder: str, entries: list[Entry]) -> list[tuple]:
    """Inventory rows for UPSERT_ENTRY; built in one pass, as this runs once per file."""
    prefix = f"{folder}/" if folder else ""
    names = prefix + "".join(entry.name for entry in entries)
    escape = printable if has_bad_encoding(names) else str
    return [
        (
            upn,
            escape(prefix + e.name),
            e.is_dir,
            e.size,
            e.created,
            e.modified,
            e.accessed,
            e.attributes,
            e.is_link,
            scan_id,
        )
        for e in entries
    ]


def _hash_pending(
    db: Database,
    source: Source,
    upn: str,
    folder: str,
    scan_id: int,
    options: ScanOptions,
    progress: Progress,
) -> None:
    """Hash every file of this scan that has no hash yet, in keyset-paged batches, so a killed
    run picks up where it stopped."""
    after = ""
    with ThreadPoolExecutor(options.workers) as pool:
        while batch := _unhashed(db, upn, scan_id, after):
            results = pool.map(lambda row: _hash_one(source, folder, *row), batch)
            _store_hashes(db, upn, scan_id, list(results), now_text(options.clock))
            progress.hashed(len(batch), sum(size for _, size in batch))
            after = batch[-1][0]


def _unhashed(db: Database, upn: str, scan_id: int, after: str) -> list[tuple[str, int]]:
    return db.execute(
        "SELECT path, size FROM files WHERE upn = ? AND seen_scan = ? AND path > ?"
        " AND is_dir = 0 AND link = 0 AND sha256 IS NULL AND change != 'deleted'"
        # A name that could not be decoded is stored escaped, and cannot be opened by it.
        " AND NOT EXISTS (SELECT 1 FROM findings g WHERE g.upn = files.upn"
        " AND g.path = files.path AND g.kind = 'bad_encoding')"
        " AND attributes & ? = 0 ORDER BY path LIMIT ?",
        [upn, scan_id, after, STUB_BITS, HASH_BATCH],
    ).fetchall()


def _hash_one(source: Source, folder: str, path: str, size: int):
    try:
        with source.open_file(join(folder, path)) as stream:
            return path, hash_stream(stream), None
    except EntryError as error:
        return path, None, error


def _store_hashes(db: Database, upn: str, scan_id: int, results: list, at: str) -> None:
    with transaction(db):
        for path, hashes, error in results:
            if error is not None:
                db.conn.execute(
                    inventory.UPSERT_FINDING, (upn, scan_id, error.kind, path, error.detail, at)
                )
                continue
            db.conn.execute(
                "UPDATE files SET sha256 = ?, quick_xor = ? WHERE upn = ? AND path = ?",
                (*hashes, upn, path),
            )


def _finding_count(db: Database, upn: str) -> int:
    return db.execute(
        "SELECT count(*) FROM findings WHERE upn = ? AND stage = 'scan'", [upn]
    ).fetchone()[0]
