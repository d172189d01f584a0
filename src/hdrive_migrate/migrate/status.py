"""Each user's one migration state, derived from the database, and the facts it comes from.

`user_state(facts)` is pure; `report(db, upn)` reads the facts, and the counts a service-desk
analyst needs, with a dozen indexed queries: no table is scanned, and the two that count a
user's rows (decisions by action, transfers by state on the covering transfers_by_state index)
cost about 30 ms for a user of 20,000 files. Nothing in a Report names a file or folder: a
report is read over the phone and pasted into tickets. Only `user_files`, which `status
--files` shows after recording the consultation, names files.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.display import counted, size_text
from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.plan.current import EFFECTIVE_SQL
from hdrive_migrate.users.roster import PREFLIGHT_STAGE, unknown_user

PENDING, SCANNED, PLANNED, MIGRATING = "pending", "scanned", "planned", "migrating"
MIGRATED, WITH_EXCEPTIONS = "migrated", "migrated-with-exceptions"
FAILED, BLOCKED = "failed", "blocked"
STATES = (PENDING, SCANNED, PLANNED, MIGRATING, MIGRATED, WITH_EXCEPTIONS, FAILED, BLOCKED)

# Transfer states (transfers.state) by what they mean for the user.
GOOD = ("migrated", "skipped-identical", "renamed")
BAD = ("failed", "blocked")
OPEN = "sending"
# migrate_runs.status of a run that stopped on a fault fatal for the whole run.
RUN_FAILED = "failed"
# What each kind of preflight finding means, without the names its detail holds.
PREFLIGHT_KINDS = {
    "folder_missing": "the user's home folder is not on the share",
    "folder_unreadable": "the user's home folder cannot be listed by the migration account",
    "user_not_found": "the tenant has no user with this UPN",
    "upn_ambiguous": "the tenant has more than one user this row could be",
    "duplicate_user": "another row of the user list names the same person",
    "onedrive_not_provisioned": "the user's OneDrive has not been created (provisioned) yet",
}


class Cause(NamedTuple):
    """Why a user is blocked or failed: a stable code, a plain explanation, and the fix."""

    reason: str
    explanation: str
    fix: str


@dataclass(frozen=True)
class Facts:
    """What the database knows about one user's migration.

    `to_migrate` counts the files whose effective decision (after reviews) is migrate in the
    current plan; `transfers` counts transfer rows by state; `block` is the user_blocks row;
    `preflight` the first finding of the latest preflight; `run_failure` the cause when the
    latest migrate run that sent this user's files failed as a whole.
    """

    scanned: bool = False
    planned: bool = False
    to_migrate: int = 0
    transfers: Mapping[str, int] = field(default_factory=dict)
    block: Cause | None = None
    preflight: Cause | None = None
    run_failure: Cause | None = None

    def count(self, states: tuple[str, ...]) -> int:
        return sum(self.transfers.get(state, 0) for state in states)


class UserState(NamedTuple):
    state: str
    cause: Cause | None = None


def user_state(facts: Facts) -> UserState:
    """The user's one state. With good = transfers migrated, skipped-identical or renamed,
    bad = failed or blocked, attempted = good + bad, open = transfers sending, N =
    `facts.to_migrate`, and "all attempted" = attempted > 0, attempted >= N and none open
    (transfer rows are one per file, so every planned file then has an outcome), the first
    that holds of:

    - `blocked` (cause): a user_blocks row (the engine found a user-level cause: no OneDrive,
      quota full, account disabled); or the latest preflight found one and no file has been
      attempted or opened yet. A preflight run after migration began never changes the state.
    - `failed` (cause): the latest migrate run that sent the user's files failed as a whole and
      good < N.
    - `failed`: all attempted and none succeeded (good = 0); the failures say why.
    - `migrating`: a session is open, or attempted > 0 but not all attempted: a run is under
      way, or stopped and resumes when migrate runs again.
    - `migrated-with-exceptions`: all attempted, some good, some bad.
    - `migrated`: all attempted and none bad: every file whose effective decision is migrate
      has a good outcome.
    - `planned`: a current plan and nothing attempted or open, even when the plan migrates
      nothing (yet): files awaiting review may still be migrated.
    - `scanned`: a complete scan, no plan.
    - `pending`: none of the above.
    """
    good, bad = facts.count(GOOD), facts.count(BAD)
    attempted, sending = good + bad, facts.transfers.get(OPEN, 0)
    if facts.block is not None:
        return UserState(BLOCKED, facts.block)
    if facts.preflight is not None and attempted == 0 and sending == 0:
        return UserState(BLOCKED, facts.preflight)
    if facts.run_failure is not None and (attempted or sending) and good < facts.to_migrate:
        return UserState(FAILED, facts.run_failure)
    done = attempted > 0 and attempted >= facts.to_migrate and sending == 0
    if done and good == 0:
        return UserState(FAILED)
    if sending or attempted:
        if not done:
            return UserState(MIGRATING)
        return UserState(WITH_EXCEPTIONS if bad else MIGRATED)
    if facts.planned:
        return UserState(PLANNED)
    return UserState(SCANNED if facts.scanned else PENDING)


class Failure(NamedTuple):
    """How many of the user's files failed for one reason, and what fixes it."""

    reason: str
    count: int
    fix: str


