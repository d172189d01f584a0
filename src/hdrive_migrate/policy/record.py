"""What `decide` judges and what it answers: plain values, no I/O."""

from typing import NamedTuple

ACTIONS = ("migrate", "exclude", "review", "hold", "dispose_after_approval", "divert_evidence")


class FileRecord(NamedTuple):
    """One scanned file as the planner sees it. Times are POSIX seconds (None: unknown)."""

    upn: str
    path: str  # relative to the user's H: root, '/'-separated
    size: int
    modified: float | None
    created: float | None
    accessed: float | None
    attributes: int  # DOS attribute bits (hdrive_migrate.sources)
    on_hold: bool  # the hold register names this user or path
    duplicate: bool  # same content as an older copy in the same drive (needs scan hashes)


class Decision(NamedTuple):
    """The outcome for one file. `rule` indexes the compiled policy's rules (guards first,
    then rules in order; the default has the index after the last rule); `matched` has bit i
    set for every rule i that matched, deciding or not."""

    action: str
    rule: int
    matched: int
    label: str | None
