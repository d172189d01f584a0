"""The pacer: its pure decisions from tables and hypothesis properties, and the shared async
`Pacer` driven by a fake clock."""

import asyncio
import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrive_migrate.errors import ConfigError
from hdrive_migrate.graph.pacer import (
    BURST_SECONDS,
    DAY,
    MAX_COST,
    MIN_SHARE,
    RECOVERY_ANSWERS,
    Pacer,
    PacerState,
    RequestKind,
    forecast,
    initial_state,
    next_start,
    on_response,
    on_send,
    request_cost,
)

START = 1_000.0  # monotonic seconds at which every pure scenario begins
WALL = datetime(2025, 6, 2, 22, 0, tzinfo=UTC)  # the wall time at START


def fresh(per_minute: int = 5_000, per_day: int = 10**9) -> PacerState:
    return initial_state(per_minute, per_day, START)


def send_when_allowed(state: PacerState, cost: int, now: float) -> tuple[PacerState, float]:
    """What Pacer.acquire does: wait (re-checking) until allowed, then send; the new state and
    the time the request started."""
    while (wait := next_start(state, now)) > 0:
        now += wait
    return on_send(state, cost, now), now


def wall_at(now: float) -> datetime:
    return WALL + timedelta(seconds=now - START)


@pytest.mark.parametrize(
    ("kind", "units"),
    [
        (RequestKind.READ, 1),
        (RequestKind.LIST, 2),
        (RequestKind.WRITE, 2),
        (RequestKind.UPLOAD_CHUNK, 2),
        # A status GET costs 1 and a DELETE 2: charged the larger, never under-counted.
        (RequestKind.SESSION, 2),
    ],
)
def test_request_costs_follow_microsofts_table(kind, units):
    assert request_cost(kind) == units


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "7"}, 7),
        ({"retry-after": "7"}, 7),
        # The larger of Retry-After and RateLimit-Reset, never the smaller.
        ({"Retry-After": "2", "RateLimit-Reset": "9"}, 9),
        ({"Retry-After": "12", "RateLimit-Reset": "3"}, 12),
        ({"Retry-After": format_datetime(WALL + timedelta(seconds=40), usegmt=True)}, 40),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_a_throttle_holds_every_request_for_the_longest_delay_the_service_names(
    status, headers, wait
):
    state = on_response(fresh(), status, headers, START, wall=WALL)
    assert next_start(state, START) == pytest.approx(wait)
    assert next_start(state, START + wait / 2) == pytest.approx(wait / 2)
    assert next_start(state, START + wait) == 0


def test_an_http_date_needs_the_wall_time_and_is_never_guessed_without_it():
    dated = {"Retry-After": format_datetime(WALL + timedelta(seconds=40), usegmt=True)}
    state = on_response(fresh(), 429, dated, START)
    assert next_start(state, START) == 0  # no hold invented, but the rate is still cut
    assert state.rate == fresh().max_rate / 2


def test_a_throttle_halves_the_rate_once_per_storm_and_clean_answers_grow_it_back():
    state = fresh()
    top = state.max_rate
    state = on_response(state, 429, {"Retry-After": "5"}, START)
    assert state.rate == top / 2
    # Answers to requests already in flight during the hold are the same signal.
    state = on_response(state, 429, {"Retry-After": "5"}, START + 1)
    assert state.rate == top / 2
    state = on_response(state, 503, {}, START + 6)  # after the hold: a new signal
    assert state.rate == top / 4
    state = on_response(state, 200, {}, START + 7)
    assert state.rate == pytest.approx(top / 4 + top / RECOVERY_ANSWERS)


@pytest.mark.parametrize("status", [None, 500, 502, 504])
def test_faults_and_lost_connections_leave_the_rate_alone(status):
    state = on_response(fresh(), 429, {}, START)
    assert on_response(state, status, {}, START + 1).rate == state.rate


def test_the_rate_never_falls_below_its_floor():
    state = fresh()
    for second in range(40):
        state = on_response(state, 429, {}, START + second)
    assert state.rate == state.max_rate * MIN_SHARE
    assert next_start(on_send(state, 2, START + 40), START + 40) < math.inf


@pytest.mark.parametrize(
    ("remaining", "slowdown"),
    [
        ("1000", 1.0),  # 80% used: the header comes, but there is room yet
        ("250", 1.0),  # 5% of the limit left: slowing starts here
        ("125", 0.5),  # in proportion to what is left
        ("25", 0.1),
    ],
)
def test_ratelimit_remaining_slows_us_in_proportion_before_any_429(remaining, slowdown):
    headers = {"RateLimit-Limit": "5000", "RateLimit-Remaining": remaining, "RateLimit-Reset": "4"}
    state = on_response(fresh(), 200, headers, START)
    assert state.slowdown == pytest.approx(slowdown)
    assert next_start(state, START) == 0  # slower, not held
    # The next answer without the header (below 80% again) lifts the slowdown.
    assert on_response(state, 200, {}, START + 1).slowdown == 1.0


