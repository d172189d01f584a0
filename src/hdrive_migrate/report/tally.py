"""Counts and bytes of planned files, per user and for the wave, added up as the files stream
past: by decision, by outcome, failures by reason, and good outcomes by minute (for the charts).
Memory grows with users, reasons and minutes of activity, never with files."""

from collections import Counter
from dataclasses import dataclass, field

from hdrive_migrate.migrate.status import GOOD
from hdrive_migrate.report.rows import PlannedFile


@dataclass
class Tally:
    """Files and bytes of one user's (or the wave's) planned files."""

    files_by_decision: Counter = field(default_factory=Counter)
    bytes_by_decision: Counter = field(default_factory=Counter)
    files_by_outcome: Counter = field(default_factory=Counter)
    bytes_by_outcome: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # reason -> files
    failed_bytes: Counter = field(default_factory=Counter)  # reason -> bytes

    def add(self, item: PlannedFile) -> None:
        size, outcome = item.size, item.outcome
        self.files_by_decision[item.action] += 1
        self.bytes_by_decision[item.action] += size
        self.files_by_outcome[outcome] += 1
        self.bytes_by_outcome[outcome] += size
        if outcome == "failed":
            reason = item.failure or "unknown"
            self.failures[reason] += 1
            self.failed_bytes[reason] += size

    def merge(self, other: "Tally") -> None:
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)

    def _counters(self) -> tuple[Counter, ...]:
        return (
            self.files_by_decision,
            self.bytes_by_decision,
            self.files_by_outcome,
            self.bytes_by_outcome,
            self.failures,
            self.failed_bytes,
        )

    @property
    def files(self) -> int:
        return sum(self.files_by_decision.values())

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_decision.values())


@dataclass
class Timeline:
    """Files and bytes that reached a good outcome (migrated, renamed, skipped-identical), by
    the minute their transfer finished (UTC, "YYYY-MM-DDTHH:MM")."""

    files: Counter = field(default_factory=Counter)
    bytes: Counter = field(default_factory=Counter)

    def add(self, item: PlannedFile) -> None:
        if item.outcome in GOOD and item.time:
            minute = item.time[:16]
            self.files[minute] += 1
            # Skipped-identical files sent nothing: throughput counts bytes sent.
            if item.outcome != "skipped-identical":
                self.bytes[minute] += item.size
