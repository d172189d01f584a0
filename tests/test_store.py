"""state.db: WAL, foreign keys, versioned migrations in transactions, and the audit log."""

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlite_utils import Database

from hdrive_migrate import __version__
from hdrive_migrate.errors import WorkspaceError
from hdrive_migrate.store import (
    is_locked,
    locked_error,
    migrate,
    open_store,
    record_event,
    transaction,
    user_version,
)
from hdrive_migrate.store.migrations import MIGRATIONS


@pytest.fixture
def db(tmp_path):
    database = open_store(tmp_path / "state.db")
    yield database
    database.close()


def test_new_store_is_migrated_in_wal_mode_with_foreign_keys(db):
    assert user_version(db) == len(MIGRATIONS)
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"meta", "events"} <= set(db.table_names())


def test_meta_records_the_tool_version_and_creation_time(db):
    meta = {row["key"]: row["value"] for row in db["meta"].rows}
    assert meta["tool_version"] == __version__
    created = datetime.fromisoformat(meta["created_at"])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def test_reopening_applies_nothing_twice(tmp_path):
    open_store(tmp_path / "state.db").close()
    db = open_store(tmp_path / "state.db")
    assert user_version(db) == len(MIGRATIONS)
    assert db["meta"].count == 2
    db.close()


def test_a_failed_migration_leaves_neither_its_changes_nor_its_version(tmp_path):
    db = Database(tmp_path / "state.db")

    def broken(database):
        database["half_done"].create({"id": int}, pk="id")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError):
        migrate(db, [*MIGRATIONS, broken])
    assert user_version(db) == len(MIGRATIONS)
    assert "half_done" not in db.table_names()
    assert "events" in db.table_names()


def test_a_database_from_a_newer_tool_is_refused(tmp_path):
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(WorkspaceError) as caught:
        open_store(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: the database has schema version {len(MIGRATIONS) + 1}")
    assert "Fix: upgrade hdrive-migrate" in message


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="cannot use the workspace database"):
        open_store(path)


def test_event_records_who_did_what_when(db):
    at = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    event_id = record_event(
        db, "file.uploaded", "alice/report.docx", {"bytes": 12}, actor="migrator", at=at
    )
    row = db["events"].get(event_id)
    assert row["at"] == "2025-03-01T08:30:00.000+00:00"
    assert row["actor"] == "migrator"
    assert (row["action"], row["subject"]) == ("file.uploaded", "alice/report.docx")
    assert json.loads(row["detail"]) == {"bytes": 12}


def test_event_actor_defaults_to_the_os_user(db, monkeypatch):
    monkeypatch.setenv("LOGNAME", "operator7")
    event_id = record_event(db, "workspace.opened", "/srv/ws")
    assert db["events"].get(event_id)["actor"] == "operator7"


@pytest.mark.parametrize(
    "detail",
    [
        {"client_secret": "x"},
        {"settings": {"Password": "x"}},
        {"calls": [{"access_token": "x"}]},
    ],
)
def test_event_details_refuse_secrets(db, detail):
    with pytest.raises(ValueError, match="looks like a secret"):
        record_event(db, "tenant.check", "https://graph.microsoft.com/v1.0", detail)
    assert db["events"].count == 0


def test_a_write_waits_the_lock_timeout_then_says_who_holds_the_lock(tmp_path):
    path = tmp_path / "state.db"
    open_store(path).close()
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # another command, part-way through its writes
    db = open_store(path, lock_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError) as caught, transaction(db):
        pass
    waited = time.monotonic() - started
    assert is_locked(caught.value)
    assert 0.3 <= waited < 5  # the timeout given, not SQLite's or Python's default
    assert str(locked_error(db)) == (
        f"{path}: another hdrive-migrate command is writing to this workspace; waited 0.3 s for "
        "it to finish. Fix: let that command finish (or stop it), then run this one again; "
        "HDRIVE_LOCK_TIMEOUT sets how many seconds to wait (default 30)"
    )
    other.rollback()
    with transaction(db):
        record_event(db, "test.written", "after the lock was released")
    db.close()
    other.close()


def test_other_errors_are_not_taken_for_a_lock(db):
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.execute("SELECT * FROM no_such_table")
    assert not is_locked(caught.value)
    assert not is_locked(None)
