"""The roster in state.db: who is migrated, from which home folder, in which wave.

A UPN guessed from a OneDrive URL is marked by a finding (stage "import", kind "upn_derived")
until the tenant confirms it; confirmation may change the UPN, which `rename_user` carries to
every table that names the user. Writes run in the caller's transaction.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlite_utils import Database

from hdrive_migrate.config import Config
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.sources import EntryError, Source
from hdrive_migrate.users.csvfiles import NO_WAVE, Row, RowError
from hdrive_migrate.users.upns import personal_segment

IMPORT_STAGE = "import"
PREFLIGHT_STAGE = "preflight"
UPN_DERIVED = "upn_derived"
IMPORTED, UPDATED, UNCHANGED = "imported", "updated", "unchanged"
FIX_IMPORT = "import them first with `hdrive-migrate users import FILE`"
COLUMNS = "upn, folder, wave, state, drive_id, source_file, source_line"
# Tables whose `upn` column names a user (sam_cache's names a directory answer, not a user).
# Every table keyed by a user's UPN: a confirmed UPN must carry all of it, or plans, reviews
# and certified disposals would be orphaned (and certified files could be certified again).
USER_TABLES = (
    "users",
    "scans",
    "files",
    "findings",
    "plan_users",
    "decisions",
    "reviews",
    "disposal_items",
    "transfers",
    "drive_folders",
    "user_blocks",
    "verify_runs",
    "verify_findings",
)


@dataclass(frozen=True)
class User:
    """One row of `users`."""

    upn: str
    folder: str
    wave: str | None
    state: str
    drive_id: str | None
    source_file: str | None
    source_line: int | None


@contextmanager
def opened_source(config: Config) -> Iterator[Source]:
    """The workspace's source, closed afterwards."""
    # Imported here: the SMB client is only loaded by commands that read the share.
    from hdrive_migrate.sources.open import open_source

    source = open_source(config.source_root, config.smb_user)
    try:
        yield source
    finally:
        source.close()


def home_folders(source: Source) -> dict[str, str]:
    """The folders directly under SOURCE's root by lower-cased name (SMB names are
    case-insensitive). Links are not home folders. An unreadable root raises HdriveError."""
    try:
        entries = source.list_dir("")
    except EntryError as exc:
        raise HdriveError(
            f"cannot list the source root {source.describe()}: {exc.detail}",
            fix="check [source] root in hdrive.toml and that the migration account can read it",
        ) from exc
    return {e.name.lower(): e.name for e in entries if e.is_dir and not e.is_link}


def check_folders(
    rows: Iterable[Row], folders: Mapping[str, str], root: str
) -> tuple[list[Row], list[RowError]]:
    """Rows whose folder is one of FOLDERS (spelt as listed there), and an error for each row
    whose folder is not under ROOT."""
    good: list[Row] = []
    errors: list[RowError] = []
    for row in rows:
        listed = folders.get(row.folder.lower())
        if listed is None:
            fix = "check the spelling against the share, or remove the row"
            errors.append(RowError(row.line, f"no folder {row.folder} under {root}", fix))
        else:
            good.append(replace(row, folder=listed))
    return good, errors


def reject_duplicates(rows: list[Row]) -> tuple[list[Row], list[RowError]]:
    """Rows naming a folder and a UPN no other row names, and one error for every row that
    shares either. All rows of a clash are refused: which one is right is the file's author's
    call, and a wrong pick sends someone's files to another person's OneDrive."""
    by_folder = _lines_by(rows, lambda row: row.folder.lower())
    by_upn = _lines_by(rows, lambda row: row.upn.lower() if row.upn else None)
    good: list[Row] = []
    errors: list[RowError] = []
    for row in rows:
        same_folder = _others(by_folder, row.folder.lower(), row.line)
        same_upn = _others(by_upn, row.upn.lower(), row.line) if row.upn else ""
        if same_folder:
            fix = "keep one row per folder: each H: drive goes to one person"
            errors.append(RowError(row.line, f"folder {row.folder} is also on {same_folder}", fix))
        elif same_upn:
            fix = "keep one row per person"
            errors.append(RowError(row.line, f"{row.upn} is also on {same_upn}", fix))
        else:
            good.append(row)
    return good, errors


def _lines_by(rows: list[Row], key: Callable[[Row], str | None]) -> dict[str | None, list[int]]:
    found: dict[str | None, list[int]] = defaultdict(list)
    for row in rows:
        found[key(row)].append(row.line)
    return found


