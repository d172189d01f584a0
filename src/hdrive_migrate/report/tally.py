"""Counts and bytes of planned files, per user and for the wave, added up as the files stream
past: by decision, by outcome, failures by reason, and good outcomes by minute (for the charts).
Memory grows with users, reasons and minutes of activity, never with files."""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Files and bytes of one user's (or the wave's) planned files."""

    files_by_decision: Counter = field(default_factory=Counter)
    bytes_by_decision: Counter = field(default_factory=Counter)
    files_by_outcome: Counter = field(default_factory=Counter)
    bytes_by_outcome: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # reason -> files
    failed_bytes: Counter = field(default_factory=Counter)  # reason -> bytes

    @classmethod
    def of(cls, groups: dict[tuple[str, str, str | None], list[int]]) -> "Tally":
        """The tally of GROUPS: (decision, outcome, failure reason or None) -> [files, bytes]."""
        tally = cls()
        for (action, outcome, reason), (files, size) in groups.items():
            tally.files_by_decision[action] += files
            tally.bytes_by_decision[action] += size
            tally.files_by_outcome[outcome] += files
            tally.bytes_by_outcome[outcome] += size
            if reason is not None:
                tally.failures[reason] += files
                tally.failed_bytes[reason] += size
        return tally

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

    def merge(self, other: "Timeline") -> None:
        self.files.update(other.files)
        self.bytes.update(other.bytes)

    def add(self, minute: str, files: int, sent: int) -> None:
        """FILES that reached a good outcome in MINUTE, having sent SENT bytes."""
        self.files[minute] += files
        self.bytes[minute] += sent