def test_nothing_remaining_holds_until_the_reset():
    headers = {"RateLimit-Limit": "5000", "RateLimit-Remaining": "0", "RateLimit-Reset": "6"}
    state = on_response(fresh(), 200, headers, START)
    assert next_start(state, START) == pytest.approx(6)


def test_a_spent_day_budget_waits_for_the_next_period_then_starts_afresh():
    state = fresh(per_minute=10**6, per_day=100)
    now = START
    for _ in range(50):
        state, now = send_when_allowed(state, 2, now)
    assert state.day_spent == 100
    assert next_start(state, now) == pytest.approx(START + DAY - now)
    state, now = send_when_allowed(state, 2, now)
    assert now == pytest.approx(START + DAY)
    assert (state.day_started, state.day_spent) == (now, 2)


def test_the_day_budget_is_spread_over_the_window_rather_than_spent_first():
    # 3600 RU to spend in an hour's window: 1 RU a second, though the minute budget allows 80.
    state = initial_state(5_000, 3_600, START)
    windowed = PacerState(**{**_fields(state), "window_end": START + 3_600})
    now, spent_by = START, {}
    while now < START + 600:
        windowed, now = send_when_allowed(windowed, 1, now)
        spent_by[round(now - START)] = windowed.day_spent
    assert spent_by[599] == pytest.approx(600, abs=BURST_SECONDS + MAX_COST)
    # Without the window the same budget is spread over the whole day.
    assert forecast(state, 3_600, START) == pytest.approx(DAY)
    assert forecast(windowed, 3_600 - windowed.day_spent, now) == pytest.approx(3_000, rel=0.01)


@pytest.mark.parametrize(
    ("units", "seconds"),
    [
        (0, 0),
        # Microsoft's defaults: 4.8 M RU a day (55.6 RU/s) binds before 5,000 a minute.
        (1_000_000, 18_000),
        (4_800_000, DAY),  # 1.2 M small files at 4 RU: one day
        (9_600_000, 2 * DAY),
    ],
)
def test_forecast_uses_the_same_arithmetic_as_the_pacer(units, seconds):
    assert forecast(fresh(5_000, 4_800_000), units, START) == pytest.approx(seconds)


def test_forecast_under_the_minute_budget_alone():
    state = fresh(5_000, 10**12)
    assert forecast(state, 10_000, START) == pytest.approx(10_000 / state.max_rate)
    assert state.max_rate * 60 > 0.96 * 5_000  # the burst's room costs under 4% of the quota


def test_budgets_too_small_to_send_anything_are_refused_in_one_line():
    with pytest.raises(ConfigError) as caught:
        Pacer(2, 4_800_000)
    assert str(caught.value).startswith("[migrate] quota_ru_per_minute = 2 leaves no room")
    assert "\n" not in str(caught.value)
    assert caught.value.setting == "migrate.quota_ru_per_minute"
    with pytest.raises(ConfigError, match="quota_ru_per_day"):
        Pacer(5_000, 0)


# ---- properties over random traffic ------------------------------------------------------

kinds = st.sampled_from(list(RequestKind))
gaps = st.one_of(st.just(0.0), st.floats(0, 5), st.floats(0, 120))
rate_limit_headers = st.builds(
    lambda remaining, reset: {
        "RateLimit-Limit": "5000",
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
    },
    st.integers(0, 1_000),
    st.integers(1, 60),
)
retry_headers = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.integers(0, 90).map(str),
        "RateLimit-Reset": st.integers(1, 60).map(str),
    },
)
answers = st.one_of(
    st.tuples(st.sampled_from([429, 503]), retry_headers),
    st.tuples(
        st.sampled_from([200, 201, 202, 204, 404, 409]), st.one_of(st.just({}), rate_limit_headers)
    ),
    st.tuples(st.sampled_from([None, 500, 502, 504]), st.just({})),
)


steps = st.lists(
    st.one_of(st.tuples(st.just("send"), kinds, gaps), st.tuples(st.just("answer"), answers, gaps)),
    max_size=300,
)
# Workers sending as fast as they are let, as they do to fill a minute's budget: long scripts,
# drawn from a fixed menu of steps because drawing each step's parts is what costs time here.
_limit = {"RateLimit-Limit": "5000", "RateLimit-Reset": "5"}
MENU = [
    *(("send", kind, 0.0) for kind in RequestKind for _ in range(6)),
    *(("send", kind, gap) for kind in RequestKind for gap in (0.3, 7.0, 61.0)),
    *(("answer", (200, {}), 0.0) for _ in range(20)),
    *(("answer", (202, {**_limit, "RateLimit-Remaining": r}), 0.0) for r in ("0", "40", "900")),
    *(("answer", (status, {"Retry-After": "1"}), 0.0) for status in (429, 503)),
    ("answer", (None, {}), 0.0),
]
busy = st.lists(st.sampled_from(MENU), min_size=100, max_size=500)