def _others(lines_by: dict[str | None, list[int]], key: str, line: int) -> str:
    """ "line 4" or "lines 4, 9": the other rows under KEY; "" when there are none."""
    others = [str(n) for n in lines_by[key] if n != line]
    if not others:
        return ""
    return ("line " if len(others) == 1 else "lines ") + ", ".join(others)


def upsert(db: Database, row: Row, *, source_file: str, now: str) -> str | RowError:
    """Insert or update ROW (its UPN resolved) and return IMPORTED, UPDATED or UNCHANGED, or the
    RowError saying why it clashes with the roster.

    A folder belongs to one user. A given or confirmed UPN replaces an unconfirmed guess for the
    same folder; a guess leaves alone a user whose UPN gives the same OneDrive URL. A new folder
    puts the user back to state "imported" (their preflight no longer holds; `moved_warning`
    says what else); a row without a wave keeps the user's wave.
    """
    assert row.upn is not None, "resolve the UPN first"
    owner = user_with_folder(db, row.folder)
    renamed = False
    if owner is not None and owner.upn.lower() != row.upn.lower():
        if row.derived_from is not None and personal_segment(owner.upn) == row.derived_from:
            row = replace(row, upn=owner.upn)
        elif row.derived_from is None and is_derived(db, owner.upn) and not user(db, row.upn):
            rename_user(db, owner.upn, row.upn)
            renamed = True
        else:
            where = f" ({owner.source_file}:{owner.source_line})" if owner.source_file else ""
            return RowError(
                row.line,
                f"folder {row.folder} already belongs to {owner.upn}{where}",
                "correct this row; each H: drive goes to one person",
            )
    return _write(db, row, source_file=source_file, now=now, renamed=renamed)


def _write(db: Database, row: Row, *, source_file: str, now: str, renamed: bool) -> str:
    current = user(db, row.upn)
    if current is None:
        db.execute(
            "INSERT INTO users(upn, folder, wave, source_file, source_line, imported_at,"
            " updated_at) VALUES(?, ?, ?, ?, ?, ?, ?)",
            [row.upn, row.folder, row.wave, source_file, row.line, now, now],
        )
        if row.derived_from is not None:
            mark_derived(db, row.upn, row.derived_from, now)
        return IMPORTED
    # SMB names are case-insensitive: a new spelling is recorded but is the same folder.
    moved = current.folder.lower() != row.folder.lower()
    respelt = current.folder != row.folder
    rewaved = row.wave is not None and row.wave != current.wave
    confirmed = row.derived_from is None and unmark_derived(db, current.upn)
    if not (moved or respelt or rewaved or confirmed or renamed):
        return UNCHANGED
    db.execute(
        "UPDATE users SET folder = ?, wave = ?, state = ?, source_file = ?, source_line = ?,"
        " updated_at = ? WHERE upn = ?",
        [
            row.folder,
            row.wave if rewaved else current.wave,
            "imported" if moved else current.state,
            source_file,
            row.line,
            now,
            current.upn,
        ],
    )
    return UPDATED


def moved_warning(db: Database, before: User | None, row: Row) -> RowError | None:
    """The warning for ROW when it gave BEFORE, the user as they were, another home folder:
    it names both folders and the user's latest complete scan, which read another folder."""
    after = user_with_folder(db, row.folder)
    if before is None or after is None or after.upn.lower() != before.upn.lower():
        return None
    if before.folder.lower() == row.folder.lower():
        return None
    scan = db.execute(
        "SELECT id, finished_at FROM scans WHERE upn = ? AND status = 'complete'"
        " ORDER BY id DESC LIMIT 1",
        [after.upn],
    ).fetchone()
    stale = f", so scan {scan[0]} ({scan[1]}) no longer applies" if scan else ""
    return RowError(
        row.line,
        f"warning: {after.upn} moves from folder {before.folder} to folder {row.folder}{stale}",
        f"check this is the right folder, then run `hdrive-migrate preflight --user {after.upn}`"
        f" and `hdrive-migrate scan --user {after.upn}` again",
    )


def user(db: Database, upn: str) -> User | None:
    """The user whose UPN is UPN (any case), or None."""
    return _one(db, f"SELECT {COLUMNS} FROM users WHERE upn = ?", upn)