class Verification(NamedTuple):
    """The user's latest `verify`."""

    at: str | None
    status: str
    checked: int
    ok: int
    missing: int
    changed: int
    unexpected: int


@dataclass(frozen=True)
class Report:
    """One user's status as `hdrive-migrate status` shows it. Counts only, never names."""

    upn: str
    wave: str | None
    state: UserState
    scanned_files: int | None
    scanned_bytes: int | None
    planned: dict[str, int]
    to_migrate: int
    outcomes: dict[str, int]
    migrated_bytes: int
    failures: list[Failure]
    verification: Verification | None
    last_activity: str | None

    @property
    def migrated_files(self) -> int:
        return sum(self.outcomes.get(state, 0) for state in GOOD)

    @property
    def failed_files(self) -> int:
        return self.outcomes.get("failed", 0)

    @property
    def in_progress(self) -> int:
        return self.outcomes.get(OPEN, 0)

    @property
    def remaining(self) -> int:
        """Planned files with no outcome yet and no open session."""
        finished = sum(self.outcomes.get(state, 0) for state in (*GOOD, *BAD))
        return max(self.to_migrate - finished - self.in_progress, 0)

    @property
    def progress_text(self) -> str:
        """How far the migration is, in words: "3 of 5 files, 1.2 MiB (1 being copied, 1 not
        started)", as `status` and the service-desk card show it."""
        text = f"{self.migrated_files:,} of {counted(self.to_migrate, 'file')}"
        text += f", {size_text(self.migrated_bytes)}"
        extras = [f"{self.in_progress:,} being copied"] if self.in_progress else []
        if self.remaining:
            extras.append(f"{self.remaining:,} not started")
        return text + (f" ({', '.join(extras)})" if extras else "")

    @property
    def next_step(self) -> str:
        """What to do next for this user, as a service-desk analyst would do it."""
        state, cause = self.state
        if cause is not None:
            return cause.fix
        user = f"--user {self.upn}"
        return {
            PENDING: f"scan the home folder: `hdrive-migrate scan {user} --hash`",
            SCANNED: f"plan the files: `hdrive-migrate plan --policy POLICY {user}`",
            PLANNED: f"migrate: `hdrive-migrate migrate {user}`",
            MIGRATING: f"let the run finish, or resume it: `hdrive-migrate migrate {user}`",
            WITH_EXCEPTIONS: f"apply each failure's fix, then `hdrive-migrate migrate {user}`",
            FAILED: f"apply each failure's fix, then `hdrive-migrate migrate {user}`",
            MIGRATED: self._after_migration(),
        }[state]

    def _after_migration(self) -> str:
        check = self.verification
        if check is None:
            return f"check the copies: `hdrive-migrate verify --user {self.upn}`"
        if check.missing or check.changed:
            return (
                "some copies were moved, changed or deleted in OneDrive since: "
                f"`hdrive-migrate verify --user {self.upn}` checks again; ask the user if "
                "they did it"
            )
        return "nothing: every planned file is in OneDrive"

    def as_json(self) -> dict:
        """The report as `status --json` prints it: counts, codes and fixes, no names."""
        state, cause = self.state
        return {
            "upn": self.upn,
            "wave": self.wave,
            "state": state,
            "cause": cause._asdict() if cause else None,
            "next_step": self.next_step,
            "scanned_files": self.scanned_files,
            "scanned_bytes": self.scanned_bytes,
            "planned": self.planned,
            "to_migrate": self.to_migrate,
            "migrated_files": self.migrated_files,
            "migrated_bytes": self.migrated_bytes,
            "outcomes": self.outcomes,
            "in_progress": self.in_progress,
            "remaining": self.remaining,
            "failed_files": self.failed_files,
            "failures": [failure._asdict() for failure in self.failures],
            "verification": self.verification._asdict() if self.verification else None,
            "last_activity": self.last_activity,
        }