def run(state: PacerState, script, now: float = START):
    """Play SCRIPT as workers obeying the pacer would; the final state and (start, cost) of
    each send, and for each send the latest time a throttle told us to wait until."""
    sends, earliest, holds = [], -math.inf, []
    for step, what, gap in script:
        now += gap
        if step == "send":
            cost = request_cost(what)
            state, now = send_when_allowed(state, cost, now)
            sends.append((now, cost))
            holds.append(earliest)
        else:
            status, headers = what
            state = on_response(state, status, headers, now, wall=wall_at(now))
            if status in (429, 503):
                asked = [
                    float(headers[h]) for h in ("Retry-After", "RateLimit-Reset") if h in headers
                ]
                earliest = max([earliest, *(now + a for a in asked)])
    return state, sends, holds


@settings(max_examples=300)
@given(steps)
def test_no_request_starts_before_a_server_said_it_may(script):
    _, sends, holds = run(fresh(), script)
    for (started, _), earliest in zip(sends, holds, strict=True):
        assert started >= earliest


@settings(max_examples=200)
@given(st.integers(MAX_COST + 1, 300), busy)
def test_what_we_send_never_exceeds_the_minute_budget_in_any_60_seconds(per_minute, script):
    _, sends, _ = run(fresh(per_minute=per_minute), script)
    first, in_window = 0, 0
    for started, cost in sends:  # start times never go back
        in_window += cost
        while sends[first][0] < started - 60:
            in_window -= sends[first][1]
            first += 1
        assert in_window <= per_minute


@given(steps)
def test_the_rate_recovers_fully_after_enough_clean_answers(script):
    state, _, _ = run(fresh(), script)
    now = START + 10 * DAY
    throttled = on_response(state, 429, {}, now)
    assert throttled.rate <= max(state.rate / 2, state.max_rate * MIN_SHARE)
    for answer in range(RECOVERY_ANSWERS):
        throttled = on_response(throttled, 200, {}, now + answer)
    assert throttled.rate == pytest.approx(state.max_rate)
    assert throttled.slowdown == 1.0


@settings(max_examples=200)
@given(
    budget=st.integers(1_000, 1_000_000),
    seconds=st.floats(600, DAY),
    script=st.lists(st.tuples(kinds, st.one_of(st.just(0.0), st.floats(0, 600))), max_size=400),
)
def test_a_day_budget_is_spread_over_the_time_left(budget, seconds, script):
    # A minute budget so large that only the day budget binds.
    state = PacerState(
        **{**_fields(initial_state(10**8, budget, START)), "window_end": START + seconds}
    )
    now, spread = START, budget / seconds
    for kind, gap in script:
        state, now = send_when_allowed(state, request_cost(kind), now + gap)
        if now >= START + seconds:
            break
        assert state.day_spent <= spread * (now - START + BURST_SECONDS) + MAX_COST + 1e-6


# ---- the shared async Pacer --------------------------------------------------------------


class FakeClock:
    """The Clock protocol on a hand-driven timeline: sleeping moves time on at once."""

    def __init__(self, start: float = START) -> None:
        self.t = start

    def now(self) -> datetime:
        return wall_at(self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)  # let the other workers run, as a real sleep would


def test_concurrent_workers_are_paced_by_one_shared_state():
    clock = FakeClock()
    pacer = Pacer(600, 10**9, clock=clock)
    started: list[float] = []

    async def worker() -> None:
        for _ in range(3):
            await pacer.acquire(RequestKind.UPLOAD_CHUNK)
            started.append(clock.monotonic())

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(40)))

    asyncio.run(main())
    # One queue, one state: the same starts as a single worker sending 120 chunks in a row.
    state, now, expected = initial_state(600, 10**9, START), START, []
    for _ in range(120):
        state, now = send_when_allowed(state, 2, now)
        expected.append(now)
    assert started == pytest.approx(expected)
    assert clock.t == pytest.approx(expected[-1])  # nobody slept alongside anybody else
    assert (pacer.requests, pacer.resource_units, pacer.throttled) == (120, 240, 0)
    assert sum(1 for t in started if t <= START + 60) * 2 <= 600


def test_a_throttle_seen_by_one_worker_holds_them_all():
    clock = FakeClock()
    pacer = Pacer(5_000, 10**9, clock=clock)
    started: list[float] = []

    async def worker() -> None:
        await pacer.acquire(RequestKind.WRITE)
        started.append(clock.monotonic())

    async def main() -> None:
        await pacer.acquire(RequestKind.READ)
        pacer.observe(429, {"Retry-After": "30", "RateLimit-Reset": "12"})
        await asyncio.gather(*(worker() for _ in range(10)))

    asyncio.run(main())
    assert min(started) >= START + 30
    assert pacer.throttled == 1
    assert pacer.state.rate == pacer.state.max_rate / 2
    assert (pacer.requests, pacer.resource_units) == (11, 21)


def test_the_pacer_follows_a_moving_window_end():
    clock = FakeClock()
    ends = iter([START + 3_600, START + 7_200])
    pacer = Pacer(5_000, 3_600, window_end=lambda: next(ends), clock=clock)
    assert pacer.forecast_seconds(3_600) == pytest.approx(3_600)
    assert pacer.forecast_seconds(3_600) == pytest.approx(7_200)


def _fields(state: PacerState) -> dict:
    return {name: getattr(state, name) for name in PacerState.__slots__}
