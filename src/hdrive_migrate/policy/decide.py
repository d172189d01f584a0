"""The planner's one decision: pure, no I/O and no clock (ages were fixed at compile time)."""

from hdrive_migrate.policy.compile import CompiledPolicy
from hdrive_migrate.policy.record import Decision, FileRecord


def decide(record: FileRecord, compiled: CompiledPolicy) -> Decision:
    """The decision for RECORD: `matched` has a bit for every guard and rule it matches; the
    first matching guard decides, else the first matching rule, else the default."""
    mask = compiled.match(record)
    decision = compiled.decisions.get(mask)
    return decision if decision is not None else compiled.decision_for(mask)