def report(db: Database, upn: str) -> Report:
    """The status of the user UPN (any case); an unknown UPN raises HdriveError."""
    found = db.execute("SELECT upn, wave, updated_at FROM users WHERE upn = ?", [upn]).fetchone()
    if found is None:
        raise unknown_user(upn)
    upn, wave, updated_at = found
    scan = db.execute(
        "SELECT files, bytes, finished_at FROM scans WHERE upn = ? AND status = 'complete'"
        " ORDER BY id DESC LIMIT 1",
        [upn],
    ).fetchone()
    plan_run, planned_at = _plan_run(db, upn)
    planned = planned_counts(db, upn, plan_run) if plan_run is not None else {}
    transfers = _transfers(db, upn)
    block = _block(db, upn)
    facts = Facts(
        scanned=scan is not None,
        planned=plan_run is not None,
        to_migrate=planned.get("migrate", 0),
        transfers=transfers.counts,
        block=block.cause if block else None,
        preflight=_preflight(db, upn),
        run_failure=_run_failure(db, transfers.last_run),
    )
    verification = _verification(db, upn)
    moments = (
        updated_at,
        scan[2] if scan else None,
        planned_at,
        transfers.last_at,
        block.at if block else None,
        verification.at if verification else None,
    )
    return Report(
        upn=upn,
        wave=wave,
        state=user_state(facts),
        scanned_files=scan[0] if scan else None,
        scanned_bytes=scan[1] if scan else None,
        planned=planned,
        to_migrate=facts.to_migrate,
        outcomes=dict(transfers.counts),
        migrated_bytes=transfers.good_bytes,
        failures=_failures(db, upn),
        verification=verification,
        last_activity=max((m for m in moments if m), default=None),
    )


def _plan_run(db: Database, upn: str) -> tuple[int | None, str | None]:
    """UPN's current plan run and when it finished."""
    found = db.execute("SELECT run_id FROM plan_users WHERE upn = ?", [upn]).fetchone()
    if found is None:
        return None, None
    finished = db.execute("SELECT finished_at FROM plan_runs WHERE id = ?", found).fetchone()
    return found[0], finished[0]


def planned_counts(db: Database, upn: str, run_id: int) -> dict[str, int]:
    """Files by effective action (plan.current's rule: the latest review of the run wins) in
    UPN's plan run RUN_ID. Counted from the plan's decisions, then moved by the reviews, which
    are few: joining every decision to its reviews as EFFECTIVE_SQL does costs far more."""
    counts: dict[str, int] = dict(
        db.execute(
            "SELECT action, COUNT(*) FROM decisions WHERE run_id = ? AND upn = ? GROUP BY action",
            [run_id, upn],
        ).fetchall()
    )
    reviewed = db.execute(
        """SELECT d.action, r.decision FROM reviews AS r
        JOIN decisions AS d ON d.run_id = r.run_id AND d.upn = r.upn AND d.path = r.path
        WHERE r.upn = :upn AND r.run_id = :run AND r.id = (
            SELECT MAX(id) FROM reviews AS later
            WHERE later.upn = r.upn AND later.path = r.path AND later.run_id = r.run_id)""",
        {"upn": upn, "run": run_id},
    )
    for planned, decided in reviewed:
        counts[planned] -= 1
        counts[decided] = counts.get(decided, 0) + 1
    return {action: count for action, count in sorted(counts.items()) if count}


class _Transfers(NamedTuple):
    counts: dict[str, int]
    good_bytes: int
    last_at: str | None
    last_run: int | None


def _transfers(db: Database, upn: str) -> _Transfers:
    rows = db.execute(
        "SELECT state, COUNT(*), SUM(source_size), MAX(COALESCE(finished_at, started_at)),"
        " MAX(run_id) FROM transfers WHERE upn = ? GROUP BY state",
        [upn],
    ).fetchall()
    return _Transfers(
        counts={state: count for state, count, *_ in rows},
        good_bytes=sum(size or 0 for state, _, size, *_ in rows if state in GOOD),
        last_at=max((at for *_, at, _ in rows if at), default=None),
        last_run=max((run for *_, run in rows if run is not None), default=None),
    )


def _failures(db: Database, upn: str) -> list[Failure]:
    rows = db.execute(
        "SELECT reason, COUNT(*) FROM transfers WHERE upn = ? AND state = 'failed'"
        " GROUP BY reason ORDER BY COUNT(*) DESC, reason",
        [upn],
    ).fetchall()
    return [
        Failure(code or "unknown", count, for_user(reason_cause(code).fix, upn))
        for code, count in rows
    ]


