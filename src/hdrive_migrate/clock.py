"""The one clock convention: code that needs the time or must wait takes a `Clock`.

Pure decisions take plain values (`now: datetime`, `at: float`) from their caller; code with
side effects takes a Clock, defaulting to SYSTEM_CLOCK, so tests can drive time themselves
(as s3transfer injects TimeUtils). Nothing else reads the system clock or sleeps.
"""

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC: for records and HTTP dates."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for intervals, rates and deadlines."""

    async def sleep(self, seconds: float) -> None:
        """Wait SECONDS (no wait when zero or negative)."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here: commands that never wait should not pay to import it

        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK: Clock = SystemClock()


def stored_time(moment: datetime) -> str:
    """MOMENT as the workspace stores times: UTC ISO 8601 to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
