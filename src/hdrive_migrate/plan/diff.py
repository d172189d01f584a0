"""What a new policy version would change before it is applied: each file's current decision
beside the one the new policy gives, judged on the same inventory and reference date."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from hdrive_migrate.plan.reference import decisions, inventory_of, kept_copies
from hdrive_migrate.plan.run import PlanRequest
from hdrive_migrate.plan.targets import TargetTree
from hdrive_migrate.policy.compile import compile_policy
from hdrive_migrate.policy.parse import load_policy

SAMPLES = 5


@dataclass
class PlanDiff:
    changes: Counter = field(default_factory=Counter)  # (old action, new action) -> files
    samples: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    unchanged: int = 0
    not_planned: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "changes": [
                {"from": old, "to": new, "files": count, "samples": self.samples[(old, new)]}
                for (old, new), count in sorted(self.changes.items())
            ],
            "unchanged": self.unchanged,
            "not_planned": self.not_planned,
        }


def diff_plans(db: Database, upns: list[str], request: PlanRequest) -> PlanDiff:
    """Compare each user's current plan with `request.policy_file`, at the current plan's own
    reference date (so that only the policy differs); nothing is written."""
    policy = load_policy(request.policy_file)
    compiled_for: dict[str, object] = {}
    result = PlanDiff()
    for upn in upns:
        current = db.execute(
            "SELECT u.run_id, r.as_of FROM plan_users u JOIN plan_runs r ON r.id = u.run_id"
            " WHERE u.upn = ?",
            [upn],
        ).fetchone()
        if current is None:
            result.not_planned.append(upn)
            continue
        run_id, as_of = current
        if as_of not in compiled_for:
            compiled_for[as_of] = compile_policy(
                policy, date.fromisoformat(as_of), atime_trusted=request.atime_trusted
            )
        _compare_user(db, upn, run_id, compiled_for[as_of], request, result)
    return result


def _compare_user(db, upn, run_id, compiled, request: PlanRequest, result: PlanDiff) -> None:
    old = dict(
        db.execute(
            "SELECT path, action FROM decisions WHERE run_id = ? AND upn = ?", [run_id, upn]
        ).fetchall()
    )
    entries = inventory_of(db, upn)
    tree = TargetTree(request.target_folder, [entry[0] for entry in entries], request.mapping)
    holds = request.holds
    duplicates = kept_copies(entries, upn, compiled, holds)
    rows = decisions(0, upn, entries, compiled, tree, duplicates, holds)
    for _, _, path, new_action, *_ in rows:
        before = old.get(path, "(not planned)")
        if before == new_action:
            result.unchanged += 1
            continue
        result.changes[(before, new_action)] += 1
        samples = result.samples.setdefault((before, new_action), [])
        if len(samples) < SAMPLES:
            samples.append(f"{upn}: {path}")
