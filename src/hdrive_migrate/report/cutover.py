"""The cutover list: the people whose H: drive mapping and Offline Files cache can be removed
from their laptops, because every file planned to move is in OneDrive, verified there, and
nothing changed at the source since it was sent.

`blocker` is pure: a user's status and CutoverFacts in, the reason they are not ready (or None)
out. `cutover_facts` reads the facts from the workspace database.
"""

from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.display import counted
from hdrive_migrate.migrate.status import GOOD, MIGRATED, Report

USER_FINISHED = "migrate.user_finished"  # the audit event of a migrate pass over one user
SCANNED = "scan"  # the audit event of a complete scan of one user
CUTOVER_COLUMNS = (
    "upn",
    "wave",
    "planned_files",
    "migrated_files",
    "migrated_bytes",
    "last_pass_at",
    "last_scan_at",
    "verified_at",
    "verify_result",
    "verified_files",
)


class CutoverFacts(NamedTuple):
    """What, beyond the status, decides whether a user is ready for cutover."""

    last_pass_at: str | None  # when the latest migrate pass over the user finished
    last_scan_at: str | None  # when the latest complete scan of the home folder finished
    changes_since_pass: int  # files the scans since the last pass found new, changed or deleted
    unverified: int  # files with a good outcome that the latest verify did not find intact


def cutover_facts(db: Database, upn: str) -> CutoverFacts:
    """UPN's CutoverFacts, from the audit log, the scans and the transfers."""
    last_pass, pass_id = db.execute(
        "SELECT at, id FROM events WHERE subject = ? AND action = ? ORDER BY id DESC LIMIT 1",
        [upn, USER_FINISHED],
    ).fetchone() or (None, 0)
    (last_scan,) = db.execute(
        "SELECT MAX(finished_at) FROM scans WHERE upn = ? AND status = 'complete'", [upn]
    ).fetchone()
    # The audit log's order, not the clock's, says which scans came after the pass: its
    # entries are chained one after another, where times may share a second.
    (changes,) = db.execute(
        "SELECT SUM(COALESCE(s.new, 0) + COALESCE(s.changed, 0) + COALESCE(s.deleted, 0))"
        " FROM events AS e JOIN scans AS s ON s.id = json_extract(e.detail, '$.scan_id')"
        " WHERE e.subject = ? AND e.action = ? AND e.id > ?",
        [upn, SCANNED, pass_id],
    ).fetchone()
    good = ", ".join(f"'{state}'" for state in GOOD)
    (unverified,) = db.execute(
        f"SELECT count(*) FROM transfers WHERE upn = ? AND state IN ({good})"
        " AND (verify_result IS NULL OR verify_result != 'ok')",
        [upn],
    ).fetchone()
    return CutoverFacts(last_pass, last_scan, changes or 0, unverified)


def blocker(found: Report, facts: CutoverFacts) -> str | None:
    """Why the user FOUND is not ready for cutover, in words for summary.csv; None when ready:
    migrated (every file to migrate has a good outcome, none failed or open), a complete verify
    since the last pass that found every copy intact, and no scan since that pass that found the
    source changed."""
    state = found.state.state
    if state != MIGRATED:
        return f"not migrated yet (state {state}): {found.next_step}"
    check = found.verification
    if check is None or check.status != "complete":
        return f"not verified: run `hdrive-migrate verify --user {found.upn}`"
    if facts.last_pass_at is not None and _second(check.at) < _second(facts.last_pass_at):
        return (
            f"verified before the last migrate pass: run `hdrive-migrate verify --user {found.upn}`"
        )
    if check.missing or check.changed or facts.unverified:
        return (
            f"{counted(facts.unverified, 'copy', 'copies')} not found intact in OneDrive by the"
            f" last verify: {found.next_step}"
        )
    if facts.changes_since_pass:
        return (
            "the H: drive changed after the last migrate pass "
            f"({counted(facts.changes_since_pass, 'file')} new, changed or deleted): plan and "
            f"migrate again (`hdrive-migrate migrate --user {found.upn}`), then verify"
        )
    return None


def _second(moment: str | None) -> str:
    """MOMENT (stored UTC ISO 8601) to the second: the audit log keeps milliseconds,
    verify runs whole seconds. Within one second a verify counts as after the pass: commands
    writing a workspace run one at a time, and verify reads what the last pass left."""
    return (moment or "")[:19]


def cutover_row(found: Report, facts: CutoverFacts) -> list:
    """The user's row of cutover.csv (CUTOVER_COLUMNS)."""
    check = found.verification
    return [
        found.upn,
        found.wave,
        found.to_migrate,
        found.migrated_files,
        found.migrated_bytes,
        facts.last_pass_at,
        facts.last_scan_at,
        check.at if check else None,
        check.status if check else None,
        check.ok if check else None,
    ]
