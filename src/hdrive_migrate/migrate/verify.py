"""`verify`: is every file the migration put in OneDrive still there, as it was sent?

Per user, the target folder is listed through Graph (`DriveClient.walk`, paged) into a
temporary table, so memory stays flat whatever the drive's size; then every transfer with a
good outcome (migrated, skipped-identical, renamed) is looked up by its target path, compared
with the size and QuickXorHash recorded when it was sent, and marked `ok`, `missing` or
`changed` (transfers.verify_result, verified_at). Files in the folder that no transfer put
there are `unexpected`: reported, since the user or someone else may have added them, but not
an error. Each user's check is one verify_runs row with its findings, like `rclone check` but
stored. OneDrive compares names without regard to case, and so does this.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock, stored_time
from hdrive_migrate.config import Config
from hdrive_migrate.graph.drive import DriveClient, DriveItem
from hdrive_migrate.graph.errors import NoDrive
from hdrive_migrate.migrate.status import GOOD
from hdrive_migrate.store import record_event, transaction
from hdrive_migrate.users.roster import User, select_users
from hdrive_migrate.workspace import Workspace

OK, MISSING, CHANGED, UNEXPECTED = "ok", "missing", "changed", "unexpected"
BATCH = 1000  # listed items written to the temporary table at a time

_SEEN = """
    CREATE TEMP TABLE IF NOT EXISTS verify_seen(
        key TEXT PRIMARY KEY, path TEXT NOT NULL, item_id TEXT NOT NULL, size INTEGER NOT NULL,
        quick_xor TEXT, expected INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID
"""
_SEEN_BY_ID = "CREATE INDEX IF NOT EXISTS temp.verify_seen_by_id ON verify_seen(item_id)"


@dataclass(frozen=True)
class Sent:
    """What a transfer recorded of a file it put in OneDrive."""

    target_path: str
    size: int | None
    quick_xor: str | None
    item_id: str | None


@dataclass(frozen=True)
class Listed:
    """A file found in the target folder."""

    path: str
    item_id: str
    size: int
    quick_xor: str | None


@dataclass(frozen=True)
class UserCheck:
    """One user's verification: the verify_runs row's counts."""

    upn: str
    verify_id: int
    checked: int
    ok: int
    missing: int
    changed: int
    unexpected: int

    @property
    def intact(self) -> bool:
        return not (self.missing or self.changed)


def path_key(path: str) -> str:
    """PATH as OneDrive compares it: case-insensitively (Unicode case folding)."""
    return path.casefold()


def judge(sent: Sent, found: Listed | None, moved: Listed | None = None) -> tuple[str, str]:
    """(result, detail) for SENT given what is at its target path (FOUND) and, when nothing
    is, the item with its id elsewhere in the folder (MOVED). A hash is compared only when both
    sides have one (the service gives none for some empty files); sizes always."""
    if found is None:
        if moved is not None:
            return MISSING, f"moved within OneDrive to {moved.path}"
        return MISSING, "no file at the target path: deleted, moved or renamed in OneDrive"
    if sent.size is not None and found.size != sent.size:
        return CHANGED, f"size {found.size:,} bytes, {sent.size:,} when sent"
    if sent.quick_xor and found.quick_xor and found.quick_xor != sent.quick_xor:
        return CHANGED, "same size, different content (QuickXorHash differs from the one sent)"
    return OK, ""


@asynccontextmanager
async def open_drive(
    config: Config, clock: Clock = SYSTEM_CLOCK, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[DriveClient]:
    """A DriveClient on its own connection, pacer and caller, paced by [migrate]'s quotas as
    the engine's is."""
    # Imported here: the Graph stack is loaded only by commands that talk to Graph.
    from hdrive_migrate.graph.caller import GraphCaller
    from hdrive_migrate.graph.client import GraphConnection
    from hdrive_migrate.graph.pacer import Pacer

    quotas = config.migrate
    pacer = Pacer(quotas.quota_ru_per_minute, quotas.quota_ru_per_day, clock=clock)
    async with GraphConnection(config.graph, transport=transport) as graph:
        yield DriveClient(GraphCaller(graph, pacer, clock=clock))


async def verify_users(
    workspace: Workspace,
    *,
    wave: str | None = None,
    upn: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[UserCheck]:
    """Verify the users of WAVE, or the user UPN, or everyone, one after another in UPN order;
    record each check and the run in the audit log."""
    users = select_users(workspace.db, wave=wave, upn=upn)
    async with open_drive(workspace.config, clock, transport) as drive:
        checks = [await verify_user(workspace.db, drive, person, clock) for person in users]
    detail = {
        "wave": wave,
        "user": upn,
        "users": len(checks),
        "intact": sum(check.intact for check in checks),
    }
    record_event(workspace.db, "verify", wave or upn or "all users", detail)
    return checks


async def verify_user(db: Database, drive: DriveClient, person: User, clock: Clock) -> UserCheck:
    """List PERSON's target folders and check their transfers against the listing."""
    upn = person.upn
    started = stored_time(clock.now())
    verify_id = (
        db["verify_runs"].insert({"upn": upn, "started_at": started, "status": "running"}).last_pk
    )
    try:
        await _list_targets(db, drive, person)
        return _record(db, upn, verify_id, clock)
    except BaseException:
        with transaction(db):
            db.execute(
                "UPDATE verify_runs SET status = 'failed', finished_at = ? WHERE id = ?",
                [stored_time(clock.now()), verify_id],
            )
        raise


async def _list_targets(db: Database, drive: DriveClient, person: User) -> None:
    """Fill the temporary table verify_seen with every file under PERSON's target folders.
    A user without a OneDrive any more has nothing there."""
    db.execute(_SEEN)
    db.execute(_SEEN_BY_ID)
    db.execute("DELETE FROM verify_seen")
    try:
        drive_id = person.drive_id or await drive.drive_id(person.upn)
    except NoDrive:
        return
    for root in target_roots(db, person.upn):
        batch: list[Listed] = []
        async for relative, item in drive.walk(drive_id, root):
            if not item.is_folder:
                batch.append(_listed(f"{root}/{relative}", item))
            if len(batch) >= BATCH:
                _remember(db, batch)
                batch = []
        _remember(db, batch)


def _listed(path: str, item: DriveItem) -> Listed:
    return Listed(path, item.id, item.size, item.quick_xor)


def _remember(db: Database, batch: list[Listed]) -> None:
    with transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO verify_seen(key, path, item_id, size, quick_xor)"
            " VALUES (?, ?, ?, ?, ?)",
            [(path_key(i.path), i.path, i.item_id, i.size, i.quick_xor) for i in batch],
        )


def target_roots(db: Database, upn: str) -> list[str]:
    """The top folders UPN's files were sent to, and their current plan's target folder."""
    sent = db.execute(
        "SELECT DISTINCT substr(target_path, 1, instr(target_path, '/') - 1) FROM transfers"
        " WHERE upn = ? AND instr(target_path, '/') > 0",
        [upn],
    ).fetchall()
    planned = db.execute(
        "SELECT target_folder FROM plan_users JOIN plan_runs ON plan_runs.id = plan_users.run_id"
        " WHERE plan_users.upn = ?",
        [upn],
    ).fetchall()
    roots = {path_key(root): root for (root,) in [*planned, *sent] if root}
    return sorted(roots.values())


def _record(db: Database, upn: str, verify_id: int, clock: Clock) -> UserCheck:
    """Judge UPN's sent files against verify_seen and write the results in one transaction."""
    now = stored_time(clock.now())
    counts = {OK: 0, MISSING: 0, CHANGED: 0, UNEXPECTED: 0}
    with transaction(db):
        results: list[tuple[str, str, str, str]] = []
        for path, sent in _sent_files(db, upn):
            result, detail = judge(sent, *_found(db, sent))
            counts[result] += 1
            results.append((result, now, upn, path))
            if result != OK:
                _finding(db, verify_id, upn, sent.target_path, result, detail)
        db.conn.executemany(
            "UPDATE transfers SET verify_result = ?, verified_at = ? WHERE upn = ? AND path = ?",
            results,
        )
        _mark_expected(db, upn)
        for path, size in db.execute(
            "SELECT path, size FROM verify_seen WHERE NOT expected ORDER BY key"
        ).fetchall():
            counts[UNEXPECTED] += 1
            detail = f"{size:,} bytes, not put there by hdrive-migrate"
            _finding(db, verify_id, upn, path, UNEXPECTED, detail)
        checked = counts[OK] + counts[MISSING] + counts[CHANGED]
        db.execute(
            "UPDATE verify_runs SET finished_at = ?, status = 'complete', checked = ?, ok = ?,"
            " missing = ?, changed = ?, unexpected = ? WHERE id = ?",
            [now, checked, counts[OK], counts[MISSING], counts[CHANGED], counts[UNEXPECTED],
             verify_id],
        )  # fmt: skip
    db.execute("DELETE FROM verify_seen")
    return UserCheck(upn, verify_id, checked, *counts.values())


def _sent_files(db: Database, upn: str) -> Iterator[tuple[str, Sent]]:
    rows = db.execute(
        f"SELECT path, target_path, source_size, quick_xor, item_id FROM transfers"
        f" WHERE upn = ? AND state IN ({', '.join('?' * len(GOOD))}) ORDER BY path",
        [upn, *GOOD],
    )
    for path, *sent in rows:
        yield path, Sent(*sent)


def _found(db: Database, sent: Sent) -> tuple[Listed | None, Listed | None]:
    """What is at SENT's target path, and else where its item went."""
    columns = "path, item_id, size, quick_xor"
    at = db.execute(
        f"SELECT {columns} FROM verify_seen WHERE key = ?", [path_key(sent.target_path)]
    ).fetchone()
    if at is not None or sent.item_id is None:
        return (Listed(*at) if at else None), None
    moved = db.execute(
        f"SELECT {columns} FROM verify_seen WHERE item_id = ?", [sent.item_id]
    ).fetchone()
    return None, Listed(*moved) if moved else None


def _mark_expected(db: Database, upn: str) -> None:
    """Mark every listed file some transfer of UPN put (or was putting) at its path or that
    still carries the id of an item a transfer made."""
    for target, item_id in db.execute(
        "SELECT target_path, item_id FROM transfers WHERE upn = ?", [upn]
    ):
        db.execute(
            "UPDATE verify_seen SET expected = 1 WHERE key = ? OR item_id = ?",
            [path_key(target), item_id],
        )


def _finding(db: Database, verify_id: int, upn: str, path: str, kind: str, detail: str) -> None:
    db.execute(
        "INSERT INTO verify_findings(verify_id, upn, target_path, kind, detail)"
        " VALUES (?, ?, ?, ?, ?)",
        [verify_id, upn, path, kind, detail],
    )