def user_with_folder(db: Database, folder: str) -> User | None:
    """The user whose home folder is FOLDER (any case), or None."""
    return _one(db, f"SELECT {COLUMNS} FROM users WHERE folder = ?", folder)


def _one(db: Database, sql: str, value: str) -> User | None:
    found = db.execute(sql, [value]).fetchone()
    return User(*found) if found else None


def select_users(db: Database, *, wave: str | None = None, upn: str | None = None) -> list[User]:
    """The users a command works on, by UPN: the user UPN, the users of WAVE ("(no wave)":
    those without one), both given: UPN if it is in WAVE, or everyone. Choosing nobody
    raises HdriveError, worded the same for every command."""
    if upn is not None:
        chosen = user(db, upn)
        if chosen is None:
            raise unknown_user(upn)
        if wave is not None and chosen.wave != _wave_value(wave):
            raise HdriveError(
                f"{chosen.upn} is in {_wave_label(chosen.wave)}, not in wave {wave!r}",
                fix="drop --wave or --user; `hdrive-migrate wave show NAME` lists a wave's users",
            )
        return [chosen]
    if wave is not None:
        return wave_users(db, wave)
    rows = db.execute(f"SELECT {COLUMNS} FROM users ORDER BY upn").fetchall()
    if not rows:
        raise HdriveError("no users in this workspace", fix=FIX_IMPORT)
    return [User(*row) for row in rows]


def wave_users(db: Database, wave: str) -> list[User]:
    """The users of WAVE ("(no wave)": those without one) by UPN; none raises HdriveError."""
    where = "wave IS NULL" if _wave_value(wave) is None else "wave = ?"
    sql = f"SELECT {COLUMNS} FROM users WHERE {where} ORDER BY upn"
    rows = db.execute(sql, [] if _wave_value(wave) is None else [wave]).fetchall()
    if not rows:
        raise unknown_wave(wave)
    return [User(*row) for row in rows]


def unknown_user(upn: str) -> HdriveError:
    """The one error for a UPN the workspace does not have."""
    return HdriveError(f"no user {upn} in this workspace", fix=FIX_IMPORT)


def unknown_wave(wave: str) -> HdriveError:
    """The one error for a wave nobody is in."""
    return HdriveError(
        f"no users in wave {wave!r}", fix="check the name with `hdrive-migrate wave list`"
    )


def _wave_value(wave: str) -> str | None:
    """The users.wave value of the wave people call WAVE."""
    return None if wave == NO_WAVE else wave


def _wave_label(wave: str | None) -> str:
    return "no wave" if wave is None else f"wave {wave!r}"


def is_derived(db: Database, upn: str) -> bool:
    """Whether UPN was guessed from a OneDrive URL and not yet confirmed."""
    found = db.execute(
        "SELECT 1 FROM findings WHERE upn = ? AND stage = ? AND kind = ?",
        [upn, IMPORT_STAGE, UPN_DERIVED],
    ).fetchone()
    return found is not None


def mark_derived(db: Database, upn: str, segment: str, now: str) -> None:
    """Record that UPN is a guess from the OneDrive URL segment SEGMENT."""
    db.execute(
        "INSERT OR REPLACE INTO findings(upn, stage, kind, path, detail, at)"
        " VALUES(?, ?, ?, '', ?, ?)",
        [
            upn,
            IMPORT_STAGE,
            UPN_DERIVED,
            f"UPN guessed from the OneDrive URL /personal/{segment}; preflight or "
            "`users import --resolve-sam` confirms it against the tenant",
            now,
        ],
    )


def unmark_derived(db: Database, upn: str) -> bool:
    """Drop UPN's derived mark; True when there was one."""
    cursor = db.execute(
        "DELETE FROM findings WHERE upn = ? AND stage = ? AND kind = ?",
        [upn, IMPORT_STAGE, UPN_DERIVED],
    )
    return cursor.rowcount > 0


def rename_user(db: Database, old: str, new: str) -> None:
    """Give the user OLD the UPN NEW in every table that names users, in the caller's
    transaction (begun here if none is open yet). NEW must not be a user already."""
    # scans references users(upn), so the foreign-key check must wait for the commit, when
    # both sides agree; deferring lasts only until the end of an open transaction.
    if not db.conn.in_transaction:
        db.execute("BEGIN")
    db.execute("PRAGMA defer_foreign_keys = ON")
    for table in USER_TABLES:
        db.execute(f"UPDATE {table} SET upn = ? WHERE upn = ?", [new, old])
