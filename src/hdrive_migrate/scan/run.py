"""Scanning users: list each home folder, write the inventory in batches, hash what needs it,
and close the scan with its deltas. One user's trouble never stops the others.

`scan_users` lists in lister processes beside this one, which only writes; `scan_user` lists
one user in this process, for callers that hold a Source object rather than a way to open one.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.hashing import hash_stream
from hdrive_migrate.scan import inventory
from hdrive_migrate.scan.batches import Batch, ListingPlan, TopUnreadable, user_batches
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.findings import STUB_BITS
from hdrive_migrate.scan.listers import Finished, ListerPool, default_listers, rare_collections
from hdrive_migrate.scan.walker import join
from hdrive_migrate.sources import EntryError, Source
from hdrive_migrate.store import now_text, record_event, transaction

HASH_BATCH = 256
FOLDER_MISSING = "folder_missing"


@dataclass(frozen=True)
class ScanOptions:
    target_folder: str
    excludes: Excludes
    hashed: bool = False
    atime_trusted: bool = False
    workers: int = 8  # threads listing one user's folders at once, and hashing
    listers: int | None = None  # lister processes for scan_users; None: one per core
    clock: Clock = SYSTEM_CLOCK  # the times scans, findings and the audit log record

    def listing_plan(self) -> ListingPlan:
        return ListingPlan(self.target_folder, self.excludes, self.workers)


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


@dataclass
class _UserScan:
    upn: str
    folder: str
    scan_id: int
    excluded: list[int] = field(default_factory=lambda: [0, 0])  # files, folders left out
    # Files, folders and bytes written so far, kept when the inventory held none of the
    # user's rows before (inventory.holds_no_rows), else None: the database counts them.
    written: list[int] | None = None


def scan_users(
    db: Database,
    source: Source,
    open_source: Callable[[], Source],
    users: list[tuple[str, str]],
    options: ScanOptions,
    progress: Progress | None = None,
) -> list[ScanResult]:
    """Inventory each (upn, folder) of USERS into `db`, in that order of results. Folders are
    listed by `options.listers` processes, each through its own source from OPEN_SOURCE; this
    process writes, and hashes through SOURCE. A lost source raises SourceError."""
    progress = progress or Progress()
    listers = max(1, min(options.listers or default_listers(), len(users)))
    results: dict[int, ScanResult] = {}
    queued = iter(enumerate(users))
    active: dict[int, _UserScan] = {}
    with inventory.scan_writes(db), rare_collections():
        pool = ListerPool(open_source, options.listing_plan(), listers)
        try:
            # One user waiting for each lister that finishes, so none stands idle.
            for _ in range(listers + 1):
                _hand_out(db, pool, queued, active, options, progress)
            for message in pool.results() if active else ():
                user = active[message.index]
                if not isinstance(message, Finished):
                    _write(db, user, message.batch, options, progress)
                    continue
                results[message.index] = _finish(db, source, user, message.top, options, progress)
                del active[message.index]
                _hand_out(db, pool, queued, active, options, progress)
                if not active:
                    break
        finally:
            pool.close()
    return [results[index] for index in range(len(users))]


def _hand_out(db, pool: ListerPool, queued, active: dict, options: ScanOptions, progress) -> None:
    """Begin the next user's scan and give their folder to the listers, if any is left."""
    for index, (upn, folder) in queued:
        active[index] = _begin(db, upn, folder, options, progress)
        pool.list_user(index, folder)
        return


def scan_user(
    db: Database,
    source: Source,
    upn: str,
    folder: str,
    options: ScanOptions,
    progress: Progress | None = None,
) -> ScanResult:
    """Inventory one user's folder into `db`, listing it in this process; a folder that cannot
    be listed fails this user only, with a finding that says why."""
    progress = progress or Progress()
    with inventory.scan_writes(db):
        user = _begin(db, upn, folder, options, progress)
        top = None
        for batch in user_batches(source, folder, options.listing_plan()):
            if isinstance(batch, TopUnreadable):
                top = batch
            else:
                _write(db, user, batch, options, progress)
        return _finish(db, source, user, top, options, progress)


def _begin(db: Database, upn: str, folder: str, options: ScanOptions, progress) -> _UserScan:
    progress.start_user(upn)
    first = inventory.holds_no_rows(db, upn)
    scan_id = inventory.begin_scan(
        db,
        upn,
        hashed=options.hashed,
        atime_trusted=options.atime_trusted,
        now=now_text(options.clock),
    )
    return _UserScan(upn, folder, scan_id, written=[0, 0, 0] if first else None)


def _write(
    db: Database, user: _UserScan, batch: Batch, options: ScanOptions, progress: Progress
) -> None:
    at = now_text(options.clock)
    findings = [
        (user.upn, user.scan_id, kind, path, detail, at) for kind, path, detail in batch.findings
    ]
    findings += [
        (user.upn, user.scan_id, kind, path, detail, at) for path, kind, detail in batch.unreadable
    ]
    unseen = [path for path, _, _ in batch.unreadable]
    inventory.write_batch(db, user.upn, user.scan_id, batch.values, findings, unseen)
    user.excluded[0] += batch.excluded_files
    user.excluded[1] += batch.excluded_folders
    if user.written is not None:
        user.written[0] += batch.row_count - batch.folders
        user.written[1] += batch.folders
        user.written[2] += batch.size
    progress.listed(batch.listed, batch.size)


def _finish(
    db: Database,
    source: Source,
    user: _UserScan,
    top: TopUnreadable | None,
    options: ScanOptions,
    progress: Progress,
) -> ScanResult:
    """The user's result once their listing is written: failed when their folder could not be
    listed; else hashed when asked, then closed with its deltas."""
    if top is not None:
        return _fail(db, user, top, now_text(options.clock))
    inventory.record_excluded(db, user.scan_id, *user.excluded)
    if options.hashed:
        _hash_pending(db, source, user.upn, user.folder, user.scan_id, options, progress)
    listed = inventory.first_counts(*user.written) if user.written is not None else None
    counts = inventory.finish_scan(db, user.upn, user.scan_id, now_text(options.clock), listed)
    findings = _finding_count(db, user.upn)
    record_event(
        db,
        "scan",
        user.upn,
        {
            "scan_id": user.scan_id,
            "files": counts.files,
            "bytes": counts.bytes,
            "hashed": options.hashed,
        },
        at=options.clock.now(),
    )
    return ScanResult(user.upn, user.scan_id, "complete", counts, findings)


def _fail(db: Database, user: _UserScan, top: TopUnreadable, at: str) -> ScanResult:
    kind = FOLDER_MISSING if top.kind == "vanished" else top.kind
    finding = (user.upn, user.scan_id, kind, "", top.detail, at)
    inventory.write_batch(db, user.upn, user.scan_id, [], [finding])
    inventory.fail_scan(db, user.scan_id, at)
    return ScanResult(user.upn, user.scan_id, "failed", inventory.ScanCounts(), 1, top.detail)


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
