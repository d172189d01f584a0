"""Shared by the Graph caller and drive tests: a connection to a running local tenant with the
real pacer, caller and drive client, and a clock whose waits cost no real time."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from hdrive_migrate.config import Auth, GraphSettings
from hdrive_migrate.graph.caller import GraphCaller
from hdrive_migrate.graph.client import GraphConnection
from hdrive_migrate.graph.drive import DriveClient
from hdrive_migrate.graph.pacer import Pacer

# Budgets well above what a test spends, so pacing never slows one down.
PER_MINUTE_RU = 1_000_000
PER_DAY_RU = 100_000_000


class FastClock:
    """A Clock whose sleeps return at once and move its time forward by what was asked, so a
    Retry-After of seconds costs nothing real but is still measured (`slept`)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.offset += seconds
        await asyncio.sleep(0)


@dataclass
class Sent:
    """One request as it left httpx, stamped with the clock's monotonic time."""

    at: float
    method: str
    url: httpx.URL
    headers: httpx.Headers
    status: int | None = None


@dataclass
class Wire:
    """What went over the wire, recorded with httpx's own event hooks."""

    clock: FastClock
    sent: list[Sent] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        self.sent.append(Sent(self.clock.monotonic(), request.method, request.url, request.headers))

    async def on_response(self, response: httpx.Response) -> None:
        for record in reversed(self.sent):
            if record.url == response.request.url and record.status is None:
                record.status = response.status_code
                break


@dataclass
class Graph:
    connection: GraphConnection
    caller: GraphCaller
    drive: DriveClient
    clock: FastClock
    wire: Wire


@asynccontextmanager
async def graph(url: str, *, credential=None, **caller_options) -> AsyncIterator[Graph]:
    """The real pacer, caller and drive client on a connection to URL (a tenant's /v1.0)."""
    clock = FastClock()
    async with GraphConnection(GraphSettings(url, Auth.LOCAL)) as connection:
        if credential is not None:
            connection.credential = credential
        wire = Wire(clock)
        connection.http.event_hooks["request"].append(wire.on_request)
        connection.http.event_hooks["response"].append(wire.on_response)
        pacer = Pacer(PER_MINUTE_RU, PER_DAY_RU, clock=clock)
        caller = GraphCaller(connection, pacer, clock=clock, **caller_options)
        yield Graph(connection, caller, DriveClient(caller), clock, wire)


def run(coroutine):
    return asyncio.run(coroutine)
