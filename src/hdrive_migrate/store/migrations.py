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


MIGRATIONS: tuple[Migration, ...] = (_meta_and_events,)
