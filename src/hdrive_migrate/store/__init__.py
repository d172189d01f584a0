"""The workspace database, state.db: schema by versioned migrations, and the audit log."""

import getpass
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from hdrive_migrate import __version__
from hdrive_migrate.clock import SYSTEM_CLOCK, Clock, stored_time
from hdrive_migrate.config import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV
from hdrive_migrate.errors import WorkspaceError
from hdrive_migrate.store.chain import GENESIS, event_hash
from hdrive_migrate.store.migrations import MIGRATIONS, Migration

# Keys an event detail must never carry: the audit log is kept for years and read by people.
_SECRET_WORDS = ("secret", "password", "token", "credential")


def open_store(path: Path, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Database:
    """Open (creating if need be) the database at PATH in WAL mode with foreign keys enforced,
    and bring its schema up to date. A database the tool cannot use raises WorkspaceError.

    A write waits up to LOCK_TIMEOUT seconds while another connection holds the write lock,
    then raises sqlite3.OperationalError (is_locked; locked_error says it for people)."""
    try:
        # No sqlite-utils plugins: none is wanted on the workspace database, and looking for
        # them reads every installed package's metadata, a tenth of `status`'s start-up.
        db = Database(path, execute_plugins=False)
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from exc
    try:
        db.execute(f"PRAGMA busy_timeout = {round(lock_timeout * 1000)}")
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except sqlite3.DatabaseError as exc:
        error = locked_error(db) if is_locked(exc) else _unusable(path, exc)
        db.close()
        raise error from exc
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations DB lacks, each with its user_version bump in one transaction, and
    return the version reached. A database from a newer tool raises WorkspaceError."""
    _refuse_newer(db, len(migrations))
    while (version := user_version(db)) < len(migrations):
        with transaction(db):
            # Another process may have migrated between our read and taking the write lock.
            version = user_version(db)
            if version < len(migrations):
                migrations[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
    return version


def user_version(db: Database) -> int:
    """The number of migrations applied to DB."""
    return db.execute("PRAGMA user_version").fetchone()[0]


def now_text(clock: Clock = SYSTEM_CLOCK) -> str:
    """Now by CLOCK, as the workspace stores times: UTC ISO 8601 to the second."""
    return stored_time(clock.now())


def record_event(
    db: Database,
    action: str,
    subject: str,
    detail: dict | None = None,
    *,
    actor: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append to the audit log who (ACTOR, default the OS user) did ACTION to SUBJECT when (AT,
    default now by SYSTEM_CLOCK, stored as UTC ISO 8601), with DETAIL as JSON; return the event id.

    The entry is chained to the one before (store/chain.py): the last entry is read and the
    new one written under one write lock, in the caller's transaction when one is open (it
    then holds the lock: store.transaction() begins IMMEDIATE, and an implicit transaction
    has written already), else in a BEGIN IMMEDIATE of its own. So two processes writing at
    once still make one chain.

    DETAIL must hold no secrets: keys naming a secret, password, token or credential raise
    ValueError.
    """
    _refuse_secrets(detail or {})
    moment = (at or SYSTEM_CLOCK.now()).astimezone(UTC)
    fields = (
        moment.isoformat(timespec="milliseconds"),
        actor or os_user(),
        action,
        subject,
        json.dumps(detail or {}, sort_keys=True, ensure_ascii=False),
    )
    if db.conn.in_transaction:
        return _append_event(db, fields)
    with transaction(db):
        return _append_event(db, fields)


def _append_event(db: Database, fields: tuple) -> int:
    """Insert the entry of FIELDS (at, actor, action, subject, detail) after the last one,
    chained to it, and move events_head to it. The caller holds the write lock."""
    head = db.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    event_id, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    digest = event_hash((event_id, *fields), prev)
    db.execute(
        "INSERT INTO events(id, at, actor, action, subject, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [event_id, *fields, prev, digest],
    )
    db.execute("UPDATE events_head SET id = ?, hash = ? WHERE one = 1", [event_id, digest])
    return event_id


@contextmanager
def transaction(db: Database) -> Iterator[None]:
    """One transaction that takes SQLite's write lock before it reads (BEGIN IMMEDIATE), so
    nothing it checked can change before it writes; committed at the end of the block, rolled
    back on error. (`with db.conn:` is not enough: sqlite-utils commits each `db.execute`
    made outside an open transaction.)"""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


def is_locked(exc: BaseException | None) -> bool:
    """True when EXC is SQLite giving up on a lock another connection held for longer than the
    busy timeout (SQLITE_BUSY, "database is locked")."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and (
            code & 0xFF
            == sqlite3.SQLITE_BUSY  # the low byte: extended codes refine the primary one
        )
    )


def locked_error(db: Database) -> WorkspaceError:
    """What to tell people when a statement on DB waited its whole busy timeout for the lock."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    waited = db.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    return WorkspaceError(
        f"another hdrive-migrate command is writing to this workspace; waited {waited:g} s for "
        "it to finish",
        fix=f"let that command finish (or stop it), then run this one again; {LOCK_TIMEOUT_ENV} "
        f"sets how many seconds to wait (default {DEFAULT_LOCK_TIMEOUT:g})",
        where=path,
    )


def _refuse_newer(db: Database, known: int) -> None:
    version = user_version(db)
    if version > known:
        path = db.execute("PRAGMA database_list").fetchone()[2]
        raise WorkspaceError(
            f"the database has schema version {version}, but hdrive-migrate {__version__} "
            f"knows versions up to {known}",
            fix="upgrade hdrive-migrate to the version that last used this workspace",
            where=path,
        )


def _refuse_secrets(detail: object) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            if any(word in str(key).lower() for word in _SECRET_WORDS):
                raise ValueError(f"event detail key {key!r} looks like a secret")
            _refuse_secrets(value)
    elif isinstance(detail, list | tuple):
        for value in detail:
            _refuse_secrets(value)


def os_user() -> str:
    """Who runs this process, as the audit log and migrate_runs.operator name them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # Containers may run as a uid with no passwd entry and no USER variable.
        return f"uid:{os.getuid()}"


def _unusable(path: Path, exc: sqlite3.Error) -> WorkspaceError:
    return WorkspaceError(
        f"cannot use the workspace database: {exc}",
        fix="check the file is the state.db hdrive-migrate created and is writable; "
        "restore it from backup if it is damaged",
        where=str(path),
    )
