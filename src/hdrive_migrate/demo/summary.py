"""What the demo's wave came to, in a few lines, from the same status the service desk sees."""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hdrive_migrate.demo.sample import Person
from hdrive_migrate.display import counted
from hdrive_migrate.migrate.status import BLOCKED, report
from hdrive_migrate.workspace import open_workspace

# Decisions other than migrate, as the summary words them, in the order it lists them.
NOT_MOVED = {
    "exclude": "excluded (temporary files, copies, installers)",
    "review": "for a records manager to review",
    "divert_evidence": "diverted as evidence",
    "hold": "held",
    "dispose_after_approval": "awaiting disposal approval",
}


@dataclass
class WaveSummary:
    scanned: int = 0
    migrated: int = 0
    planned: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)  # reason -> files
    blocked: list[tuple[Person, str, int]] = field(default_factory=list)  # reason, files waiting

    def lines(self, people: int) -> list[str]:
        moved = f"{self.migrated:,} migrated to OneDrive"
        others = [f"{self.planned[action]:,} {words}" for action, words in NOT_MOVED.items()]
        failures = [f"{counted(n, 'file')} failed ({reason})" for reason, n in self.failed.items()]
        lines = [
            f"{counted(people, 'person', 'people')}, {counted(self.scanned, 'file')} scanned: "
            + ", ".join([moved, *others, *failures])
        ]
        lines += [
            f"blocked: {person.display_name} ({person.upn}), {reason}; "
            f"{counted(waiting, 'file')} wait for their OneDrive"
            for person, reason, waiting in self.blocked
        ]
        return lines


def summarise(workspace: Path, staff: list[Person]) -> WaveSummary:
    """The wave's totals from each person's status; reading it records no consultation."""
    summary = WaveSummary()
    with open_workspace(workspace) as ws:
        for person in staff:
            found = report(ws.db, person.upn)
            summary.scanned += found.scanned_files or 0
            summary.migrated += found.migrated_files
            summary.planned.update(found.planned)
            summary.failed.update({f.reason: f.count for f in found.failures})
            state, cause = found.state
            if state == BLOCKED:
                reason = cause.reason if cause else "blocked"
                summary.blocked.append((person, reason, found.to_migrate))
    return summary
