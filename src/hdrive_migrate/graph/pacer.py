"""The pacer: how fast one app may talk to one tenant, shared by every worker.

Pure decisions, as rclone keeps its pacer's `Calculate` pure: `on_send`, `on_response` and
`next_start` take a frozen `PacerState` and plain monotonic seconds and return a new state or
a wait; `Pacer` is the one place that holds the state and sleeps, through the injected Clock.

Spacing is a virtual-schedule (GCRA) bucket counted in resource units: each request moves the
`due` time on by cost/rate, and a request may start once `due` is within BURST_SECONDS of now.
With the rate never above `max_rate` (see `initial_state`), any 60 s of sends spend at most
max_rate * (60 + BURST_SECONDS) + one request, which is the minute budget: no sliding log is
needed, so every decision is O(1). The rate itself is the least of
- the AIMD rate: halved on 429/503 (once per storm), grown back by a step per clean answer;
- that rate scaled down as the service's `RateLimit-Remaining` nears 0;
- the day budget left spread over the day's time left (or until the run's window ends).
"""

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.config import Config
from hdrive_migrate.errors import ConfigError
from hdrive_migrate.graph.errors import THROTTLE_STATUSES, server_delay

MINUTE = 60.0
DAY = 86_400.0
# Microsoft's budgets per app for a tenant of 15,001-50,000 licences (graph-protocol.md): the
# defaults of [graph] quota_ru_per_minute and quota_ru_per_day.
PER_MINUTE_RU = 5_000
PER_DAY_RU = 4_800_000
# Lets the workers of a run start together instead of one cost/rate apart; the minute budget
# keeps room for it (initial_state), so it is never a reason to exceed that budget.
BURST_SECONDS = 2.0
DECREASE = 0.5  # multiplicative decrease on a throttle, as TCP
# Clean answers that take the rate from nothing to the maximum: from a halving, half as many.
# Slow enough not to run straight back into the limit, fast enough that chance throttles
# (a 30% fault rate in rehearsals) leave a usable rate.
RECOVERY_ANSWERS = 32
MIN_SHARE = 1 / 64  # the rate never falls below this share of the maximum
# RateLimit-Remaining arrives from 80% of the minute budget. Our own spacing already keeps
# below the budget, so the header matters when someone else spends it too (another instance of
# the app) or the service counts otherwise: slowing only over the last 5% keeps >= 90% of the
# quota usable (issue 8's goal), and slowing in proportion stops us before it is gone.
SLOWDOWN_FROM = 0.05


class RequestKind(Enum):
    """What a request does, which sets its cost in resource units."""

    READ = "read"  # one item: a user, a drive, an item by path
    LIST = "list"  # several items: children, a filtered user query
    WRITE = "write"  # create, update, delete, createUploadSession, deferred commit
    UPLOAD_CHUNK = "upload-chunk"  # one PUT of bytes to an upload URL
    SESSION = "session"  # a status GET or cancelling DELETE of an upload URL


# "Avoid getting throttled or blocked in SharePoint Online" (sp-dev-docs, 2024 revision):
# 1 RU for a single-item read, 2 for a multi-item read and for create/update/delete/upload.
# Upload-URL requests count as the operations they are (graph-protocol.md, tenant/faults.py):
# a chunk PUT is an upload; SESSION covers a status GET (1) and a DELETE (2), so it is charged
# 2 and our count never falls short of the service's.
_COSTS = {
    RequestKind.READ: 1,
    RequestKind.LIST: 2,
    RequestKind.WRITE: 2,
    RequestKind.UPLOAD_CHUNK: 2,
    RequestKind.SESSION: 2,
}
MAX_COST = max(_COSTS.values())


def request_cost(kind: RequestKind) -> int:
    """Resource units a request of KIND costs."""
    return _COSTS[kind]


@dataclass(frozen=True, slots=True)
class PacerState:
    """Everything the pacer knows; times are monotonic seconds, rates resource units a second."""

    per_minute: int  # resource units allowed in any 60 s
    per_day: int  # resource units allowed per 24 h
    max_rate: float  # the minute budget as a rate, with room for the burst (initial_state)
    rate: float  # the AIMD rate, MIN_SHARE * max_rate .. max_rate
    due: float  # when the units sent so far are paid for at the rates they were sent at
    day_started: float  # start of the current 24 h budget period
    day_spent: int = 0  # resource units sent in it
    slowdown: float = 1.0  # share of the rate RateLimit-Remaining leaves us, 0 .. 1
    hold_until: float = -math.inf  # no request starts before this (the server said so)
    window_end: float | None = None  # spread the day budget until here rather than the day's end


