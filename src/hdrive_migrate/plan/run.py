"""Planning: a decision for every scanned file of the chosen users, recorded with the deciding
rule, every matched rule, the policy's identity, the reference date and the run."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from hdrive_migrate import __version__
from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.plan.compiled import plan_user_sql
from hdrive_migrate.plan.holds import Holds, UnmatchedHolds, stops_plan, unmatched_rows
from hdrive_migrate.plan.names import NameMapping
from hdrive_migrate.plan.reference import decisions, inventory_of, kept_copies
from hdrive_migrate.plan.targets import TargetTree
from hdrive_migrate.policy.compile import CompiledPolicy, compile_policy
from hdrive_migrate.policy.parse import Policy, load_policy
from hdrive_migrate.policy.sql import NotExpressible, SqlPolicy, sql_policy
from hdrive_migrate.policy.units import EARLIEST_DAY
from hdrive_migrate.store import now_text, record_event, transaction

BATCH = 5000


@dataclass(frozen=True)
class PlanRequest:
    policy_file: Path
    holds: Holds
    as_of: date
    atime_trusted: bool
    target_folder: str
    mapping: NameMapping
    allow_unmatched_holds: bool = False
    clock: Clock = SYSTEM_CLOCK  # the times the run and the audit log record


@dataclass
class PlanResult:
    run_id: int
    decisions: int = 0
    held: int = 0  # files the hold register holds, whatever their action
    by_action: dict[str, int] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    not_scanned: list[str] = field(default_factory=list)
    unmatched_holds: list[HdriveError] = field(default_factory=list)
    # Why the policy was planned row by row in Python rather than in SQL; None when in SQL.
    planned_in_python: str | None = None


def plan(db: Database, upns: list[str], request: PlanRequest) -> PlanResult:
    """Plan every user in `upns` that has a complete scan; the run replaces each planned
    user's current plan, and earlier runs stay in the database as history. Hold register
    rows whose path holds nothing raise UnmatchedHolds before anything is written, unless the
    request allows them; they, and rows naming a UPN not in the workspace (never a stop), come
    back in `unmatched_holds` to be warned of."""
    policy = load_policy(request.policy_file)
    compiled = compile_policy(policy, request.as_of, atime_trusted=request.atime_trusted)
    scanned = {upn for upn in upns if latest_scan_complete(db, upn)}
    unmatched = unmatched_holds(db, scanned, request.holds)
    stopping = [row for row in unmatched if stops_plan(row)]
    if stopping and not request.allow_unmatched_holds:
        warned = [row for row in unmatched if not stops_plan(row)]
        raise UnmatchedHolds(request.holds.source, stopping, warned)
    result = PlanResult(start_run(db, policy, compiled, request), unmatched_holds=unmatched)
    try:
        sql: SqlPolicy | None = sql_policy(compiled)
    except NotExpressible as exc:
        sql, result.planned_in_python = None, str(exc)
    for upn in upns:
        if upn not in scanned:
            result.not_scanned.append(upn)
            continue
        counts, held = plan_user(db, result.run_id, upn, compiled, request, sql)
        for action, count in counts.items():
            result.by_action[action] = result.by_action.get(action, 0) + count
            result.decisions += count
        result.held += held
        result.planned.append(upn)
    finish_run(db, result, request.clock)
    return result


def check_reference_date(as_of: date, today: date, *, allow_future: bool) -> None:
    """Refuse an --as-of that ages cannot be measured from, and one after TODAY unless
    ALLOW_FUTURE: a future date makes every file look older than it is, so files would be
    marked for disposal before their time."""
    if as_of < EARLIEST_DAY:
        raise HdriveError(
            f"--as-of {as_of} is before {EARLIEST_DAY}",
            fix=f"give a reference date from {EARLIEST_DAY} on, as YYYY-MM-DD",
        )
    if as_of > today and not allow_future:
        raise HdriveError(
            f"--as-of {as_of} is after today ({today}), which would judge files older than they"
            " are",
            fix="give a date up to today, or add --allow-future-as-of to plan ahead on purpose",
        )


def unmatched_holds(db: Database, planned: set[str], holds: Holds) -> list[HdriveError]:
    """The hold register's rows that hold nothing (see `unmatched_rows`), judged against the
    workspace's users and the inventories of the users about to be planned."""
    if not holds.rows:
        return []
    workspace = {upn.lower(): upn for (upn,) in db.execute("SELECT upn FROM users")}
    return unmatched_rows(
        holds,
        workspace.keys(),
        {upn.lower() for upn in planned},
        lambda key: db.execute(
            "SELECT path, is_dir FROM files WHERE upn = ? AND change != 'deleted'",
            [workspace[key]],
        ),
    )


