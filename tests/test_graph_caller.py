"""GraphCaller against the real local tenant: pacing, retries, tokens and error translation."""

import asyncio
import itertools
import logging
import time
from datetime import UTC, datetime

import httpx
import pytest
from azure.core.credentials import AccessToken
from graph_support import graph, run

from hdrive_migrate.graph.errors import (
    FileFailure,
    RestartFile,
    RetryAfter,
    Transient,
    Unauthorized,
)
from hdrive_migrate.graph.pacer import RequestKind

UPN = "alice@contoso.test"
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


REVOKED = "revoked"


class Tokens:
    """Stands in for an azure-identity credential: hands out TOKENS in turn (the last one
    again when they run out) and counts the calls. REVOKED gets 401 (see `revoke`)."""

    def __init__(self, *tokens: str, lifetime: int = 3600) -> None:
        self.tokens = list(tokens)
        self.calls = 0
        self.lifetime = lifetime

    async def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.calls += 1
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        return AccessToken(token, int(time.time()) + self.lifetime)

    async def close(self) -> None:
        pass


async def revoke(request: httpx.Request) -> None:
    """An httpx request hook: send the REVOKED token as a credential-less "Bearer", which the
    tenant answers 401 as the service answers a revoked or expired token."""
    if request.headers.get("Authorization") == f"Bearer {REVOKED}":
        request.headers["Authorization"] = "Bearer"


def drive_path(upn: str = UPN) -> str:
    return f"/users/{upn}/drive"


def test_throttled_requests_wait_at_least_retry_after_then_succeed(tenant_factory):
    running = tenant_factory(throttle_rate=0.4, retry_after=3, seed=7)

    async def go():
        async with graph(running.url) as g:
            for _ in range(15):
                answer = await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
                assert answer.json()["id"]
            return g.wire.sent, g.caller.pacer.throttled

    sent, throttled = run(go())
    statuses = [record.status for record in sent]
    assert statuses.count(200) == 15
    assert throttled == statuses.count(429) > 0
    for before, after in itertools.pairwise(sent):
        if before.status == 429:
            assert after.at - before.at >= 3.0


def test_server_errors_are_retried_until_the_request_succeeds(tenant_factory):
    running = tenant_factory(error_rate=0.4, retry_after=1, seed=3)

    async def go():
        async with graph(running.url) as g:
            ids = {
                (await g.caller.request("GET", drive_path(), kind=RequestKind.READ)).json()["id"]
                for _ in range(12)
            }
            return ids, [record.status for record in g.wire.sent]

    ids, statuses = run(go())
    assert len(ids) == 1
    assert {500, 502, 503, 504} & set(statuses)
    assert statuses.count(200) == 12


def test_attempts_are_bounded_and_the_last_error_is_raised(tenant_factory):
    running = tenant_factory(throttle_rate=1.0, retry_after=5)

    async def go():
        async with graph(running.url, attempts=3) as g:
            with pytest.raises(RetryAfter) as raised:
                await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            return raised.value, g.wire.sent, g.clock.slept

    error, sent, slept = run(go())
    assert error.status == 429 and error.seconds == 5
    assert len(sent) == 3
    assert sum(slept) >= 2 * 5  # two waits between three tries, each at least Retry-After


def test_no_answer_is_retried_and_raised_with_its_cause():
    async def go():
        # Nothing listens on port 9 of loopback (discard, never running in tests).
        async with graph("http://127.0.0.1:9/v1.0", attempts=2) as g:
            with pytest.raises(Transient) as raised:
                await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            return raised.value, g.clock.slept

    error, slept = run(go())
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert len(slept) == 1 and slept[0] >= 1.0  # one backoff between the two tries


