"""Waves as the roster and the scans describe them: read-only queries for `wave list/show`.

A user's scan figures come from their latest complete scan; users never scanned have none.
Users without a wave form the wave None, shown as "(no wave)".
"""

from dataclasses import asdict, dataclass

from sqlite_utils import Database

from hdrive_migrate.users.csvfiles import NO_WAVE
from hdrive_migrate.users.roster import unknown_wave

# Each user's latest complete scan; users.upn first, so its NOCASE collation applies.
LATEST_SCANS = """
    SELECT users.upn AS upn, scans.id AS id, scans.finished_at AS finished_at,
           scans.files AS files, scans.folders AS folders, scans.bytes AS bytes
    FROM users JOIN scans ON scans.id = (
        SELECT MAX(id) FROM scans WHERE users.upn = scans.upn AND status = 'complete')
"""


@dataclass(frozen=True)
class WaveSummary:
    """One wave: its users, how many are in each state, and the totals of the latest complete
    scans of the SCANNED users among them (files and bytes None when none was scanned)."""

    wave: str | None
    users: int
    states: dict[str, int]
    scanned: int
    files: int | None
    bytes: int | None


@dataclass(frozen=True)
class Scan:
    """A user's latest complete scan."""

    id: int
    finished_at: str
    files: int
    folders: int
    bytes: int


@dataclass(frozen=True)
class WaveMember:
    """A user as `wave show` reports them; FINDINGS counts findings of every stage."""

    upn: str
    folder: str
    state: str
    drive_id: str | None
    findings: int
    scan: Scan | None

    def as_json(self) -> dict:
        return asdict(self)


def wave_name(wave: str | None) -> str:
    """How people see WAVE: its name, or "(no wave)"."""
    return NO_WAVE if wave is None else wave


def wave_summaries(db: Database) -> list[WaveSummary]:
    """Every wave by name, then the users without one."""
    rows = db.execute(
        f"""WITH latest AS ({LATEST_SCANS})
        SELECT users.wave, users.state, COUNT(*), COUNT(latest.id), SUM(latest.files),
               SUM(latest.bytes)
        FROM users LEFT JOIN latest ON latest.upn = users.upn
        GROUP BY users.wave, users.state ORDER BY users.wave IS NULL, users.wave"""
    ).fetchall()
    waves: dict[str | None, WaveSummary] = {}
    for wave, state, users, scanned, files, size in rows:
        before = waves.get(wave) or WaveSummary(wave, 0, {}, 0, None, None)
        waves[wave] = WaveSummary(
            wave,
            before.users + users,
            {**before.states, state: users},
            before.scanned + scanned,
            _add(before.files, files),
            _add(before.bytes, size),
        )
    return list(waves.values())


def _add(total: int | None, more: int | None) -> int | None:
    return more if total is None else total + (more or 0)


def wave_members(db: Database, name: str) -> list[WaveMember]:
    """The users of the wave NAME ("(no wave)": users without one) by UPN; an empty wave
    raises HdriveError."""
    where = "users.wave IS NULL" if name == NO_WAVE else "users.wave = ?"
    rows = db.execute(
        f"""WITH latest AS ({LATEST_SCANS})
        SELECT users.upn, users.folder, users.state, users.drive_id,
               (SELECT COUNT(*) FROM findings WHERE findings.upn = users.upn),
               latest.id, latest.finished_at, latest.files, latest.folders, latest.bytes
        FROM users LEFT JOIN latest ON latest.upn = users.upn
        WHERE {where} ORDER BY users.upn""",
        [] if name == NO_WAVE else [name],
    ).fetchall()
    if not rows:
        raise unknown_wave(name)
    return [WaveMember(*row[:5], Scan(*row[5:]) if row[5] is not None else None) for row in rows]
