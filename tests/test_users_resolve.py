"""Directory look-ups share the tenant's pacer and its retries: against the real local tenant,
throttling half the requests, with a clock the test drives."""

import asyncio
from datetime import UTC, datetime, timedelta

from hdrive_migrate.config import Auth, GraphSettings
from hdrive_migrate.graph.client import GraphConnection
from hdrive_migrate.graph.pacer import Pacer
from hdrive_migrate.users.resolve import Directory, Person

RETRY_AFTER = 5


class FakeClock:
    """The Clock protocol on a hand-driven timeline: sleeping moves time on at once, and each
    sleep is recorded."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime(2025, 6, 2, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


def test_look_ups_go_through_one_pacer_and_wait_out_every_throttle(tenant_factory):
    tenant = tenant_factory(throttle_rate=0.5, retry_after=RETRY_AFTER, seed=11)
    clock = FakeClock()
    pacer = Pacer(5_000, 4_800_000, clock=clock)

    async def look_up():
        async with GraphConnection(GraphSettings(tenant.url, Auth.LOCAL)) as connection:
            directory = Directory(connection, pacer, clock=clock)
            return (
                await directory.users_with_sam("CAROL"),
                await directory.person("ALICE@contoso.test"),
                await directory.person("nobody@contoso.test"),
                await directory.drive_id("alice@contoso.test"),
                await directory.drive_id("bob@contoso.test"),
            )

    sam, alice, nobody, drive, no_drive = asyncio.run(look_up())
    assert (sam, alice, nobody, no_drive) == (
        ["carol@contoso.test"],
        Person("alice@contoso.test", "Alice Example", "alice", "alice@contoso.test"),
        None,
        None,
    )
    assert drive == tenant.drive_id("alice@contoso.test")

    log = tenant.requests()[:-1]  # the last one is the test's own drive_id
    throttled = [request for request in log if request["status"] == 429]
    assert throttled, "the seed must throttle at least one look-up"
    # The pacer counted what the tenant saw: the filtered query is a multi-item read (2 RU).
    assert pacer.requests == len(log)
    assert pacer.throttled == len(throttled)
    listing = sum(1 for request in log if request["path"] == "/v1.0/users")
    assert pacer.resource_units == len(log) + listing
    # Every throttle was waited out for at least as long as the tenant asked.
    assert clock.t >= RETRY_AFTER * len(throttled)
    # A 404 is an answer, not a failure: asked once each.
    missing = [r for r in log if r["status"] == 404]
    assert len(missing) == 2
