"""The reference planner, row by row in Python: what the set-based planner (plan/compiled.py)
must agree with, and what plans a policy SQL cannot state."""

from collections import defaultdict
from collections.abc import Iterator

from sqlite_utils import Database

from hdrive_migrate.plan.holds import Holds
from hdrive_migrate.plan.names import path_length_problem
from hdrive_migrate.plan.targets import TargetTree
from hdrive_migrate.policy.compile import CompiledPolicy
from hdrive_migrate.policy.decide import decide
from hdrive_migrate.policy.record import FileRecord

LINK_REASON = "a link or reparse point: OneDrive cannot hold it; recorded, not followed"


def decisions(
    run_id: int,
    upn: str,
    entries: list[tuple],
    compiled: CompiledPolicy,
    tree: TargetTree,
    duplicates: dict[str, str],
    holds: Holds,
) -> Iterator[tuple]:
    """Decision rows for the files among `entries` (folders take their files' fate)."""
    held = holds.checker(upn)
    for entry in entries:
        if entry[1]:
            continue
        path, link = entry[0], entry[7]
        original = duplicates.get(path)
        decision = decide(record_of(upn, entry, held(path), original is not None), compiled)
        action, reason, target = decision.action, None, None
        if original is not None:
            reason = f"duplicate of {original}"
        if action == "migrate":
            action, reason, target = place(path, link, tree, reason)
        yield (run_id, upn, path, action, decision.rule, decision.matched, reason, target)


def place(path: str, link: bool, tree: TargetTree, reason: str | None):
    """(action, reason, stored target path) for a file the policy lets migrate. The target is
    stored only when it differs from the target folder plus the original path."""
    if link:
        return "review", LINK_REASON, None
    target = tree.target(path)
    if too_long := path_length_problem(target):
        return "review", too_long, target
    return "migrate", reason, None if target == tree.prefix + path else target


def inventory_of(db: Database, upn: str) -> list[tuple]:
    """The user's entries as the latest scan saw them, in path order."""
    return db.execute(
        "SELECT path, is_dir, size, modified, created, accessed, attributes, link, sha256"
        " FROM files WHERE upn = ? AND change != 'deleted' ORDER BY path",
        [upn],
    ).fetchall()


def record_of(upn: str, entry: tuple, on_hold: bool, duplicate: bool) -> FileRecord:
    path, _, size, modified, created, accessed, attributes, _, _ = entry
    return FileRecord(upn, path, size, modified, created, accessed, attributes, on_hold, duplicate)


def kept_copies(
    entries: list[tuple], upn: str, compiled: CompiledPolicy, holds: Holds
) -> dict[str, str]:
    """Path -> the copy kept in its place, for files whose scan hashed them. The kept copy is
    the oldest (by modification time, then path) that the policy migrates when judged as no
    one's duplicate; only younger copies are its duplicates. A group none of whose copies
    migrates has no duplicates, so no content is left behind because its oldest copy is
    disposed of, held or diverted. Empty files are not duplicates: they hold nothing."""
    groups: dict[str, list[tuple]] = defaultdict(list)
    for entry in entries:
        path, is_dir, size, modified, *_, sha256 = entry
        if sha256 and size and not is_dir:
            groups[sha256].append(((modified or 0.0, path), entry))
    held = holds.checker(upn)
    kept: dict[str, str] = {}
    for copies in groups.values():
        if len(copies) < 2:
            continue
        copies.sort()
        for index, (_, entry) in enumerate(copies):
            record = record_of(upn, entry, held(entry[0]), duplicate=False)
            if decide(record, compiled).action == "migrate":
                kept.update({later[0]: entry[0] for _, later in copies[index + 1 :]})
                break
    return kept
