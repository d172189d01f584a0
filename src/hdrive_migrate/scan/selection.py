"""Which users a command works on: one user, one wave, or everyone imported."""

from sqlite_utils import Database

from hdrive_migrate.errors import HdriveError


def select_users(db: Database, *, wave: str | None, upn: str | None) -> list[tuple[str, str]]:
    """(upn, folder) of the chosen users in UPN order; an unknown user or wave is an error."""
    if upn is not None:
        rows = db.execute("SELECT upn, folder FROM users WHERE upn = ?", [upn]).fetchall()
        if not rows:
            raise HdriveError(
                f"no user {upn} in this workspace",
                fix="import them first with `hdrive-migrate users import FILE`",
            )
        return rows
    if wave is not None:
        rows = db.execute(
            "SELECT upn, folder FROM users WHERE wave = ? ORDER BY upn", [wave]
        ).fetchall()
        if not rows:
            raise HdriveError(
                f"no users in wave {wave!r}", fix="check the name with `hdrive-migrate wave list`"
            )
        return rows
    rows = db.execute("SELECT upn, folder FROM users ORDER BY upn").fetchall()
    if not rows:
        raise HdriveError(
            "no users in this workspace",
            fix="import them first with `hdrive-migrate users import FILE`",
        )
    return rows