def latest_scan_complete(db: Database, upn: str) -> bool:
    """A plan reads the inventory as it is now: after an interrupted re-scan that would mix
    two scans, so the user's latest scan must have finished."""
    latest = db.execute(
        "SELECT status FROM scans WHERE upn = ? ORDER BY id DESC LIMIT 1", [upn]
    ).fetchone()
    return latest is not None and latest[0] == "complete"


def start_run(db: Database, policy: Policy, compiled: CompiledPolicy, request: PlanRequest) -> int:
    with transaction(db):
        # A run still 'running' now was killed: its users' plans are whole (each user's
        # decisions and pointer are written together), but the run never finished.
        db.execute("UPDATE plan_runs SET status = 'interrupted' WHERE status = 'running'")
        run_id = db.execute(
            "INSERT INTO plan_runs(policy_id, policy_version, policy_sha256, policy_file,"
            " policy_labels, policy_approved_by, holds_sha256, target_folder, as_of, tool_version,"
            " started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')",
            [
                compiled.policy_id,
                compiled.version,
                compiled.sha256,
                str(request.policy_file.resolve()),
                json.dumps(list(policy.labels)),
                json.dumps(list(policy.approved_by)),
                request.holds.sha256,
                request.target_folder,
                request.as_of.isoformat(),
                __version__,
                now_text(request.clock),
            ],
        ).lastrowid
        db.conn.executemany(
            "INSERT INTO plan_rules(run_id, idx, rule_id, kind, action, label, description)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, index, rule.id, rule.kind, rule.action, rule.label, rule.description)
                for index, rule in enumerate(compiled.rules)
            ],
        )
    return run_id


def finish_run(db: Database, result: PlanResult, clock: Clock = SYSTEM_CLOCK) -> None:
    with transaction(db):
        db.execute(
            "UPDATE plan_runs SET status = 'complete', finished_at = ?, decisions = ? WHERE id = ?",
            [now_text(clock), result.decisions, result.run_id],
        )
    policy = policy_of(db, result.run_id)
    record_event(
        db,
        "plan",
        f"run {result.run_id}",
        {
            "policy": policy,
            "users": len(result.planned),
            "decisions": result.decisions,
            "held": result.held,
            "unmatched_holds": len(result.unmatched_holds),
            "by_action": result.by_action,
            "not_scanned": len(result.not_scanned),
        },
        at=clock.now(),
    )

    previous = db.execute(
        "SELECT id FROM plan_runs WHERE status = 'complete' AND id < ? ORDER BY id DESC LIMIT 1",
        [result.run_id],
    ).fetchone()
    if previous and (before := policy_of(db, previous[0])) != policy:
        record_event(
            db,
            "policy.changed",
            f"run {result.run_id}",
            {"from": before, "to": policy},
            at=clock.now(),
        )


def policy_of(db: Database, run_id: int) -> dict[str, str]:
    """The policy that decided plan run RUN_ID: its id, version and SHA-256."""
    row = db.execute(
        "SELECT policy_id, policy_version, policy_sha256 FROM plan_runs WHERE id = ?", [run_id]
    ).fetchone()
    return dict(zip(("id", "version", "sha256"), row, strict=True))


def plan_user(
    db: Database,
    run_id: int,
    upn: str,
    compiled: CompiledPolicy,
    request: PlanRequest,
    sql: SqlPolicy | None = None,
) -> tuple[dict[str, int], int]:
    """Decide every file of `upn`'s inventory and make `run_id` the user's current plan;
    (files by action, files on hold). With SQL, the policy's SQL form decides the files in
    one statement; without, the reference decides them one by one."""
    if sql is not None:
        with transaction(db):
            counts, held = plan_user_sql(db, run_id, upn, compiled, sql, request)
            make_current(db, run_id, upn)
        return counts, held
    entries = inventory_of(db, upn)
    tree = TargetTree(request.target_folder, [entry[0] for entry in entries], request.mapping)
    holds = request.holds
    duplicates = kept_copies(entries, upn, compiled, holds)
    counts: dict[str, int] = {}
    with transaction(db):
        for batch in batched(decisions(run_id, upn, entries, compiled, tree, duplicates, holds)):
            db.conn.executemany(
                "INSERT INTO decisions(run_id, upn, path, action, rule, matched, reason,"
                " target_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            for row in batch:
                counts[row[3]] = counts.get(row[3], 0) + 1
        make_current(db, run_id, upn)
    held = holds.checker(upn)
    return counts, sum(1 for entry in entries if not entry[1] and held(entry[0]))


def make_current(db: Database, run_id: int, upn: str) -> None:
    db.execute(
        "INSERT INTO plan_users(upn, run_id) VALUES (?, ?)"
        " ON CONFLICT(upn) DO UPDATE SET run_id = excluded.run_id",
        [upn, run_id],
    )


def batched(rows: Iterator[tuple], size: int = BATCH) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
