"""The engine's writes to state.db: every step of a file's life as one statement, committed in
short BEGIN IMMEDIATE transactions that group the steps of all workers (group commit).

A step that must be on disk before the engine goes on (that a file is about to get an upload
session, before createUploadSession; a large file's sealed upload URL, before its first byte)
is awaited with `durable`; the rest (a small file's URL, chunk offsets, outcomes) are queued
with `later` and ride along with the next commit. Losing a queued step to a kill costs nothing:
the upload session, asked on restart, is the authority on offsets; a file whose outcome was
lost is found complete at its target path; a session whose URL was lost is known to be ours
(transfer.py, Orphaned sessions). Steps are applied in the order they were queued.
"""

import asyncio
from collections.abc import Sequence
from contextlib import suppress

from sqlite_utils import Database

from hdrive_migrate.store import transaction

# Queued steps committed together at most this far apart, and at least this many at once.
FLUSH_SECONDS = 0.25
FLUSH_STEPS = 500

Step = tuple[str, Sequence]


class Journal:
    """Group-committing writer on DB, used from one event loop (sqlite3 connections stay on
    the thread that made them; a commit is a few milliseconds)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queued: list[Step] = []
        self._waiters: list[asyncio.Future] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failure: BaseException | None = None

    async def __aenter__(self) -> "Journal":
        self._task = asyncio.create_task(self._flusher())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    def later(self, sql: str, params: Sequence) -> None:
        """Queue a step for the next commit."""
        self._raise_failure()
        self._queued.append((sql, params))
        if len(self._queued) >= FLUSH_STEPS:
            self._wake.set()

    async def durable(self, sql: str, params: Sequence) -> None:
        """Queue a step and return once it (and everything queued before it) is committed."""
        self._raise_failure()
        waiter = asyncio.get_running_loop().create_future()
        self._queued.append((sql, params))
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    def flush(self) -> None:
        """Commit everything queued, now, in one transaction."""
        steps, waiters = self._queued, self._waiters
        self._queued, self._waiters = [], []
        try:
            if steps:
                with transaction(self.db):
                    for sql, params in steps:
                        self.db.conn.execute(sql, params)
        except BaseException as exc:
            self._failure = exc
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            raise
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _flusher(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            # One turn of the loop lets the other workers queue their steps into this commit.
            await asyncio.sleep(0)
            try:
                self.flush()
            except Exception:
                return  # kept in _failure: every writer after it gets the error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


# The statements. Columns of transfers are described in store/migrations.py (migration 4).

OPENING = """
    INSERT INTO transfers(upn, path, state, target_path, label, source_size, source_modified,
                          partial_name, attempts, run_id, started_at)
    VALUES (?, ?, 'sending', ?, ?, ?, ?, ?, 1, ?, ?)
    ON CONFLICT(upn, path) DO UPDATE SET
        state = 'sending', target_path = excluded.target_path, label = excluded.label,
        source_size = excluded.source_size, source_modified = excluded.source_modified,
        session_sealed = NULL, session_expires = NULL, next_offset = NULL,
        partial_name = excluded.partial_name, attempts = transfers.attempts + 1,
        run_id = excluded.run_id, started_at = excluded.started_at, reason = NULL, detail = NULL
"""
"""(upn, path, target_path, label, size, modified, partial name or None, run_id, at): committed
before createUploadSession, so that a session the service opens is never one the workspace
has not heard of: a later 409 for the name, with nothing there, is then known to be ours."""

OPEN_SESSION = """
    UPDATE transfers SET target_path = ?, session_sealed = ?, session_expires = ?, next_offset = 0
    WHERE upn = ? AND path = ? AND state = 'sending'
"""
"""(target_path, sealed url, expires, upn, path), after OPENING."""

ADVANCE = """
    UPDATE transfers SET next_offset = ?, session_expires = COALESCE(?, session_expires)
    WHERE upn = ? AND path = ? AND state = 'sending'
"""
"""(next offset, expires or None, upn, path)"""

OUTCOME = """
    INSERT INTO transfers(upn, path, state, target_path, label, source_size, source_modified,
                          sha256, quick_xor, item_id, etag, ours, reason, detail, run_id,
                          started_at, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(upn, path) DO UPDATE SET
        state = excluded.state, target_path = excluded.target_path, label = excluded.label,
        source_size = COALESCE(excluded.source_size, transfers.source_size),
        source_modified = COALESCE(excluded.source_modified, transfers.source_modified),
        sha256 = COALESCE(excluded.sha256, transfers.sha256),
        quick_xor = COALESCE(excluded.quick_xor, transfers.quick_xor),
        item_id = COALESCE(excluded.item_id, transfers.item_id),
        etag = COALESCE(excluded.etag, transfers.etag),
        ours = CASE WHEN excluded.item_id IS NULL THEN transfers.ours ELSE excluded.ours END,
        reason = excluded.reason, detail = excluded.detail, run_id = excluded.run_id,
        started_at = COALESCE(transfers.started_at, excluded.started_at),
        finished_at = excluded.finished_at,
        session_sealed = NULL, session_expires = NULL, next_offset = NULL, partial_name = NULL
"""
"""(upn, path, state, target_path, label, size, modified, sha256, quick_xor, item_id, etag,
ours, reason, detail, run_id, started_at, finished_at). A failure keeps what an earlier upload
recorded (its item, hashes and source facts), so a file migrated once stays known as ours."""

REMOVED = """
    UPDATE transfers SET state = 'removed', run_id = ?, finished_at = ?, reason = NULL,
                         detail = 'deleted at the source; moved to the OneDrive recycle bin'
    WHERE upn = ? AND path = ?
"""

ABANDON_NEW = "DELETE FROM transfers WHERE upn = ? AND path = ? AND item_id IS NULL"
"""An abandoned upload of a file never uploaded before leaves no trace."""

ABANDON_KNOWN = """
    UPDATE transfers SET state = 'failed', reason = 'no-longer-planned', run_id = ?,
        finished_at = ?, session_sealed = NULL, session_expires = NULL, next_offset = NULL,
        partial_name = NULL, detail = 'its upload was cancelled: the file is no longer to migrate'
    WHERE upn = ? AND path = ? AND item_id IS NOT NULL
"""
"""An abandoned new version of a file uploaded before: the earlier version stays in OneDrive."""

SAVE_FOLDER = """
    INSERT INTO drive_folders(upn, path, item_id) VALUES (?, ?, ?)
    ON CONFLICT(upn, path) DO UPDATE SET item_id = excluded.item_id
"""

BLOCK_USER = """
    INSERT INTO user_blocks(upn, reason, detail, run_id, at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(upn) DO UPDATE SET reason = excluded.reason, detail = excluded.detail,
        run_id = excluded.run_id, at = excluded.at
"""

UNBLOCK_USER = "DELETE FROM user_blocks WHERE upn = ?"

SAVE_DRIVE = "UPDATE users SET drive_id = ? WHERE upn = ?"
