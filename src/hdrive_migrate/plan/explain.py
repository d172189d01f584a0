"""Why a file has the decision it has: the deciding rule, every rule that matched, the policy
that made it, and where the file would go in OneDrive."""

from dataclasses import asdict, dataclass

from sqlite_utils import Database

from hdrive_migrate.errors import HdriveError


@dataclass(frozen=True)
class Explanation:
    upn: str
    path: str
    action: str
    rule: str
    rule_description: str
    matched: list[str]
    label: str | None
    target_path: str | None
    reason: str | None
    run_id: int
    policy: dict
    as_of: str

    def as_json(self) -> dict:
        return asdict(self)


def explain(db: Database, upn: str, path: str) -> Explanation:
    """The current plan's decision for one file; HdriveError when there is none."""
    row = db.execute(
        "SELECT d.run_id, d.action, d.rule, d.matched, d.reason, d.target_path, r.policy_id,"
        " r.policy_version, r.policy_sha256, r.policy_file, r.as_of, r.target_folder"
        " FROM plan_users u JOIN decisions d ON d.run_id = u.run_id AND d.upn = u.upn"
        " JOIN plan_runs r ON r.id = d.run_id WHERE u.upn = ? AND d.path = ?",
        [upn, path.strip("/")],
    ).fetchone()
    if row is None:
        raise HdriveError(
            f"no planned file {path!r} for {upn}",
            fix="check the UPN and the path relative to the H: root (as `scan summary` and "
            "`review export` show them), and that the user has been planned",
        )
    run_id, action, rule, matched, reason, target, *policy, as_of, folder = row
    rules = rules_of(db, run_id)
    decider = rules[rule]
    return Explanation(
        upn=upn,
        path=path.strip("/"),
        action=action,
        rule=decider["rule_id"],
        rule_description=decider["description"],
        matched=[rules[i]["rule_id"] for i in sorted(rules) if matched >> i & 1],
        label=decider["label"] if action == "migrate" else None,
        target_path=(target or f"{folder}/{path.strip('/')}") if action == "migrate" else target,
        reason=reason,
        run_id=run_id,
        policy=dict(zip(("id", "version", "sha256", "file"), policy, strict=True)),
        as_of=as_of,
    )


def rules_of(db: Database, run_id: int) -> dict[int, dict]:
    return {
        row["idx"]: row
        for row in db.query("SELECT * FROM plan_rules WHERE run_id = ? ORDER BY idx", [run_id])
    }