def test_graph_requests_carry_the_token_and_upload_urls_never_do(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id = await g.drive.drive_id(UPN)
            root = await g.drive.ensure_folder(drive_id, "")
            session = await g.drive.create_session(
                drive_id, root, "token-check.txt", size=3, created=NOW, modified=NOW
            )
            await g.drive.put_chunk(session.url, b"abc", 0, 3)
            return g.wire.sent

    sent = run(go())
    uploads = [record for record in sent if record.url.path.startswith("/_upload/")]
    graph_calls = [record for record in sent if record.url.path.startswith("/v1.0/")]
    assert len(uploads) == 1 and len(graph_calls) == 3
    assert all("authorization" not in record.headers for record in uploads)
    assert all(record.headers["authorization"].startswith("Bearer ") for record in graph_calls)
    assert all("NONISV|" in record.headers["user-agent"] for record in sent)


def test_a_token_is_fetched_once_and_reused(tenant):
    tokens = Tokens("good-token")

    async def go():
        async with graph(tenant.url, credential=tokens) as g:
            for _ in range(5):
                await g.caller.request("GET", drive_path(), kind=RequestKind.READ)

    run(go())
    assert tokens.calls == 1


def test_a_token_near_expiry_is_renewed_before_use(tenant):
    tokens = Tokens("first", "second", lifetime=60)  # inside the renewal margin at once

    async def go():
        async with graph(tenant.url, credential=tokens) as g:
            await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            return [record.headers["authorization"] for record in g.wire.sent]

    assert run(go()) == ["Bearer first", "Bearer second"]


def test_401_gets_one_fresh_token(tenant):
    tokens = Tokens(REVOKED, "good-token")

    async def go():
        async with graph(tenant.url, credential=tokens) as g:
            g.connection.http.event_hooks["request"].insert(0, revoke)
            answer = await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            return answer.status_code, [record.status for record in g.wire.sent]

    assert run(go()) == (200, [401, 200])
    assert tokens.calls == 2


def test_401_after_a_fresh_token_is_fatal(tenant):
    tokens = Tokens(REVOKED)

    async def go():
        async with graph(tenant.url, credential=tokens) as g:
            g.connection.http.event_hooks["request"].insert(0, revoke)
            with pytest.raises(Unauthorized) as raised:
                await g.caller.request("GET", drive_path(), kind=RequestKind.READ)
            return raised.value, len(g.wire.sent)

    error, sends = run(go())
    assert (error.status, sends, tokens.calls) == (401, 2, 2)
    assert "Fix:" in str(error)


def test_errors_that_retrying_cannot_cure_are_raised_at_once(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id = await g.drive.drive_id(UPN)
            with pytest.raises(FileFailure) as raised:
                await g.caller.request(
                    "GET", f"/drives/{drive_id}/root:/no/such/file.txt", kind=RequestKind.READ
                )
            return raised.value, len(g.wire.sent)

    error, sends = run(go())
    assert (error.status, error.code, sends) == (404, "itemNotFound", 2)
    assert "/no/such/file.txt" in str(error)


def test_upload_url_tokens_stay_out_of_errors_and_logs(tenant_factory, caplog):
    running = tenant_factory(session_ttl=0.5, error_rate=0.5, seed=11)

    async def go():
        async with graph(running.url) as g:
            drive_id = await g.drive.drive_id(UPN)
            root = await g.drive.ensure_folder(drive_id, "")
            session = await g.drive.create_session(
                drive_id, root, "secret-url.txt", size=3, created=NOW, modified=NOW
            )
            await asyncio.sleep(0.6)  # the tenant's own clock expires the session
            with pytest.raises(RestartFile) as raised:
                await g.drive.put_chunk(session.url, b"abc", 0, 3)
            return session, raised.value

    with caplog.at_level(logging.INFO, logger="hdrive_migrate.graph.caller"):
        session, error = run(go())
    token = httpx.URL(session.url).params["tempauth"]
    assert token not in str(error) and "tempauth" not in str(error)
    assert "/_upload/" in str(error)
    assert token not in repr(session)
    # The seeded fault plan fails the chunk once before the session is found gone.
    assert any("/_upload/" in record.getMessage() for record in caplog.records)
    assert all(token not in record.getMessage() for record in caplog.records)


def test_sdk_calls_share_the_pacer_and_the_retries(tenant_factory):
    running = tenant_factory(throttle_rate=0.4, retry_after=2, seed=5)

    async def go():
        async with graph(running.url) as g:
            users = g.connection.sdk.users
            names = [
                (
                    await g.caller.call_sdk(
                        lambda: users.by_user_id(UPN).get(), kind=RequestKind.READ
                    )
                ).display_name
                for _ in range(8)
            ]
            with pytest.raises(FileFailure) as raised:
                await g.caller.call_sdk(
                    lambda: users.by_user_id("nobody@contoso.test").get(), kind=RequestKind.READ
                )
            return names, g.caller.pacer, raised.value, g.clock.slept

    names, pacer, missing, slept = run(go())
    assert names == ["Alice Example"] * 8
    assert pacer.throttled > 0 and pacer.requests == 8 + pacer.throttled + 1
    assert min(slept) >= 2.0
    assert missing.status == 404
