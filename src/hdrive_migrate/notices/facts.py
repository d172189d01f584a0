"""What a notice tells one user, counted from the database: never a file or folder name.

Before the wave: the files whose effective decision (plan.current, reviews applied) is migrate,
those of them going under a new name, and the rest by why they stay behind. After it: the same
reasons, and what the migration did with the files it was to move (migrate/status.py).
`reason_kind` and `failure_kind` are pure; the rest read the database.
"""

from collections import Counter
from dataclasses import dataclass, field

from sqlite_utils import Database

from hdrive_migrate.migrate.status import BAD, GOOD, MIGRATED, WITH_EXCEPTIONS, Report, report
from hdrive_migrate.plan.current import EFFECTIVE_SQL
from hdrive_migrate.plan.names import TOO_LONG_START
from hdrive_migrate.plan.reference import LINK_REASON

BEFORE, AFTER = "before", "after"
STAGES = (BEFORE, AFTER)
# Why a planned file does not move, as notices word it (the keys the templates are given).
NOT_MOVING = (
    "clutter",  # temporary files, empty files, programs: excluded by the policy
    "duplicates",  # further copies of a file kept once
    "mail_archives",  # PST and OST files, for a records manager to review
    "review",  # anything else a records manager looks at first (photos, unrecognised files)
    "too_long",  # the OneDrive path would pass 400 characters
    "links",  # links and shortcuts OneDrive cannot hold
    "old_files",  # untouched for years, awaiting disposal approval
    "evidence",  # diverted to the evidence team
    "held",  # on the hold register
)
# Why a file the migration was to move did not, as notices word it.
FAILED = ("changed", "unreadable", "too_large", "names", "deleted", "other")
_FAILURE_KINDS = {
    "changed-during-migration": "changed",
    "hash-mismatch": "changed",
    "source-unreadable": "unreadable",
    "too-large": "too_large",
    "path-too-long": "names",
    "name-refused": "names",
    "source-vanished": "deleted",
}
MAIL_ARCHIVES = (".pst", ".ost")
# States in which a user's files are in OneDrive, so an after-notice can say where.
MOVED_STATES = (MIGRATED, WITH_EXCEPTIONS)


def reason_kind(action: str, path: str, reason: str | None) -> str | None:
    """Why a file whose effective decision is ACTION stays behind (one of NOT_MOVING), or None
    when it moves. PATH is read only for its extension; REASON is the planner's."""
    if action == "migrate":
        return None
    if action == "exclude":
        return "duplicates" if (reason or "").startswith("duplicate of ") else "clutter"
    if action == "review":
        if reason == LINK_REASON:
            return "links"
        if (reason or "").startswith(TOO_LONG_START):
            return "too_long"
        return "mail_archives" if path.lower().endswith(MAIL_ARCHIVES) else "review"
    return {
        "dispose_after_approval": "old_files",
        "divert_evidence": "evidence",
        "hold": "held",
    }.get(action, "review")


def failure_kind(code: str | None) -> str:
    """The plain kind (one of FAILED) of an engine failure reason CODE."""
    return _FAILURE_KINDS.get(code or "", "other")


@dataclass(frozen=True)
class PlanCounts:
    """One user's current plan as a notice counts it."""

    moving: int
    renamed: int  # of those moving, how many go under a new name (or into a renamed folder)
    not_moving: dict[str, int]  # every key of NOT_MOVING
    target_folder: str

    @property
    def staying(self) -> int:
        return sum(self.not_moving.values())


def plan_counts(db: Database, upn: str) -> PlanCounts | None:
    """UPN's current plan counted for a notice, or None when the user has no plan."""
    folder = db.execute(
        "SELECT p.target_folder FROM plan_users AS u JOIN plan_runs AS p ON p.id = u.run_id"
        " WHERE u.upn = ?",
        [upn],
    ).fetchone()
    if folder is None:
        return None
    moving = renamed = 0
    staying: Counter[str] = Counter()
    rows = db.execute(
        f"WITH effective AS ({EFFECTIVE_SQL}) SELECT action, path, reason, target_path"
        " FROM effective",
        {"upn": upn},
    )
    for action, path, reason, target in rows:
        kind = reason_kind(action, path, reason)
        if kind is None:
            moving += 1
            renamed += target is not None  # stored only when it differs from the original
        else:
            staying[kind] += 1
    return PlanCounts(moving, renamed, {kind: staying[kind] for kind in NOT_MOVING}, folder[0])


@dataclass(frozen=True)
class Outcome:
    """What the migration did with the files it was to move, for an after-notice."""

    state: str
    moved: int
    failed: dict[str, int] = field(default_factory=dict)  # every key of FAILED
    blocked: int = 0
    waiting: int = 0  # planned to move and not finished yet

    @property
    def not_moved(self) -> int:
        return sum(self.failed.values()) + self.blocked + self.waiting


def outcome(db: Database, upn: str) -> Outcome:
    """UPN's migration outcome, from `migrate.status.report`."""
    found: Report = report(db, upn)
    failed: Counter[str] = Counter()
    for failure in found.failures:
        failed[failure_kind(failure.reason)] += failure.count
    finished = sum(found.outcomes.get(state, 0) for state in (*GOOD, *BAD))
    return Outcome(
        state=found.state.state,
        moved=found.migrated_files,
        failed={kind: failed[kind] for kind in FAILED},
        blocked=found.outcomes.get("blocked", 0),
        waiting=max(found.to_migrate - finished, 0),
    )
