"""The audit log's hash chain: each entry of `events` holds the hash of the one before.

An entry's hash is the SHA-256 of the canonical encoding of its id, at, actor, action,
subject, detail and prev_hash, so changing any field, the order (the id is hashed) or the
chain (prev_hash is hashed) changes it. `events_head` holds the id and hash of the last entry
written, so removing entries from the end is seen too. The encoding is a contract: logs
written years ago must still verify, so it never changes.
"""

import hashlib
import json
from collections.abc import Iterator
from typing import NamedTuple

from sqlite_utils import Database

# The prev_hash of the first entry.
GENESIS = "0" * 64
# Columns that make an entry, in the order they are hashed (prev_hash last).
ENTRY_COLUMNS = ("id", "at", "actor", "action", "subject", "detail")


class Entry(NamedTuple):
    """One audit log entry as stored; `hash` is None in a log written before the chain."""

    id: int
    at: str
    actor: str
    action: str
    subject: str | None
    detail: str | None
    prev_hash: str | None
    hash: str | None

    def expected_hash(self) -> str:
        """The hash this entry should have, from its fields and its prev_hash."""
        return event_hash(self[:6], self.prev_hash or "")


def event_hash(fields: tuple, prev_hash: str) -> str:
    """SHA-256 (hex) of FIELDS (ENTRY_COLUMNS' values, in that order) and PREV_HASH, encoded as
    a compact JSON array of UTF-8 text: unambiguous, whatever the fields hold."""
    encoded = json.dumps(
        [*fields, prev_hash], ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


SELECT_ENTRIES = (
    "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM events"
    " WHERE id > ? ORDER BY id LIMIT ?"
)


def entries(db: Database, *, page: int = 1000) -> Iterator[Entry]:
    """Every entry of DB's log in id order, read a page at a time (keyset paging), so a long
    log is never held in memory and the caller may write between pages."""
    last = -1
    while rows := db.execute(SELECT_ENTRIES, [last, page]).fetchall():
        for row in rows:
            yield Entry(*row)
        last = rows[-1][0]
