"""The engine's limits: the --window of local time in which new files start, the --max-mbps
token bucket on bytes read from the source, and the budget of bytes held in memory. Decisions
are pure; only `ByteRate.take` and `ByteBudget.hold` wait."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.errors import HdriveError

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
BITS_PER_BYTE = 8
# The bucket holds at most this many seconds of allowance, so a pause is not followed by a burst.
BURST_SECONDS = 1.0


@dataclass(frozen=True)
class Window:
    """Local times between which new files may start; `end` before `start` crosses midnight
    (22:00-06:00 is a night window)."""

    start: time
    end: time

    def is_open(self, local_now: datetime) -> bool:
        now = local_now.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def seconds_to_end(self, local_now: datetime) -> float:
        """Seconds from LOCAL_NOW (inside the window) to its end."""
        return _seconds_to(self.end, local_now)

    def seconds_to_start(self, local_now: datetime) -> float:
        """Seconds from LOCAL_NOW (outside the window) to its next start."""
        return _seconds_to(self.start, local_now)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _seconds_to(moment: time, local_now: datetime) -> float:
    target = datetime.combine(local_now.date(), moment, tzinfo=local_now.tzinfo)
    if target <= local_now:
        target += timedelta(days=1)
    return (target - local_now).total_seconds()


def parse_window(text: str) -> Window:
    """The window TEXT (HH:MM-HH:MM, 24-hour local time); HdriveError when malformed or empty."""
    match = _WINDOW.match(text.strip())
    if not match:
        raise HdriveError(
            f"--window {text!r} is not a window of local time",
            fix="write it as HH:MM-HH:MM in 24-hour time, e.g. --window 19:00-07:00",
        )
    hours_start, minutes_start, hours_end, minutes_end = (int(g) for g in match.groups())
    window = Window(time(hours_start, minutes_start), time(hours_end, minutes_end))
    if window.start == window.end:
        raise HdriveError(
            f"--window {text} starts and ends at the same time",
            fix="give a window with different start and end times, or leave --window out to "
            "run around the clock",
        )
    return window


def bytes_per_second(max_mbps: float) -> float:
    """--max-mbps is in megabits per second, as network links are rated."""
    return max_mbps * 1_000_000 / BITS_PER_BYTE


@dataclass(frozen=True)
class Bucket:
    """A token bucket of bytes: `level` bytes of allowance at monotonic time `at`."""

    rate: float
    level: float
    at: float


def refill(bucket: Bucket, now: float) -> Bucket:
    cap = bucket.rate * BURST_SECONDS
    level = min(cap, bucket.level + (now - bucket.at) * bucket.rate)
    return Bucket(bucket.rate, level, now)


def wait_for(bucket: Bucket, size: int, now: float) -> tuple[Bucket, float]:
    """(the bucket after SIZE bytes are taken at NOW, seconds to wait before reading them).
    The bucket may go into debt, so a chunk larger than the burst still passes, later."""
    bucket = refill(bucket, now)
    level = bucket.level - size
    return Bucket(bucket.rate, level, now), max(0.0, -level / bucket.rate)


class ByteRate:
    """Caps bytes read per second across every worker; None rate means no cap."""

    def __init__(self, rate: float | None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._bucket = Bucket(rate, 0.0, clock.monotonic()) if rate else None

    async def take(self, size: int) -> None:
        if self._bucket is None or size <= 0:
            return
        self._bucket, delay = wait_for(self._bucket, size, self._clock.monotonic())
        await self._clock.sleep(delay)


class ByteBudget:
    """Bytes held in memory across every worker, at most `capacity` (a holder alone may exceed
    it, so a chunk larger than the budget still goes, by itself). Waiting is cancellable and
    release never waits, so a stopped run cannot leak its hold."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._waiters: list[asyncio.Future] = []

    @asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        while self.held and self.held + size > self.capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.held += size
        try:
            yield
        finally:
            self.held -= size
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
