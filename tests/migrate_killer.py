"""Run one migration and SIGKILL it at an exact moment of its talk with the tenant, as a power
loss would land there: `python migrate_killer.py WORKSPACE CHUNK_BYTES WHEN METHOD PATTERN`.

WHEN is `after` (the tenant has answered the request, the engine has not seen the answer) or
`before` (the request never leaves); METHOD and PATTERN (a regular expression searched in the
decoded URL path) name the request. The kill comes from a transport under the engine's own
httpx client: the engine, its journal and the tenant are the real ones. Exits 3 when no
request matched, so the test can tell that the moment never came.
"""

import asyncio
import os
import re
import signal
import sys
from urllib.parse import unquote

import httpx

from hdrive_migrate.migrate.progress import Observer
from hdrive_migrate.migrate.run import Engine, MigrateOptions
from hdrive_migrate.workspace import open_workspace

NEVER_CAME = 3


class KillAt(httpx.AsyncHTTPTransport):
    def __init__(self, when: str, method: str, pattern: str) -> None:
        super().__init__()
        self.when = when
        self.method = method
        self.pattern = re.compile(pattern)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chosen = request.method == self.method and self.pattern.search(unquote(request.url.path))
        if chosen and self.when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        response = await super().handle_async_request(request)
        if chosen and response.status_code < 300:
            os.kill(os.getpid(), signal.SIGKILL)
        return response


async def main(workspace: str, chunk: int, when: str, method: str, pattern: str) -> None:
    with open_workspace(workspace) as ws:
        options = MigrateOptions(concurrency=1, chunk_bytes=chunk)
        engine = Engine(ws, options, Observer(), transport=KillAt(when, method, pattern))
        await engine.run("test")


if __name__ == "__main__":
    folder, chunk_bytes, moment, verb, path = sys.argv[1:]
    asyncio.run(main(folder, int(chunk_bytes), moment, verb, path))
    sys.exit(NEVER_CAME)
