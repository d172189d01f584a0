"""The tenant's resource-unit budgets: a sliding 60-second window and a 24-hour one, charged per
request kind as Microsoft's throttling page documents, with RateLimit headers from 80%."""

import subprocess
import uuid

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrive_migrate.tenant.errors import GraphError
from hdrive_migrate.tenant.faults import DAY, MINUTE, ResourceLedger

from conftest import FLAGS, require_binary

ALICE = "alice@contoso.test"
CHUNK = 320 * 1024
BUCKET = 0.25  # the minute window's bucket: the most the tenant is more lenient than exact


@pytest.fixture(autouse=True)
def budget_flags(monkeypatch):
    monkeypatch.setitem(FLAGS, "quota_ru_per_day", "--quota-ru-per-day")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def charge(ledger: ResourceLedger, cost: int) -> tuple[bool, dict[str, str]]:
    """(admitted, headers) for one request."""
    try:
        return True, ledger.charge(cost)
    except GraphError as error:
        assert error.status == 429
        return False, error.headers


# The ledger as a pure function of its clock

requests = st.lists(
    st.tuples(st.floats(0, 5, allow_nan=False), st.sampled_from([1, 2, 5])),
    min_size=1,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(5, 60), load=requests)
def test_no_60_second_window_admits_more_than_the_budget(limit, load):
    clock = FakeClock()
    ledger = ResourceLedger(limit, clock=clock)
    admitted: list[tuple[float, int]] = []
    for pause, cost in load:
        clock.now += pause
        if charge(ledger, cost)[0]:
            admitted.append((clock.now, cost))
            recent = sum(c for t, c in admitted if t > clock.now - (MINUTE - BUCKET))
            assert recent <= limit


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(5, 60), load=requests, cost=st.sampled_from([1, 2]))
def test_retry_after_is_exactly_when_the_request_fits_again(limit, load, cost):
    clock = FakeClock()
    ledger = ResourceLedger(limit, clock=clock)
    for pause, spent in load:
        clock.now += pause
        charge(ledger, spent)
    while charge(ledger, cost)[0]:
        pass  # spend until throttled
    admitted, headers = charge(ledger, cost)
    assert not admitted  # throttled requests count, so hammering stays throttled
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= MINUTE
    assert headers["RateLimit-Remaining"] == "0"
    clock.now += retry_after
    assert charge(ledger, cost)[0]


def test_headers_appear_from_80_percent_and_the_window_slides():
    clock = FakeClock()
    ledger = ResourceLedger(10, clock=clock)
    assert charge(ledger, 2) == (True, {})  # t=0: 2
    clock.now += 30
    assert charge(ledger, 5) == (True, {})  # t=30: 7
    clock.now += 10
    admitted, headers = charge(ledger, 1)  # t=40: 8, 80%
    assert admitted
    assert headers == {"RateLimit-Limit": "10", "RateLimit-Remaining": "2", "RateLimit-Reset": "20"}
    assert not charge(ledger, 5)[0]  # t=40: 13, over; the refused 5 count all the same
    clock.now += 20  # t=60: the 2 units of t=0 have left; 11 + 1 is still over
    admitted, headers = charge(ledger, 1)
    assert not admitted and headers["Retry-After"] == "30"  # when the t=30 units leave
    clock.now += 30  # t=90: the 6 units of t=40 and the 1 of t=60 remain
    admitted, headers = charge(ledger, 1)
    assert admitted and headers["RateLimit-Remaining"] == "2"
    assert headers["RateLimit-Reset"] == "10"  # when the t=40 units leave


def test_the_day_budget_binds_when_the_minute_one_does_not():
    clock = FakeClock()
    ledger = ResourceLedger(100, 250, clock=clock)
    for _ in range(5):
        for _ in range(25):
            assert charge(ledger, 2)[0]
        clock.now += MINUTE
    admitted, headers = charge(ledger, 2)  # 252 in the day, 2 in this minute
    assert not admitted
    assert headers["RateLimit-Limit"] == "250"
    # Room comes back when the first minute's units leave the 24-hour window (counted in
    # one-minute buckets, so up to a minute early).
    assert DAY - 6 * MINUTE < int(headers["Retry-After"]) <= DAY - 5 * MINUTE


