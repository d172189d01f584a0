"""Schema changes of state.db, in order; migration N brings the database to user_version N.

Append new migrations; never edit one that has shipped, because databases already carry it.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database

from hdrive_migrate import __version__

Migration = Callable[[Database], None]


def _meta_and_events(db: Database) -> None:
    """1: `meta` facts about the workspace, and `events`, the audit log (DPA 2018 s62)."""
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["meta"].insert_all(
        [
            {"key": "tool_version", "value": __version__},
            {"key": "created_at", "value": datetime.now(UTC).isoformat(timespec="seconds")},
        ]
    )
    db["events"].create(
        {"id": int, "at": str, "actor": str, "action": str, "subject": str, "detail": str},
        pk="id",
        not_null={"at", "actor", "action"},
    )
    db["events"].create_index(["at"])


def _users_scans_and_inventory(db: Database) -> None:
    """2: who is in which wave, what pre-flight and scans found, and the file inventory.

    `files` is keyed by (upn, path) without a rowid: the scanner writes hundreds of millions
    of rows and one B-tree per row is half the cost of two. Times are POSIX seconds (UTC).
    `change` says what the latest scan saw against the one before (new, changed, unchanged,
    deleted); `seen_scan` is the last scan that saw the row.
    """
    # Statement by statement: executescript would commit mid-migration.
    _execute_each(
        db,
        """
        CREATE TABLE users(
            upn TEXT PRIMARY KEY COLLATE NOCASE,
            folder TEXT NOT NULL UNIQUE COLLATE NOCASE,
            wave TEXT,
            state TEXT NOT NULL DEFAULT 'imported',
            drive_id TEXT,
            source_file TEXT,
            source_line INTEGER,
            imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
        CREATE INDEX users_by_wave ON users(wave);
        CREATE TABLE sam_cache(
            sam TEXT PRIMARY KEY COLLATE NOCASE,
            upn TEXT,
            resolved_at TEXT NOT NULL);
        CREATE TABLE scans(
            id INTEGER PRIMARY KEY,
            upn TEXT NOT NULL REFERENCES users(upn),
            status TEXT NOT NULL,
            hashed INTEGER NOT NULL,
            atime_trusted INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            files INTEGER, folders INTEGER, bytes INTEGER,
            new INTEGER, changed INTEGER, unchanged INTEGER, deleted INTEGER);
        CREATE INDEX scans_by_user ON scans(upn, id);
        CREATE TABLE files(
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            is_dir INTEGER NOT NULL,
            size INTEGER NOT NULL,
            created REAL,
            modified REAL,
            accessed REAL,
            attributes INTEGER NOT NULL,
            link INTEGER NOT NULL,
            sha256 TEXT,
            quick_xor TEXT,
            seen_scan INTEGER NOT NULL,
            change TEXT NOT NULL,
            PRIMARY KEY(upn, path)) WITHOUT ROWID;
        CREATE TABLE findings(
            id INTEGER PRIMARY KEY,
            upn TEXT NOT NULL COLLATE NOCASE,
            stage TEXT NOT NULL,
            scan_id INTEGER,
            kind TEXT NOT NULL,
            path TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE(upn, stage, kind, path));
        """,
    )


def _execute_each(db: Database, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _plans_reviews_and_disposals(db: Database) -> None:
    """3: plan runs with the policy that made them, per-file decisions, reviews, disposals.

    Decisions are keyed by run, so re-planning keeps the history; `plan_users` names each
    user's current run. A decision stores its deciding rule as an index into `plan_rules` and
    every matched rule as a bit mask, since a plan writes one row per file.
    """
    _execute_each(
        db,
        """
        CREATE TABLE plan_runs(
            id INTEGER PRIMARY KEY,
            policy_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            policy_sha256 TEXT NOT NULL,
            policy_file TEXT NOT NULL,
            policy_labels TEXT NOT NULL,
            policy_approved_by TEXT NOT NULL,
            holds_sha256 TEXT,
            target_folder TEXT NOT NULL,
            as_of TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            decisions INTEGER);
        CREATE TABLE plan_rules(
            run_id INTEGER NOT NULL REFERENCES plan_runs(id),
            idx INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            action TEXT NOT NULL,
            label TEXT,
            description TEXT NOT NULL,
            PRIMARY KEY(run_id, idx)) WITHOUT ROWID;
        CREATE TABLE plan_users(
            upn TEXT PRIMARY KEY COLLATE NOCASE,
            run_id INTEGER NOT NULL REFERENCES plan_runs(id));
        CREATE TABLE decisions(
            run_id INTEGER NOT NULL,
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            action TEXT NOT NULL,
            rule INTEGER NOT NULL,
            matched INTEGER NOT NULL,
            reason TEXT,
            target_path TEXT,
            PRIMARY KEY(run_id, upn, path)) WITHOUT ROWID;
        CREATE TABLE reviews(
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL,
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            decision TEXT NOT NULL,
            label TEXT,
            note TEXT,
            reviewer TEXT NOT NULL,
            source_file TEXT NOT NULL,
            source_line INTEGER NOT NULL,
            at TEXT NOT NULL);
        CREATE INDEX reviews_by_file ON reviews(upn, path, id);
        CREATE TABLE disposals(
            id INTEGER PRIMARY KEY,
            certificate TEXT NOT NULL,
            certificate_sha256 TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            approved_at TEXT NOT NULL,
            files INTEGER NOT NULL,
            bytes INTEGER NOT NULL);
        CREATE TABLE disposal_items(
            disposal_id INTEGER NOT NULL REFERENCES disposals(id),
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            PRIMARY KEY(upn, path, disposal_id)) WITHOUT ROWID;
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (
    _meta_and_events,
    _users_scans_and_inventory,
    _plans_reviews_and_disposals,
)