def initial_state(per_minute_ru: int, per_day_ru: int, now: float) -> PacerState:
    """A pacer at full rate with nothing spent, at NOW."""
    max_rate = (per_minute_ru - MAX_COST) / (MINUTE + BURST_SECONDS)
    return PacerState(
        per_minute=per_minute_ru,
        per_day=per_day_ru,
        max_rate=max_rate,
        rate=max_rate,
        due=now,
        day_started=now,
    )


def allowed_rate(state: PacerState, now: float) -> float:
    """Resource units a second we may spend at NOW: 0 once the day budget is gone."""
    return min(_minute_rate(state), _day_rate(state, now))


def next_start(state: PacerState, now: float) -> float:
    """Seconds to wait before the next request may start at NOW; 0 means go now."""
    if allowed_rate(state, now) <= 0:
        # The day budget is spent: nothing more until its period rolls over.
        return max(state.hold_until, _day(state, now)[0] + DAY) - now
    return max(0.0, state.hold_until - now, state.due - BURST_SECONDS - now)


def on_send(state: PacerState, cost: int, now: float) -> PacerState:
    """The state after a request costing COST resource units starts at NOW."""
    started, spent = _day(state, now)
    rate = allowed_rate(state, now)
    # Only a send next_start did not allow finds the day budget gone: charging it no time keeps
    # `due` finite, and next_start still holds what follows until the period rolls over.
    step = cost / rate if rate > 0 else 0.0
    due = max(state.due, now) + step
    return replace(state, due=due, day_started=started, day_spent=spent + cost)


def on_response(
    state: PacerState,
    status: int | None,
    headers: Mapping[str, str],
    now: float,
    *,
    wall: datetime | None = None,
) -> PacerState:
    """The state after an answer with STATUS and HEADERS arrives at NOW (monotonic).

    STATUS is None when no answer came (which says nothing about the rate). WALL, the wall
    time at NOW, dates a Retry-After given as an HTTP-date; without it only delta-seconds count.
    """
    if status is None:
        return state
    lower = {key.lower(): value for key, value in headers.items()} if headers else {}
    slowdown, hold = _rate_limit(state, lower, now, wall)
    if status in THROTTLE_STATUSES:
        delay = _server_delay(lower, wall)
        hold = max(hold, now + delay) if delay is not None else hold
        # Answers to requests already in flight when the first throttle came are the same
        # signal: cut once per hold, not once per answer.
        rate = state.rate if now < state.hold_until else state.rate * DECREASE
    elif status < 500:
        rate = state.rate + state.max_rate / RECOVERY_ANSWERS
    else:  # 500, 502, 504: a fault, not a verdict on our rate
        rate = state.rate
    rate = min(state.max_rate, max(state.max_rate * MIN_SHARE, rate))
    return replace(state, rate=rate, slowdown=slowdown, hold_until=max(state.hold_until, hold))


def forecast(state: PacerState, resource_units: int, now: float) -> float:
    """Seconds of sending RESOURCE_UNITS from NOW at the rate the pacer would allow."""
    if resource_units <= 0:
        return 0.0
    # Beyond today's budget every later day allows per_day: the steady rate, as the pacer
    # spreads it (or the minute budget, when that binds first).
    steady = min(_minute_rate(state), state.per_day / DAY)
    started, spent = _day(state, now)
    left = state.per_day - spent
    rate = allowed_rate(state, now)
    if resource_units <= left and rate > 0:
        return resource_units / rate
    day_end = started + DAY - now
    return day_end + (resource_units - max(left, 0)) / steady


def _minute_rate(state: PacerState) -> float:
    """The AIMD rate as RateLimit-Remaining leaves it, never below the floor."""
    return max(state.rate * state.slowdown, state.max_rate * MIN_SHARE)


def _day(state: PacerState, now: float) -> tuple[float, int]:
    """The current day period's start and the units spent in it, rolled over when it ended."""
    if now >= state.day_started + DAY:
        return now, 0
    return state.day_started, state.day_spent