def for_user(fix: str, upn: str) -> str:
    """FIX with the commands' UPN placeholders filled in, ready to copy."""
    return fix.replace("--user UPN", f"--user {upn}").replace(
        "-UserEmails UPN", f"-UserEmails {upn}"
    )


class _Block(NamedTuple):
    cause: Cause
    at: str


def _block(db: Database, upn: str) -> _Block | None:
    found = db.execute("SELECT reason, at FROM user_blocks WHERE upn = ?", [upn]).fetchone()
    if found is None:
        return None
    cause = reason_cause(found[0])
    return _Block(cause._replace(fix=for_user(cause.fix, upn)), found[1])


def reason_cause(code: str | None) -> Cause:
    """The Cause for an engine reason CODE (migrate/reasons.py). A code this version does not
    know (a newer tool recorded it) still gets a cause rather than failing the report."""
    if code in REASONS:
        explanation, fix = REASONS[code]
        return Cause(code, explanation, fix)
    return Cause(
        code or "unknown",
        "the migration recorded a reason this version of hdrive-migrate does not know",
        "check the migrate log in the workspace, or upgrade hdrive-migrate",
    )


def _preflight(db: Database, upn: str) -> Cause | None:
    """The latest preflight's first finding. Its detail names folders, so only its kind and
    fix are kept."""
    found = db.execute(
        "SELECT kind, detail FROM findings WHERE upn = ? AND stage = ? ORDER BY id LIMIT 1",
        [upn, PREFLIGHT_STAGE],
    ).fetchone()
    if found is None:
        return None
    kind, detail = found
    explanation = PREFLIGHT_KINDS.get(kind, "preflight found a problem with this user")
    _, marker, fix = detail.partition(". Fix: ")
    return Cause(
        kind, explanation, fix if marker else f"run `hdrive-migrate preflight --user {upn}`"
    )


def _run_failure(db: Database, run_id: int | None) -> Cause | None:
    found = db.execute("SELECT status FROM migrate_runs WHERE id = ?", [run_id]).fetchone()
    if found is None or found[0] != RUN_FAILED:
        return None
    return Cause(
        "run-failed",
        f"migrate run {run_id} stopped on a fault that affected every user (such as the app's "
        "credentials being refused)",
        "check the migrate log in the workspace, fix the cause (`hdrive-migrate tenant check` "
        "tests the credentials), then run migrate again",
    )


def _verification(db: Database, upn: str) -> Verification | None:
    found = db.execute(
        "SELECT COALESCE(finished_at, started_at), status, checked, ok, missing, changed,"
        " unexpected FROM verify_runs WHERE upn = ? ORDER BY id DESC LIMIT 1",
        [upn],
    ).fetchone()
    return Verification(*found) if found else None


class FileLine(NamedTuple):
    """One planned file of a user as `status --files` lists it: its path on the H: drive, its
    path in OneDrive (the one it was sent under when it was, else the plan's when it is to
    migrate, as the engine works it out; None when it is not to migrate), its effective
    decision, the
    plan's deciding rule (`reviewed` is true when a records manager's decision overrides the
    rule's), its outcome (a transfer state; `not-started` when it is to migrate and has none; None
    when it is not to migrate) and the reason: the failure's code when it failed or was
    blocked, else the planner's reason, if any."""

    path: str
    target_path: str | None
    decision: str
    rule: str
    outcome: str | None
    reason: str | None
    reviewed: bool


NOT_STARTED = "not-started"
_FILES_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.path,
           COALESCE(t.target_path, CASE WHEN e.action = 'migrate'
               THEN COALESCE(e.target_path, p.target_folder || '/' || e.path) END),
           e.action, e.rule_id, t.state, COALESCE(t.reason, e.reason), e.review_id IS NOT NULL
    FROM effective AS e
    JOIN plan_runs AS p ON p.id = e.run_id
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    ORDER BY e.path
"""


def user_files(db: Database, upn: str) -> Iterator[FileLine]:
    """UPN's planned files (effective decisions of the current plan, after reviews) in path
    order, read from a cursor so a user of any size streams. Names every file: callers record
    the consultation first (status.files_viewed)."""
    for path, target, decision, rule, state, reason, reviewed in db.execute(
        _FILES_SQL, {"upn": upn}
    ):
        outcome = state or (NOT_STARTED if decision == "migrate" else None)
        yield FileLine(path, target, decision, rule, outcome, reason, bool(reviewed))
