"""Load and fault behaviour for rehearsals: throttling, server errors, dropped connections, and
the resource-unit ledger SharePoint throttles by. Decisions are pure given the random source and
the clock, both injected."""

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import GraphError

WINDOW_SECONDS = 60.0
RATE_LIMIT_HEADERS_FROM = 0.8  # SharePoint starts sending RateLimit-* at 80% of the budget


def resource_units(method: str, listing: bool) -> int:
    """Documented costs: 1 for a single-item read, 2 for a multi-item read or any write."""
    if method in ("GET", "HEAD"):
        return 2 if listing else 1
    return 2


class ResourceLedger:
    """A fixed one-minute window of resource units, per app (the tenant serves one app)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self.window_start = clock()
        self.used = 0

    def charge(self, cost: int) -> dict[str, str]:
        """Charge `cost`; return RateLimit headers to send, or raise 429 when the budget is spent.

        Throttled requests still count, as the service counts them.
        """
        now = self.clock()
        if now - self.window_start >= WINDOW_SECONDS:
            self.window_start, self.used = now, 0
        self.used += cost
        reset = max(1, math.ceil(self.window_start + WINDOW_SECONDS - now))
        remaining = max(0, self.per_minute - self.used)
        headers = {}
        if self.used >= RATE_LIMIT_HEADERS_FROM * self.per_minute:
            headers = {
                "RateLimit-Limit": str(self.per_minute),
                "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(reset),
            }
        if self.used > self.per_minute:
            raise throttled(reset, headers)
        return headers


def throttled(retry_after: float, headers: dict[str, str] | None = None) -> GraphError:
    return GraphError(
        429,
        "activityLimitReached",
        "The request has been throttled",
        inner="throttledRequest",
        headers={**(headers or {}), "Retry-After": str(math.ceil(retry_after))},
    )


_SERVER_ERRORS = (
    (500, "generalException", "An unspecified error has occurred."),
    (502, "generalException", "Bad Gateway"),
    (503, "serviceNotAvailable", "The service is not available. Try the request again later."),
    (504, "generalException", "Gateway Timeout"),
)


@dataclass
class FaultPlan:
    """Chance faults: each request draws once per kind, in a fixed order."""

    throttle_rate: float
    retry_after: float
    error_rate: float
    drop_rate: float
    rng: random.Random

    def fault_for(self) -> GraphError | None:
        if self.throttle_rate and self.rng.random() < self.throttle_rate:
            return throttled(self.retry_after)
        if self.error_rate and self.rng.random() < self.error_rate:
            status, code, message = self.rng.choice(_SERVER_ERRORS)
            headers = {"Retry-After": str(math.ceil(self.retry_after))} if status == 503 else {}
            return GraphError(status, code, message, headers=headers)
        return None

    def should_drop(self) -> bool:
        return bool(self.drop_rate) and self.rng.random() < self.drop_rate
