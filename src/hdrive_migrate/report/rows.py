"""One user's planned files, streamed from the database, and the pure mapping of one file to
its row in items.csv, the records registers and the user's manifest.

A planned file is one with a decision in the user's current plan run; its decision is the
effective one (plan.current: a review of that run overrides the plan). Its outcome is its
transfer's state, else `not-started` (decided migrate) or `not-migrated` (decided otherwise).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.migrate.status import Cause, reason_cause
from hdrive_migrate.plan.current import EFFECTIVE_SQL
from hdrive_migrate.report.columns import NOT_MIGRATED, NOT_STARTED

REVIEW_RULE = "review"  # the `rule` of a file whose effective decision a reviewer made

_FILES_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.upn, e.path, e.action, e.label,
           CASE WHEN e.review_id IS NULL THEN e.rule_id ELSE '{REVIEW_RULE}' END,
           e.rule_description, e.reason, e.reviewer, e.run_id,
           COALESCE(f.size, t.source_size, 0), f.modified,
           COALESCE(f.sha256, t.sha256), COALESCE(f.quick_xor, t.quick_xor),
           COALESCE(t.state, CASE WHEN e.action = 'migrate' THEN '{NOT_STARTED}'
                                  ELSE '{NOT_MIGRATED}' END),
           COALESCE(t.target_path, CASE WHEN e.action = 'migrate' THEN e.target_path END),
           t.item_id, t.reason, t.detail, t.run_id, COALESCE(t.finished_at, t.started_at),
           CASE WHEN e.action = 'dispose_after_approval' THEN (
               SELECT d.certificate FROM disposal_items AS i
               JOIN disposals AS d ON d.id = i.disposal_id
               WHERE i.upn = e.upn AND i.path = e.path ORDER BY d.id LIMIT 1) END
    FROM effective AS e
    LEFT JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    ORDER BY e.path
"""


class PlannedFile(NamedTuple):
    """One planned file: its effective decision, its inventory row and its transfer, as
    _FILES_SQL derives them in SQLite (where a million rows cost least)."""

    upn: str
    path: str
    action: str  # the effective decision
    label: str | None
    rule: str  # the plan's deciding rule, or REVIEW_RULE when a review decided
    rule_description: str  # the plan's deciding rule's, even when a review decided
    decision_reason: str | None
    reviewer: str | None
    run_id: int
    size: int  # as scanned, else as sent
    modified: float | None
    sha256: str | None  # the scan's, else the one the engine computed while sending
    quick_xor: str | None
    outcome: str  # the transfer's state, else NOT_STARTED (migrate) or NOT_MIGRATED
    target: str | None  # where it is in OneDrive (sent) or will be (decided migrate)
    item_id: str | None
    failure: str | None  # the transfer's reason code (migrate/reasons.py)
    detail: str | None
    job_id: int | None  # the migrate run that recorded the outcome
    time: str | None  # when the transfer finished (or started, while sending)
    certificate: str | None  # the disposal certificate that approved it


class Policy(NamedTuple):
    """The policy of one plan run, as every register and manifest names it."""

    plan_run: int
    policy_id: str
    policy_version: str
    policy_sha256: str


def planned_files(db: Database, upn: str) -> Iterator[PlannedFile]:
    """UPN's planned files in path order, read from a cursor (never all at once)."""
    for row in db.execute(_FILES_SQL, {"upn": upn}):
        yield PlannedFile(*row)


def policies(db: Database) -> dict[int, Policy]:
    """Every plan run's policy, by run id (a workspace has few runs)."""
    rows = db.execute("SELECT id, policy_id, policy_version, policy_sha256 FROM plan_runs")
    return {row[0]: Policy(*row) for row in rows}


def source_path(root: str, folder: str, path: str) -> str:
    """PATH of the home FOLDER under the source ROOT, with the root's separators."""
    return SourcePaths(root, folder)(path)


