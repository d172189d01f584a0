"""The tenant's durable state: metadata in SQLite, file content on disk, both under one folder.

Everything survives a restart: users, drives, items (live and in the recycle bin) and open upload
sessions with the bytes received so far.
"""

import base64
import csv
import hashlib
import hmac
import os
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import SetupError

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
    id TEXT PRIMARY KEY, upn TEXT NOT NULL UNIQUE COLLATE NOCASE, display_name TEXT NOT NULL,
    sam TEXT COLLATE NOCASE, provisioned INTEGER NOT NULL, drive_id TEXT);
CREATE TABLE IF NOT EXISTS drives(
    id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, root_id TEXT NOT NULL,
    quota_total INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items(
    id TEXT PRIMARY KEY, drive_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    name_key TEXT NOT NULL, is_folder INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    quick_xor TEXT, created TEXT NOT NULL, modified TEXT NOT NULL, fs_created TEXT NOT NULL,
    fs_modified TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, deleted TEXT,
    label TEXT, label_applied TEXT, change INTEGER NOT NULL DEFAULT 0, bin_id TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS live_names ON items(parent_id, name_key) WHERE deleted IS NULL;
CREATE TABLE IF NOT EXISTS sessions(
    id TEXT PRIMARY KEY, drive_id TEXT NOT NULL, parent_id TEXT NOT NULL, name TEXT NOT NULL,
    name_key TEXT NOT NULL, conflict TEXT NOT NULL, fs_created TEXT, fs_modified TEXT,
    total INTEGER, received INTEGER NOT NULL DEFAULT 0, expires REAL NOT NULL,
    defer_commit INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions(parent_id, name_key);
CREATE TABLE IF NOT EXISTS messages(
    seq INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, folder TEXT NOT NULL, message TEXT NOT NULL);
"""
# Columns added after the first release, for data directories of an earlier tenant.
ADDED_COLUMNS = {
    "items": (
        "change INTEGER NOT NULL DEFAULT 0",  # the drive's change number when last written
        "bin_id TEXT",  # the recycle-bin entry of the delete that removed this item, at its top
    ),
}
INDEXES = """
CREATE INDEX IF NOT EXISTS items_by_change ON items(drive_id, change);
CREATE INDEX IF NOT EXISTS recycle_bin ON items(drive_id, bin_id) WHERE bin_id IS NOT NULL;
"""
# Each drive change takes the next number of its drive: delta tokens are such numbers.
NEXT_CHANGE = "(SELECT coalesce(max(c.change), 0) + 1 FROM items AS c WHERE c.drive_id = {drive})"
SITE_HOST = "tenant-my.sharepoint.com"

TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n", ""}
USERS_HEADER = ["upn", "display_name", "sam_account_name", "provisioned"]
DB_NAME = "tenant.db"


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_item_id() -> str:
    """An id shaped like OneDrive for Business item ids: 34 upper-case base32 characters."""
    return "01" + base64.b32encode(secrets.token_bytes(20)).decode()[:32]


def personal_site(upn: str) -> str:
    """A personal site's path: SharePoint names it after the UPN, each '.' and '@' as '_'."""
    return "personal/" + upn.replace(".", "_").replace("@", "_")


def new_drive_id() -> str:
    return "b!" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")


@dataclass(frozen=True)
class UserRow:
    upn: str
    display_name: str
    sam: str
    provisioned: bool


def read_users_csv(path: Path) -> list[UserRow]:
    """Parse `upn,display_name,sam_account_name,provisioned`; every mistake names file and line."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SetupError(
            f"{path}: cannot be read ({exc.strerror}). Fix: give --users an existing CSV file"
        ) from exc
    with handle:
        reader = csv.reader(handle)
        header = [cell.strip().lower() for cell in next(reader, [])]
        if header != USERS_HEADER:
            raise SetupError(
                f"{path}:1: header is {','.join(header) or '(empty)'}. "
                f"Fix: make the first line {','.join(USERS_HEADER)}"
            )
        return [_user_row(path, line, cells) for line, cells in enumerate(reader, start=2) if cells]


def _user_row(path: Path, line: int, cells: list[str]) -> UserRow:
    if len(cells) != len(USERS_HEADER):
        raise SetupError(
            f"{path}:{line}: {len(cells)} columns."
            f" Fix: give {len(USERS_HEADER)}: {','.join(USERS_HEADER)}"
        )
    upn, display_name, sam, provisioned = (cell.strip() for cell in cells)
    if "@" not in upn:
        raise SetupError(f"{path}:{line}: '{upn}' is not a UPN. Fix: write it as name@domain")
    if provisioned.lower() not in TRUE_WORDS | FALSE_WORDS:
        raise SetupError(
            f"{path}:{line}: provisioned '{provisioned}' is not true or false."
            " Fix: write true or false"
        )
    return UserRow(upn, display_name or upn, sam, provisioned.lower() in TRUE_WORDS)


class TenantState:
    """Durable storage of the tenant. Single-threaded: the server calls it from its event loop."""

    def __init__(self, data: Path, drive_quota: int):
        self.data = data
        self.drive_quota = drive_quota
        self._sites: dict[str, str] | None = None  # site and web GUIDs -> drive id
        for folder in ("content", "sessions"):
            (data / folder).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(data / DB_NAME, isolation_level=None)
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._add_missing_columns()
            self.db.executescript(INDEXES)
            self.secret = self._setting("secret", lambda: secrets.token_hex(32)).encode()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        """Close the database; a clean close also folds the WAL back into tenant.db."""
        self.db.close()

    def _add_missing_columns(self) -> None:
        for table, columns in ADDED_COLUMNS.items():
            present = {row["name"] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in present:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def _setting(self, key: str, make) -> str:
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        if row:
            return row["value"]
        value = make()
        self.db.execute("INSERT INTO settings(key, value) VALUES(?, ?)", (key, value))
        return value

    def transaction(self):
        """`with state.transaction():` groups writes; SQLite rolls back if the block raises."""
        return _Transaction(self.db)

    def sign(self, value: str) -> str:
        """A token for pre-authenticated URLs (upload sessions, downloads)."""
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:40]

    def signature_ok(self, value: str, token: str) -> bool:
        return hmac.compare_digest(self.sign(value), token)

    # Users and drives

    def load_users(self, rows: list[UserRow]) -> None:
        with self.transaction():
            for row in rows:
                self._upsert_user(row)

    def _upsert_user(self, row: UserRow) -> None:
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "user:" + row.upn.lower()))
        existing = self.db.execute("SELECT drive_id FROM users WHERE id=?", (user_id,)).fetchone()
        drive_id = existing["drive_id"] if existing else None
        if row.provisioned and not drive_id:
            drive_id = self._create_drive(user_id)
        self.db.execute(
            "INSERT INTO users(id, upn, display_name, sam, provisioned, drive_id)"
            " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET upn=excluded.upn,"
            " display_name=excluded.display_name, sam=excluded.sam,"
            " provisioned=excluded.provisioned, drive_id=excluded.drive_id",
            (user_id, row.upn, row.display_name, row.sam or None, int(row.provisioned), drive_id),
        )

    def _create_drive(self, owner_id: str) -> str:
        drive_id, root_id, now = new_drive_id(), new_item_id(), utc_now_text()
        self.db.execute(
            "INSERT INTO drives(id, owner_id, root_id, quota_total, created) VALUES(?, ?, ?, ?, ?)",
            (drive_id, owner_id, root_id, self.drive_quota, now),
        )
        self.db.execute(
            "INSERT INTO items(id, drive_id, parent_id, name, name_key, is_folder, created,"
            " modified, fs_created, fs_modified, change)"
            " VALUES(?, ?, NULL, 'root', 'root', 1, ?, ?, ?, ?, 1)",
            (root_id, drive_id, now, now, now, now),
        )
        self._sites = None
        return drive_id

    def user(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM users WHERE id=? OR upn=?", (key, key)).fetchone()

    def users(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM users ORDER BY upn").fetchall()

    def drive(self, drive_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT drives.*, users.upn, users.display_name FROM drives"
            " JOIN users ON users.id = drives.owner_id WHERE drives.id=?",
            (drive_id,),
        ).fetchone()

    # A user's OneDrive is a SharePoint site (its personal site); Graph names it by GUIDs.

    def site_ids(self, drive_id: str) -> tuple[str, str]:
        """(site collection GUID, web GUID) of the personal site holding a drive."""
        return (
            str(uuid.uuid5(uuid.NAMESPACE_URL, "site:" + drive_id)),
            str(uuid.uuid5(uuid.NAMESPACE_URL, "web:" + drive_id)),
        )

    def composite_site_id(self, drive_id: str) -> str:
        """The site id Graph uses in URLs: `{hostname},{site GUID},{web GUID}`."""
        return ",".join((SITE_HOST, *self.site_ids(drive_id)))

    def drive_of_site(self, site_id: str) -> sqlite3.Row | None:
        """The drive of a personal site, by composite id or by its site GUID alone."""
        if self._sites is None:
            drives = [row["id"] for row in self.db.execute("SELECT id FROM drives")]
            self._sites = {self.site_ids(drive)[0]: drive for drive in drives}
        parts = site_id.split(",")
        if len(parts) == 3 and parts[0].lower() != SITE_HOST:
            return None
        drive_id = self._sites.get(parts[1] if len(parts) == 3 else parts[0])
        if drive_id is None or (len(parts) == 3 and self.site_ids(drive_id)[1] != parts[2]):
            return None
        return self.drive(drive_id)

    def quota_left(self, drive_id: str) -> int:
        row = self.db.execute(
            "SELECT quota_total - used - deleted AS left FROM drives WHERE id=?", (drive_id,)
        ).fetchone()
        return row["left"]

    def _count_bytes(self, drive_id: str, used: int = 0, deleted: int = 0) -> None:
        self.db.execute(
            "UPDATE drives SET used = used + ?, deleted = deleted + ? WHERE id=?",
            (used, deleted, drive_id),
        )

    # Items

    def item(self, drive_id: str, item_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM items WHERE id=? AND drive_id=? AND deleted IS NULL", (item_id, drive_id)
        ).fetchone()

    def child(self, parent_id: str, name: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM items WHERE parent_id=? AND name_key=? AND deleted IS NULL",
            (parent_id, name.lower()),
        ).fetchone()

    def children(self, parent_id: str, offset: int, limit: int) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM items WHERE parent_id=? AND deleted IS NULL ORDER BY name_key"
            " LIMIT ? OFFSET ?",
            (parent_id, limit, offset),
        ).fetchall()

    def child_count(self, parent_id: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM items WHERE parent_id=? AND deleted IS NULL", (parent_id,)
        ).fetchone()[0]

    def path_of(self, item: sqlite3.Row) -> list[str]:
        """Names from the drive root down to `item` (empty for the root)."""
        names: list[str] = []
        while item["parent_id"] is not None:
            names.append(item["name"])
            item = self.db.execute(
                "SELECT * FROM items WHERE id=?", (item["parent_id"],)
            ).fetchone()
        return names[::-1]

    def create_item(
        self, drive_id: str, parent_id: str, name: str, *, folder: bool, fs_times=(None, None)
    ) -> sqlite3.Row:
        item_id, now = new_item_id(), utc_now_text()
        self.db.execute(
            "INSERT INTO items(id, drive_id, parent_id, name, name_key, is_folder, created,"
            " modified, fs_created, fs_modified, change)"
            f" VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NEXT_CHANGE.format(drive='?')})",
            (
                item_id,
                drive_id,
                parent_id,
                name,
                name.lower(),
                int(folder),
                now,
                now,
                fs_times[0] or now,
                fs_times[1] or now,
                drive_id,
            ),
        )
        self.touch(parent_id)
        return self.db.execute("SELECT * FROM items WHERE id=?", (item_id,)).fetchone()

    def touch(self, item_id: str) -> None:
        self.db.execute(
            "UPDATE items SET modified=?, version=version+1,"
            f" change={NEXT_CHANGE.format(drive='items.drive_id')} WHERE id=?",
            (utc_now_text(), item_id),
        )

    def update_item(self, item_id: str, **fields) -> sqlite3.Row:
        if "name" in fields:
            fields["name_key"] = fields["name"].lower()
        assignments = ", ".join(f"{key}=?" for key in fields)
        self.db.execute(
            f"UPDATE items SET {assignments}, modified=?, version=version+1,"
            f" change={NEXT_CHANGE.format(drive='items.drive_id')} WHERE id=?",
            (*fields.values(), utc_now_text(), item_id),
        )
        return self.db.execute("SELECT * FROM items WHERE id=?", (item_id,)).fetchone()

    def content_path(self, item_id: str) -> Path:
        return self.data / "content" / item_id[-2:] / item_id

    def store_content(
        self, item: sqlite3.Row, source: Path, size: int, quick_xor: str, **fields
    ) -> sqlite3.Row:
        """Move `source` into place as the item's content and account its bytes to the drive."""
        target = self.content_path(item["id"])
        target.parent.mkdir(exist_ok=True)
        os.replace(source, target)
        self._count_bytes(item["drive_id"], used=size - item["size"])
        return self.update_item(item["id"], size=size, quick_xor=quick_xor, **fields)

    def delete_item(self, item: sqlite3.Row) -> None:
        """Move an item and everything below it to the recycle bin (kept, counted as deleted)."""
        now = utc_now_text()
        rows = self.db.execute(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL SELECT items.id FROM items JOIN tree"
            " ON items.parent_id = tree.id WHERE items.deleted IS NULL)"
            " SELECT id, size FROM items WHERE id IN tree",
            (item["id"],),
        ).fetchall()
        size = sum(row["size"] for row in rows)
        change = self.db.execute(
            NEXT_CHANGE.format(drive="?")[1:-1], (item["drive_id"],)
        ).fetchone()[0]
        self.db.executemany(
            "UPDATE items SET deleted=?, change=? WHERE id=?",
            [(now, change, row["id"]) for row in rows],
        )
        # One recycle-bin entry per delete, as SharePoint keeps it: the top item stands for all.
        self.db.execute("UPDATE items SET bin_id=? WHERE id=?", (str(uuid.uuid4()), item["id"]))
        self._count_bytes(item["drive_id"], used=-size, deleted=size)
        self.touch(item["parent_id"])

    def last_change(self, drive_id: str) -> int:
        return self.db.execute(
            "SELECT coalesce(max(change), 0) FROM items WHERE drive_id=?", (drive_id,)
        ).fetchone()[0]

    def changes_below(
        self, folder_id: str, since: int, after: tuple[str, str], limit: int
    ) -> list[sqlite3.Row]:
        """Items under `folder_id` (itself included) in path order after `after` (path, id):
        with `since` 0 every live item, else every item written after change `since`, deleted
        ones included. Each row carries its `path` below the folder, names lower-cased."""
        return self.db.execute(
            "WITH RECURSIVE tree(id, path) AS (SELECT ?, ''"
            " UNION ALL SELECT items.id, tree.path || '/' || items.name_key"
            " FROM items JOIN tree ON items.parent_id = tree.id)"
            " SELECT items.*, tree.path AS path FROM tree JOIN items ON items.id = tree.id"
            " WHERE (tree.path, items.id) > (?, ?)"
            " AND CASE WHEN ? = 0 THEN items.deleted IS NULL ELSE items.change > ? END"
            " ORDER BY tree.path, items.id LIMIT ?",
            (folder_id, *after, since, since, limit),
        ).fetchall()

    def recycle_bin(self, drive_id: str, offset: int, limit: int) -> list[sqlite3.Row]:
        """The drive's recycle-bin entries (the top item of each delete), newest first."""
        return self.db.execute(
            "SELECT * FROM items WHERE drive_id=? AND bin_id IS NOT NULL"
            " ORDER BY deleted DESC, bin_id LIMIT ? OFFSET ?",
            (drive_id, limit, offset),
        ).fetchall()

    def bytes_in_bin_entry(self, top: sqlite3.Row) -> int:
        """Bytes a recycle-bin entry holds: its item and what was deleted with it, not what an
        earlier delete already took (that is an entry of its own)."""
        return self.db.execute(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL SELECT items.id FROM items"
            " JOIN tree ON items.parent_id = tree.id WHERE items.bin_id IS NULL)"
            " SELECT sum(size) FROM items WHERE id IN tree",
            (top["id"],),
        ).fetchone()[0]

    # Upload sessions

    def session(self, session_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()

    def open_session_for(self, parent_id: str, name: str, now: float) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM sessions WHERE parent_id=? AND name_key=? AND expires > ?",
            (parent_id, name.lower(), now),
        ).fetchone()

    def create_session(self, **fields) -> sqlite3.Row:
        fields["id"] = secrets.token_hex(16)
        fields["name_key"] = fields["name"].lower()
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        self.db.execute(f"INSERT INTO sessions({columns}) VALUES({marks})", tuple(fields.values()))
        return self.session(fields["id"])

    def session_data(self, session_id: str) -> Path:
        return self.data / "sessions" / session_id

    def advance_session(self, session_id: str, total: int, received: int, expires: float) -> None:
        self.db.execute(
            "UPDATE sessions SET total=?, received=?, expires=? WHERE id=?",
            (total, received, expires, session_id),
        )

    def drop_session(self, session_id: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id=?", (session_id,))
        self.session_data(session_id).unlink(missing_ok=True)

    # Mail

    def save_message(self, owner_id: str, folder: str, message: str) -> None:
        """Keep MESSAGE (a message resource as JSON) in FOLDER of OWNER_ID's mailbox."""
        self.db.execute(
            "INSERT INTO messages(owner_id, folder, message) VALUES(?, ?, ?)",
            (owner_id, folder, message),
        )

    def messages(self, owner_id: str, folder: str, offset: int, limit: int) -> list[str]:
        """Messages in FOLDER of OWNER_ID's mailbox as JSON, newest first."""
        rows = self.db.execute(
            "SELECT message FROM messages WHERE owner_id=? AND folder=? ORDER BY seq DESC"
            " LIMIT ? OFFSET ?",
            (owner_id, folder, limit, offset),
        )
        return [row["message"] for row in rows]


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
