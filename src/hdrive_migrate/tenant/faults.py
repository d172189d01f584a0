"""Load and fault behaviour for rehearsals: throttling, server errors, dropped connections, and
the resource-unit budgets SharePoint throttles an app by. Decisions are pure given the random
source and the clock, both injected."""

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import GraphError

MINUTE = 60.0
DAY = 86_400.0
RATE_LIMIT_HEADERS_FROM = 0.8  # SharePoint starts sending RateLimit-* at 80% of the budget

# Resource units per request kind, from "Avoid getting throttled or blocked in SharePoint Online"
# (sp-dev-docs, 2024-07 revision): 1 for a single-item query, a delta with a token, or a file
# download; 2 for a multi-item query (list children, a delta without a token) and for create,
# update, delete and upload; 5 for every permission operation, $expand=permissions included.
#
# Requests to an upload URL count too. The page says every request an app makes counts, "across
# all API endpoints, including Microsoft Graph, CSOM and REST"; the uploadUrl is SharePoint's own
# `_api/v2.0/.../uploadSession` endpoint, authorised by a token issued to the app, so it is the
# app's traffic. It has no published cost of its own: we charge it as the Graph operation it is,
# a chunk PUT 2 (upload), a status GET 1 (single-item read), a cancelling DELETE 2 and the
# deferred-commit POST 2. createUploadSession (2) plus one PUT (2) then makes the 4 RU per small
# file that the design notes count.
RESOURCE_UNITS = {
    "read": 1,
    "download": 1,
    "delta-with-token": 1,
    "list": 2,
    "delta": 2,
    "write": 2,
    "upload": 2,
    "permissions": 5,
}


def resource_units(kind: str) -> int:
    return RESOURCE_UNITS[kind]


class SlidingWindow:
    """Units spent in the last `span` seconds, in buckets of `bucket` seconds: a deque of at most
    span/bucket entries however many requests arrive. A bucket's units leave the window when its
    start does, so the tenant is never stricter than an exact sliding window (a client that keeps
    any `span` seconds within the limit is never throttled) and at most one bucket more lenient.
    """

    def __init__(self, limit: int, span: float, bucket: float):
        self.limit = limit
        self.span = span
        self.bucket = bucket
        self.buckets: deque[list[int]] = deque()  # [bucket index, units]
        self.used = 0

    def _expire(self, now: float) -> None:
        while self.buckets and self._leaves_at(self.buckets[0][0]) <= now:
            self.used -= self.buckets.popleft()[1]

    def _leaves_at(self, index: int) -> float:
        return index * self.bucket + self.span

    def add(self, now: float, units: int) -> None:
        self._expire(now)
        index = math.floor(now / self.bucket)
        if self.buckets and self.buckets[-1][0] == index:
            self.buckets[-1][1] += units
        else:
            self.buckets.append([index, units])
        self.used += units

    def spent(self, now: float) -> int:
        self._expire(now)
        return self.used

    def seconds_until_room(self, now: float, units: int) -> float:
        """How long until `units` more fit in the budget, if nothing else is spent meanwhile;
        0 when they fit now."""
        left = self.spent(now)
        if left + units <= self.limit:
            return 0.0
        for index, spent in self.buckets:
            left -= spent
            if left + units <= self.limit:
                return self._leaves_at(index) - now
        return self._leaves_at(self.buckets[-1][0]) - now if self.buckets else 0.0

    def seconds_until_oldest_leaves(self, now: float) -> float:
        self._expire(now)
        return self._leaves_at(self.buckets[0][0]) - now if self.buckets else self.span


class ResourceLedger:
    """The app's per-minute and per-day resource-unit budgets, both sliding windows (the tenant
    serves one app). A limit of 0 means that budget is not enforced."""

    def __init__(
        self, per_minute: int, per_day: int = 0, clock: Callable[[], float] = time.monotonic
    ):
        self.clock = clock
        self.windows = [
            SlidingWindow(limit, span, bucket)
            for limit, span, bucket in ((per_minute, MINUTE, 0.25), (per_day, DAY, 60.0))
            if limit
        ]

    def charge(self, cost: int) -> dict[str, str]:
        """Charge `cost`; return RateLimit headers to send, or raise 429 when a budget is spent.

        Throttled requests still count, as the service counts them, so a client that ignores
        Retry-After keeps itself throttled.
        """
        now = self.clock()
        for window in self.windows:
            window.add(now, cost)
        spent = [window for window in self.windows if window.spent(now) > window.limit]
        if spent:
            # Retry-After: when a request of this cost would be admitted again by every budget.
            wait = max(window.seconds_until_room(now, cost) for window in spent)
            nearest = max(spent, key=lambda window: share_used(window, now))
            raise throttled(wait, rate_limit_headers(nearest, now, wait))
        return self.warning(now)

    def warning(self, now: float) -> dict[str, str]:
        """RateLimit headers for the budget nearest its limit, once it has used 80% of it."""
        nearest = max(self.windows, key=lambda window: share_used(window, now), default=None)
        if nearest is None or share_used(nearest, now) < RATE_LIMIT_HEADERS_FROM:
            return {}
        return rate_limit_headers(nearest, now, nearest.seconds_until_oldest_leaves(now))


def share_used(window: SlidingWindow, now: float) -> float:
    return window.spent(now) / window.limit


def rate_limit_headers(window: SlidingWindow, now: float, reset: float) -> dict[str, str]:
    """IETF draft-03 headers as SharePoint sends them. Reset is the seconds until units leave
    the sliding window: the next request's worth when throttled, else the oldest bucket."""
    return {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(max(0, window.limit - window.spent(now))),
        "RateLimit-Reset": str(max(1, math.ceil(reset))),
    }


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