class SourcePaths:
    """Paths of one home FOLDER under the source ROOT, with the root's separators."""

    def __init__(self, root: str, folder: str) -> None:
        self.sep = "\\" if "\\" in root else "/"
        self.prefix = root.rstrip("\\/") + self.sep + folder + self.sep

    def __call__(self, path: str) -> str:
        return self.prefix + (path if self.sep == "/" else path.replace("/", self.sep))


# outcome -> (Status, Result category) in items.csv; failures take the reason code as the
# category. Status words follow SPMT's where it has one.
STATUSES = {
    "migrated": ("Migrated", "Succeeded"),
    "renamed": ("Migrated", "Renamed"),
    "skipped-identical": ("Skipped", "Identical file in OneDrive"),
    "failed": ("Failed", None),
    "blocked": ("Blocked", None),
    "sending": ("In progress", "In progress"),
    "removed": ("Removed", "Removed after source deletion"),
    NOT_STARTED: ("Not started", "Pending"),
    NOT_MIGRATED: ("Not migrated", "Filtered out"),
}


def item_row(item: PlannedFile, *, source: str, policy: Policy | None, block: Cause | None) -> list:
    """ITEM's row of items.csv (columns.ITEM_COLUMNS); SOURCE its path on the share, BLOCK the
    user's block, if any, which explains a file not started."""
    status, category = STATUSES.get(item.outcome, (item.outcome, item.outcome))
    message = _message(item, block)
    if item.outcome in ("failed", "blocked"):
        category = item.failure or "unknown"
    elif item.outcome == NOT_STARTED and block is not None:
        status, category = "Blocked", block.reason
    name = item.path.rpartition("/")[2]
    return [
        source,
        item.target,
        name,
        extension(name),
        item.size,
        "File",
        status,
        category,
        message,
        None,
        item.item_id,
        None,
        item.job_id,
        None,
        item.upn,
        None,
        item.action,
        item.rule,
        policy.policy_version if policy else None,
        item.sha256,
        item.quick_xor,
    ]


def extension(name: str) -> str:
    """NAME's extension without the dot ("" for none, and for a name like ".profile")."""
    stem, dot, suffix = name.rpartition(".")
    return suffix if dot and stem else ""


def _message(item: PlannedFile, block: Cause | None) -> str:
    outcome = item.outcome
    if outcome in ("failed", "blocked"):
        text = reason_cause(item.failure).explanation
        return f"{text} ({item.detail})" if item.detail else text
    if outcome == "renamed":
        return "sent under another name: a different file already had the planned one"
    if outcome == NOT_STARTED:
        return f"user blocked: {block.explanation}" if block else "not attempted yet"
    if outcome == NOT_MIGRATED:
        why = item.decision_reason or item.rule_description
        who = f"reviewed by {item.reviewer}" if item.reviewer else why
        return f"decision {item.action}: {who}"
    return ""


def register_row(item: PlannedFile, *, source: str, policy: Policy | None) -> list:
    """ITEM's row of its records register (columns.REGISTER_COLUMNS)."""
    return [
        item.upn,
        source,
        item.path,
        item.size,
        iso_time(item.modified),
        item.sha256,
        item.quick_xor,
        item.action,
        item.rule,
        item.rule_description,
        item.decision_reason,
        item.reviewer,
        item.label,
        item.certificate,
        *_policy_cells(item, policy),
    ]


def manifest_row(item: PlannedFile, *, source: str, policy: Policy | None) -> list:
    """ITEM's row of its user's manifest (columns.MANIFEST_COLUMNS)."""
    return [
        source,
        item.target,
        item.size,
        item.sha256,
        item.quick_xor,
        item.item_id,
        item.outcome,
        item.time,
        item.action,
        item.rule,
        *_policy_cells(item, policy),
    ]


def _policy_cells(item: PlannedFile, policy: Policy | None) -> list:
    if policy is None:
        return [item.run_id, None, None, None]
    return list(policy)


def iso_time(seconds: float | None) -> str | None:
    """POSIX SECONDS as UTC ISO 8601 to the second, as the workspace stores times."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
