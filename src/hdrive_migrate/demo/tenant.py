"""The demo's local tenant: `hdrive-migrate tenant serve` in a process of its own, on a free
loopback port, stopped when the demo ends however it ends.

A process rather than a thread: the tenant's hashing and disk writes then use the other core
instead of taking turns with the migration for one interpreter.
"""

import json
import select
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType

from hdrive_migrate.errors import HdriveError

START_TIMEOUT = 30  # seconds; the tenant starts in about one
STOP_TIMEOUT = 10
READY = "listening on "
REQUEST_LOG = "requests.jsonl"
# Graph answers each upload-session fragment but the last with 202 Accepted.
MORE_EXPECTED = 202


class LocalTenant:
    """A running local tenant; use it as a context manager, which stops it on the way out."""

    def __init__(self, data: Path, users_csv: Path, labels: list[str], log: Path) -> None:
        self.data, self.users_csv, self.labels, self.log = data, users_csv, labels, log
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "LocalTenant":
        command = [
            sys.executable, "-m", "hdrive_migrate", "tenant", "serve", "--data", str(self.data),
            "--port", "0", "--users", str(self.users_csv),
            "--retention-labels", ",".join(self.labels),
        ]  # fmt: skip
        with self.log.open("ab") as stderr:
            # A session of its own: Ctrl-C reaches the demo alone, whose command in progress
            # then stops cleanly, still talking to the tenant, before the demo stops it.
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
            )
        line = self._first_line()
        if READY not in line:
            self.stop()
            raise HdriveError(
                f"the local tenant did not start: {line.strip() or 'no answer'}",
                where=str(self.log),
                fix=f"read {self.log} for the cause, then run the demo again",
            )
        self.url = line.split(READY, 1)[1].strip()
        return self

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        return self.process.stdout.readline() if ready else ""

    def stop(self) -> None:
        """Stop the tenant (SIGTERM, then SIGKILL if it has not stopped) and wait for it."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def chunked_uploads(self) -> list[tuple[int, int]]:
        """(bytes, fragments) of each file the tenant took in more than one fragment, from its
        request log: the PUTs to one upload URL, of which all but the last were answered 202."""
        sizes: Counter[str] = Counter()
        fragments: Counter[str] = Counter()
        with (self.data / REQUEST_LOG).open(encoding="utf-8") as log:
            for line in log:
                request = json.loads(line)
                if request["method"] == "PUT" and request["status"] < 300:
                    sizes[request["path"]] += request["bytes"]
                    fragments[request["path"]] += request["status"] == MORE_EXPECTED
        return [(sizes[url], count + 1) for url, count in fragments.items() if count]

    @property
    def stopped(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
