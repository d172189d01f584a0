"""Which users a command works on, as (upn, folder) pairs for the commands that need no more.

One rule and one wording for every command: `users.roster.select_users`.
"""

from sqlite_utils import Database

from hdrive_migrate.users.roster import select_users as select_roster_users


def select_users(db: Database, *, wave: str | None, upn: str | None) -> list[tuple[str, str]]:
    """(upn, folder) of the chosen users in UPN order: the user UPN, the users of WAVE, UPN
    when it is in WAVE, or everyone. Choosing nobody raises HdriveError."""
    return [(user.upn, user.folder) for user in select_roster_users(db, wave=wave, upn=upn)]
