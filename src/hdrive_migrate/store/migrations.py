"""Schema changes of state.db, in order; migration N brings the database to user_version N.

Append new migrations; never edit one that has shipped, because databases already carry it.
"""

from collections.abc import Callable

from sqlite_utils import Database

from hdrive_migrate import __version__
from hdrive_migrate.clock import SYSTEM_CLOCK, stored_time
from hdrive_migrate.store.chain import GENESIS, event_hash
from hdrive_migrate.store.chain import entries as chain_entries

Migration = Callable[[Database], None]


def _meta_and_events(db: Database) -> None:
    """1: `meta` facts about the workspace, and `events`, the audit log (DPA 2018 s62)."""
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["meta"].insert_all(
        [
            {"key": "tool_version", "value": __version__},
            {"key": "created_at", "value": stored_time(SYSTEM_CLOCK.now())},
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


def _transfers_and_runs(db: Database) -> None:
    """4: the migration engine's state: runs, one transfer row per file planned to migrate,
    the OneDrive folder ids already made, user-level blocks, and verification results.

    A transfer row is the file's whole life in one place, so each step (session opened, chunk
    accepted, outcome) is one UPDATE in one transaction. `state` is `sending` while an upload
    session is open, then one outcome: migrated, skipped-identical, renamed, failed, blocked;
    `removed` after --apply-source-deletions sent our copy to the recycle bin. `reason` is a
    code from migrate/reasons.py (its fix lives there, not in the row). The upload URL carries
    its own token, so only its sealed (encrypted) form is stored, never the URL itself.
    `ours` is 1 when `item_id` is an item this tool uploaded (migrated or renamed), 0 when it
    is someone else's identical file (skipped-identical): only ours is ever replaced or
    recycled. `source_size`, `source_modified` and `sha256` are the source file as it was
    sent, so a delta pass sends only what changed since.

    `sending` is written durably BEFORE createUploadSession, with no session yet: a kill after
    the service opened a session but before its sealed URL was saved leaves a session nobody
    can reach, holding the name for ~15 minutes, and this row says it is ours. The next run
    then sends that file under `partial_name` (a temporary name in the same folder, recorded
    before its own session is opened) and renames it to target_path once verified.
    """
    _execute_each(
        db,
        """
        CREATE TABLE migrate_runs(
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            selection TEXT NOT NULL,
            operator TEXT NOT NULL,
            concurrency INTEGER NOT NULL,
            chunk_bytes INTEGER NOT NULL,
            files INTEGER NOT NULL DEFAULT 0,
            bytes INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0,
            resource_units INTEGER NOT NULL DEFAULT 0,
            throttled INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE transfers(
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            state TEXT NOT NULL,
            target_path TEXT NOT NULL,
            label TEXT,
            source_size INTEGER,
            source_modified REAL,
            sha256 TEXT,
            quick_xor TEXT,
            item_id TEXT,
            etag TEXT,
            ours INTEGER NOT NULL DEFAULT 0,
            session_sealed TEXT,
            session_expires TEXT,
            next_offset INTEGER,
            partial_name TEXT,
            reason TEXT,
            detail TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            run_id INTEGER,
            started_at TEXT,
            finished_at TEXT,
            verified_at TEXT,
            verify_result TEXT,
            PRIMARY KEY(upn, path)) WITHOUT ROWID;
        CREATE INDEX transfers_by_state
            ON transfers(upn, state, source_size, run_id, started_at, finished_at);
        CREATE TABLE drive_folders(
            upn TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL COLLATE NOCASE,
            item_id TEXT NOT NULL,
            PRIMARY KEY(upn, path)) WITHOUT ROWID;
        CREATE TABLE user_blocks(
            upn TEXT PRIMARY KEY COLLATE NOCASE,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            run_id INTEGER,
            at TEXT NOT NULL);
        CREATE TABLE verify_runs(
            id INTEGER PRIMARY KEY,
            upn TEXT NOT NULL COLLATE NOCASE,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            checked INTEGER NOT NULL DEFAULT 0,
            ok INTEGER NOT NULL DEFAULT 0,
            missing INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0,
            unexpected INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX verify_runs_by_user ON verify_runs(upn, id);
        CREATE TABLE verify_findings(
            verify_id INTEGER NOT NULL REFERENCES verify_runs(id),
            upn TEXT NOT NULL COLLATE NOCASE,
            target_path TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL);
        CREATE INDEX verify_findings_by_run ON verify_findings(verify_id);
        """,
    )


def _chained_events(db: Database) -> None:
    """5: the audit log made tamper-evident (store/chain.py): each entry gets `prev_hash` and
    `hash`, the entries already written are chained in id order, `events_head` holds the last
    entry's id and hash, and triggers refuse to change or delete an entry (append-only)."""
    db.execute("ALTER TABLE events ADD COLUMN prev_hash TEXT")
    db.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    last_id, prev = 0, GENESIS
    for entry in chain_entries(db):
        digest = event_hash(entry[:6], prev)
        db.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", [prev, digest, entry.id]
        )
        last_id, prev = entry.id, digest
    db.execute(
        "CREATE TABLE events_head(one INTEGER PRIMARY KEY CHECK (one = 1),"
        " id INTEGER NOT NULL, hash TEXT NOT NULL)"
    )
    db.execute("INSERT INTO events_head(one, id, hash) VALUES (1, ?, ?)", [last_id, prev])
    # One statement each: a trigger's body holds semicolons, which _execute_each splits on.
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events BEGIN"
            " SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def _events_by_subject(db: Database) -> None:
    """The cutover list asks, for each user, when the last migrate pass over them finished."""
    db.execute("CREATE INDEX events_by_subject ON events(subject, action, at)")


def _user_identities(db: Database) -> None:
    """Each user's display name and on-premises account name (sAMAccountName) as the tenant
    gives them at preflight, so the service desk can find a person by what callers say."""
    db.execute("ALTER TABLE users ADD COLUMN display_name TEXT COLLATE NOCASE")
    db.execute("ALTER TABLE users ADD COLUMN sam_account_name TEXT COLLATE NOCASE")
    db.execute("CREATE INDEX users_by_display_name ON users(display_name)")
    db.execute("CREATE INDEX users_by_sam_account_name ON users(sam_account_name)")


def _notices(db: Database) -> None:
    """The notices sent to users, one row per user and stage (before, after) once a send
    was tried: `status` sent or failed, `reason` why it failed, `attempts` how many sends were
    tried. A row whose status is sent is never sent again; the message itself is not kept."""
    db.execute(
        """CREATE TABLE notices(
            upn TEXT NOT NULL COLLATE NOCASE,
            stage TEXT NOT NULL,
            status TEXT NOT NULL,
            recipient TEXT NOT NULL,
            wave TEXT,
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL,
            PRIMARY KEY(upn, stage)) WITHOUT ROWID"""
    )


def _scan_excluded_counts(db: Database) -> None:
    """9: what `[scan] exclude` left out of each scan, files and folders (a folder left out is
    not listed), so nothing leaves the inventory without being counted."""
    for column in ("excluded_files", "excluded_folders"):
        db.execute(f"ALTER TABLE scans ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Migration, ...] = (
    _meta_and_events,
    _users_scans_and_inventory,
    _plans_reviews_and_disposals,
    _transfers_and_runs,
    _chained_events,
    _events_by_subject,
    _user_identities,
    _notices,
    _scan_excluded_counts,
)
