"""Fault and load switches of `tenant serve`, each observed from a client's side."""

import httpx
import pytest

ALICE = "alice@contoso.test"


def test_throttle_rate_answers_429_with_retry_after(tenant_factory):
    running = tenant_factory(throttle_rate=1.0, retry_after=7)
    with running.client() as client:
        response = client.get(f"/users/{ALICE}")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "activityLimitReached"


def test_error_rate_answers_each_kind_of_server_error(tenant_factory):
    running = tenant_factory(error_rate=1.0, seed=3)
    with running.client() as client:
        statuses = {client.get(f"/users/{ALICE}").status_code for _ in range(60)}
    assert statuses == {500, 502, 503, 504}


def test_drop_rate_closes_the_connection_part_way_through_a_body(tenant_factory):
    running = tenant_factory(drop_rate=1.0)
    with running.client() as client:
        assert client.get(f"/users/{ALICE}/drive").status_code == 200  # no body, never dropped
        with pytest.raises(httpx.TransportError):
            client.put(f"/users/{ALICE}/drive/root:/dropped.bin:/content", content=b"z" * 300_000)
    with running.client() as client:
        assert client.get(f"/users/{ALICE}/drive/root:/dropped.bin:").status_code == 404


def test_resource_unit_ledger_warns_from_80_percent_then_throttles(tenant_factory):
    running = tenant_factory(quota_ru_per_minute=10)
    with running.client() as client:
        responses = [client.get(f"/users/{ALICE}/drive/root") for _ in range(11)]
    assert all("RateLimit-Remaining" not in r.headers for r in responses[:7])
    assert [r.headers["RateLimit-Remaining"] for r in responses[7:10]] == ["2", "1", "0"]
    assert responses[9].headers["RateLimit-Limit"] == "10"
    assert 1 <= int(responses[9].headers["RateLimit-Reset"]) <= 60
    throttled = responses[10]
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60


def test_listing_costs_two_resource_units(tenant_factory):
    running = tenant_factory(quota_ru_per_minute=4)
    with running.client() as client:
        statuses = [client.get(f"/users/{ALICE}/drive/root/children").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
