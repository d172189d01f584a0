"""Each file's effective decision: what the plan decided, unless a records manager has since.

A file's effective decision is its decision in the user's current plan run (`plan_users`),
overridden by the latest review of that file recorded for that same run. Reviews recorded
for an earlier run stay in `reviews` as history but no longer apply: re-planning puts every
file in front of the (possibly changed) policy again, and the reviewer saw another rule and
reason.
"""

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from sqlite_utils import Database

_EFFECTIVE = """
    SELECT d.upn AS upn, d.path AS path, d.run_id AS run_id,
           COALESCE(r.decision, d.action) AS action,
           CASE WHEN r.id IS NOT NULL THEN r.label
                WHEN d.action = 'migrate' THEN pr.label END AS label,
           d.action AS planned_action, pr.rule_id AS rule_id,
           pr.description AS rule_description, d.reason AS reason,
           d.target_path AS target_path, r.id AS review_id, r.reviewer AS reviewer
    FROM plan_users AS pu
    JOIN decisions AS d ON d.run_id = pu.run_id AND d.upn = pu.upn
    JOIN plan_rules AS pr ON pr.run_id = d.run_id AND pr.idx = d.rule
    {latest_review}
    WHERE pu.upn = :upn
"""

EFFECTIVE_SQL = _EFFECTIVE.format(
    latest_review="""LEFT JOIN reviews AS r ON r.id = (
        SELECT MAX(id) FROM reviews
        WHERE reviews.upn = d.upn AND reviews.path = d.path AND reviews.run_id = d.run_id)"""
)
"""One user's (`:upn`) effective decisions; wrap it (`WITH effective AS (...)`) to filter or
join. `label` is the reviewer's, else the deciding rule's when the plan migrates the file (the
planner may send a file its rule would migrate to review instead, e.g. for a target path too
long). `rule_id` and `rule_description` are the plan's deciding rule even when a review
overrides it; `review_id` and `reviewer` are NULL when no review of the current run applies.
Reviews are ordered by id, so the one recorded last wins."""

EVERY_EFFECTIVE_SQL = _EFFECTIVE.format(
    latest_review="""LEFT JOIN (
        SELECT path AS latest_path, MAX(id) AS latest_id FROM reviews
        WHERE upn = :upn AND run_id = (SELECT run_id FROM plan_users WHERE upn = :upn)
        GROUP BY path) AS latest ON latest.latest_path = d.path
    LEFT JOIN reviews AS r ON r.id = latest.latest_id"""
)
"""EFFECTIVE_SQL's rows, for reading all of them: the user's latest reviews are gathered once
rather than looked up file by file (a fifth of a report's query). A look-up of a few files
uses EFFECTIVE_SQL, which does not read the user's every review."""


class Effective(NamedTuple):
    """One file's effective decision; the fields are EFFECTIVE_SQL's columns."""

    upn: str
    path: str
    run_id: int
    action: str
    label: str | None
    planned_action: str
    rule_id: str
    rule_description: str
    reason: str | None
    target_path: str | None
    review_id: int | None
    reviewer: str | None


def effective_decisions(db: Database, upns: Iterable[str]) -> Iterator[Effective]:
    """The effective decision of every planned file of UPNS, user by user in the order given,
    each user's files in path order. Users without a plan yield nothing."""
    for upn in upns:
        cursor = db.execute(f"{EFFECTIVE_SQL} ORDER BY d.path", {"upn": upn})
        for row in cursor:
            yield Effective(*row)