def _day_rate(state: PacerState, now: float) -> float:
    """The day budget left, spread over the time left until the period or the window ends."""
    started, spent = _day(state, now)
    left = state.per_day - spent
    if left <= 0:
        return 0.0
    end = started + DAY
    if state.window_end is not None and now < state.window_end:
        end = min(end, state.window_end)
    return left / (end - now)


def _rate_limit(
    state: PacerState, lower: Mapping[str, str], now: float, wall: datetime | None
) -> tuple[float, float]:
    """The slowdown RateLimit-Remaining calls for, and a hold until RateLimit-Reset when
    nothing remains; no header means no slowdown."""
    remaining = _number(lower.get("ratelimit-remaining"))
    if remaining is None:
        return 1.0, -math.inf
    limit = _number(lower.get("ratelimit-limit")) or state.per_minute
    if remaining <= 0:
        reset = _server_delay({"ratelimit-reset": lower.get("ratelimit-reset", "")}, wall)
        return 0.0, (now + reset) if reset is not None else -math.inf
    return min(1.0, max(0.0, remaining / (limit * SLOWDOWN_FROM))), -math.inf


def _server_delay(lower: Mapping[str, str], wall: datetime | None) -> float | None:
    """The larger of Retry-After and RateLimit-Reset (graph/errors.py reads them for classify);
    HTTP-dates only when WALL says what time it is."""
    if wall is not None:
        return server_delay(lower, wall)
    delays = [_number(lower.get(name)) for name in ("retry-after", "ratelimit-reset")]
    found = [delay for delay in delays if delay is not None and delay >= 0]
    return max(found) if found else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class Pacer:
    """One tenant's pacer, shared by every worker: `acquire` before each request, `observe`
    each answer. Acquirers queue in order on one lock, so one shared state paces them all.

    Counters for progress: `requests` and `resource_units` sent, `throttled` answers seen.
    """

    def __init__(
        self,
        per_minute_ru: int,
        per_day_ru: int,
        *,
        window_end: Callable[[], float] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        _check_budget("quota_ru_per_minute", per_minute_ru)
        _check_budget("quota_ru_per_day", per_day_ru)
        self._clock = clock
        self._window_end = window_end
        self._state = initial_state(per_minute_ru, per_day_ru, clock.monotonic())
        self._lock = asyncio.Lock()
        self.requests = 0
        self.resource_units = 0
        self.throttled = 0

    @property
    def state(self) -> PacerState:
        return self._state

    async def acquire(self, kind: RequestKind) -> None:
        """Wait until a request of KIND may start, then count it as sent."""
        cost = request_cost(kind)
        async with self._lock:
            self._follow_window()
            # Re-checked after each sleep: an answer meanwhile may have asked for a longer wait.
            while (wait := next_start(self._state, self._clock.monotonic())) > 0:
                await self._clock.sleep(wait)
            self._state = on_send(self._state, cost, self._clock.monotonic())
        self.requests += 1
        self.resource_units += cost

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from an answer: STATUS (None when none came) and its HEADERS."""
        if status in THROTTLE_STATUSES:
            self.throttled += 1
        self._state = on_response(
            self._state, status, headers, self._clock.monotonic(), wall=self._clock.now()
        )

    def forecast_seconds(self, resource_units: int) -> float:
        """Seconds that sending RESOURCE_UNITS would take from now (the ETA)."""
        self._follow_window()
        return forecast(self._state, resource_units, self._clock.monotonic())

    def _follow_window(self) -> None:
        if self._window_end is not None:
            end = self._window_end()
            if end != self._state.window_end:
                self._state = replace(self._state, window_end=end)


def _check_budget(key: str, value: int) -> None:
    if value <= MAX_COST:
        raise ConfigError(
            f"[migrate] {key} = {value} leaves no room for requests",
            fix=f"give it more than {MAX_COST} resource units: Microsoft's figure for the "
            "tenant's licence count (5000 a minute and 4800000 a day for 15,001-50,000 "
            "licences)",
            setting=f"migrate.{key}",
        )


def paced_by(config: Config, clock: Clock = SYSTEM_CLOCK) -> Pacer:
    """The tenant's one pacer at the budgets CONFIG's [migrate] section gives."""
    settings = config.migrate
    return Pacer(settings.quota_ru_per_minute, settings.quota_ru_per_day, clock=clock)