def test_a_day_over_the_bucketed_window_keeps_a_bounded_structure():
    clock = FakeClock()
    ledger = ResourceLedger(0, 10**9, clock=clock)
    for _ in range(20_000):
        charge(ledger, 2)
        clock.now += 7.3
    (day,) = ledger.windows
    assert len(day.buckets) <= DAY / day.bucket + 1
    exact = 2 * sum(1 for n in range(20_000) if n * 7.3 > 20_000 * 7.3 - DAY)
    assert 0 <= exact - day.spent(clock.now) <= 2 * (60 // 7.3 + 1)  # at most a bucket lenient


# Against the running tenant


def unique() -> str:
    return f"b-{uuid.uuid4().hex[:8]}"


def remaining(response: httpx.Response) -> int:
    assert response.status_code < 400, response.text
    return int(response.headers["RateLimit-Remaining"])


def test_each_request_kind_costs_what_microsoft_documents(tenant_factory):
    running = tenant_factory(quota_ru_per_minute=1000)
    drive = running.drive_id(ALICE)
    folder = unique()
    with running.client() as client:
        item = client.put(f"/drives/{drive}/root:/{folder}/a.txt:/content", content=b"abc").json()
        listing = f"/drives/{drive}/root/children"
        left = None
        while left is None or left > 900:  # past 80%, where the headers show what is left
            response = client.get(listing)
            left = int(response.headers.get("RateLimit-Remaining", 1000))

        def cost(response: httpx.Response) -> int:
            nonlocal left
            before, left = left, remaining(response)
            return before - left

        base = f"/drives/{drive}/items/{item['id']}"
        assert cost(client.get(base)) == 1  # single item
        assert cost(client.get(listing)) == 2  # multi item
        assert cost(client.get(f"{base}?$expand=permissions")) == 5
        redirect = client.get(f"{base}/content")
        assert cost(redirect) == 1  # download
        assert cost(httpx.get(redirect.headers["Location"])) == 1
        first = client.get(f"/drives/{drive}/root/delta")
        assert cost(first) == 2  # delta without a token
        assert cost(client.get(first.json()["@odata.deltaLink"])) == 1  # delta with a token
        session = client.post(f"/drives/{drive}/root:/{folder}/b.bin:/createUploadSession", json={})
        assert cost(session) == 2
        url = session.json()["uploadUrl"]
        headers = {"Content-Range": f"bytes 0-{CHUNK - 1}/{2 * CHUNK}"}
        assert cost(httpx.put(url, content=b"x" * CHUNK, headers=headers)) == 2  # a chunk PUT
        assert cost(httpx.get(url)) == 1  # session status
        assert cost(httpx.delete(url)) == 2  # cancel
        assert cost(client.patch(base, json={"name": "c.txt"})) == 2
        assert cost(client.delete(base)) == 2


def test_the_24_hour_budget_throttles_with_its_own_headers(tenant_factory):
    running = tenant_factory(quota_ru_per_day=10)
    with running.client() as client:
        responses = [client.get(f"/users/{ALICE}/drive/root") for _ in range(11)]
    assert [r.headers.get("RateLimit-Remaining") for r in responses[6:10]] == [None, "2", "1", "0"]
    assert responses[9].headers["RateLimit-Limit"] == "10"
    throttled = responses[10]
    assert throttled.status_code == 429
    assert DAY - 60 <= int(throttled.headers["Retry-After"]) <= DAY


def test_a_negative_day_budget_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [str(require_binary("hdrive-migrate")), "tenant", "serve", "--data", str(tmp_path / "d"),
         "--port", "0", "--quota-ru-per-day", "-1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "--quota-ru-per-day -1: negative. Fix: give a number of resource units, or 0 for no limit"
    )
