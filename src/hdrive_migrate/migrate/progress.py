"""What a run tells people while it goes: observers of the engine's events (house style 9).

`JsonLog` writes one JSON object a line to `<workspace>/logs/migrate-<run>.jsonl` (file paths
and outcomes; never an upload URL or a token); `Terminal` draws a rich progress display on a
terminal. Reports read the database, never these.
"""

import json
from collections import Counter
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.display import size_text


class Observer:
    """Does nothing; subclasses pick the events they show."""

    def started(self, run_id: int, users: int, files: int, size: int) -> None: ...

    def note(self, message: str) -> None: ...

    def user_done(self, upn: str) -> None: ...

    def user_blocked(self, upn: str, reason: str, detail: str) -> None: ...

    def file_done(self, upn: str, path: str, state: str, reason: str | None, sent: int) -> None:
        """One file's outcome (`unchanged` for a file already migrated and not changed)."""

    def sent(self, size: int) -> None: ...

    def throttled(self, count: int) -> None: ...

    def finished(self, status: str) -> None: ...


class Observers(Observer):
    """Several observers as one: each event goes to each, in order."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def _each(self, event: str, *args) -> None:
        for observer in self.observers:
            getattr(observer, event)(*args)

    def started(self, run_id: int, users: int, files: int, size: int) -> None:
        self._each("started", run_id, users, files, size)

    def note(self, message: str) -> None:
        self._each("note", message)

    def user_done(self, upn: str) -> None:
        self._each("user_done", upn)

    def user_blocked(self, upn: str, reason: str, detail: str) -> None:
        self._each("user_blocked", upn, reason, detail)

    def file_done(self, upn: str, path: str, state: str, reason: str | None, sent: int) -> None:
        self._each("file_done", upn, path, state, reason, sent)

    def sent(self, size: int) -> None:
        self._each("sent", size)

    def throttled(self, count: int) -> None:
        self._each("throttled", count)

    def finished(self, status: str) -> None:
        self._each("finished", status)


class JsonLog(Observer):
    """JSON lines in FOLDER/migrate-<run>.jsonl: one per file outcome, user block and note,
    and the run's start and end."""

    def __init__(self, folder: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.folder = folder
        self.path: Path | None = None
        self._out: IO[str] | None = None
        self._clock = clock

    def _write(self, event: str, **fields) -> None:
        if self._out is not None:
            record = {"ts": round(self._clock.now().timestamp(), 3), "event": event, **fields}
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def started(self, run_id: int, users: int, files: int, size: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"migrate-{run_id}.jsonl"
        self._out = self.path.open("a", encoding="utf-8")
        self._write("started", run=run_id, users=users, files=files, bytes=size)

    def note(self, message: str) -> None:
        self._write("note", message=message)

    def user_done(self, upn: str) -> None:
        self._write("user-done", upn=upn)

    def user_blocked(self, upn: str, reason: str, detail: str) -> None:
        self._write("user-blocked", upn=upn, reason=reason, detail=detail)

    def file_done(self, upn: str, path: str, state: str, reason: str | None, sent: int) -> None:
        if state != "unchanged":  # a delta pass would log every unchanged file otherwise
            self._write("file", upn=upn, path=path, state=state, reason=reason, bytes=sent)

    def finished(self, status: str) -> None:
        self._write("finished", status=status)
        if self._out is not None:
            self._out.close()


class Terminal(Observer):
    """Files, bytes, rate, ETA, throttled answers and users done, on stderr."""

    def __init__(self, console: Console | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]} files"),
            TextColumn("{task.fields[size]}"),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            TextColumn("users {task.fields[users]}"),
            TextColumn("throttled {task.fields[throttled]}"),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task = None
        self.counts: Counter[str] = Counter()
        self.users = [0, 0]
        self.files = [0, 0]
        self.bytes_sent = 0
        self.started_at = self.clock.monotonic()

    def started(self, run_id: int, users: int, files: int, size: int) -> None:
        self.users[1], self.files[1] = users, files
        self.task = self.bar.add_task(
            f"migrate run {run_id}", total=size or None, **self._fields(throttled=0)
        )
        self.bar.start()

    def note(self, message: str) -> None:
        self.bar.console.print(message)

    def user_done(self, upn: str) -> None:
        self.users[0] += 1
        self._update()

    def user_blocked(self, upn: str, reason: str, detail: str) -> None:
        self.bar.console.print(f"✗ {upn}: blocked ({reason}): {detail}")

    def file_done(self, upn: str, path: str, state: str, reason: str | None, sent: int) -> None:
        self.files[0] += 1
        self.counts[state] += 1
        self._update()

    def sent(self, size: int) -> None:
        self.bytes_sent += size
        self.bar.update(self.task, advance=size, **self._fields())

    def throttled(self, count: int) -> None:
        self._update(throttled=count)

    def finished(self, status: str) -> None:
        self.bar.stop()

    def _update(self, **extra) -> None:
        if self.task is not None:
            self.bar.update(self.task, **self._fields(**extra))

    def _fields(self, **extra) -> dict:
        elapsed = max(self.clock.monotonic() - self.started_at, 1e-6)
        return {
            "files": f"{self.files[0]:,}/{self.files[1]:,}",
            "size": size_text(self.bytes_sent),
            "rate": size_text(int(self.bytes_sent / elapsed)),
            "users": f"{self.users[0]}/{self.users[1]}",
            **extra,
        }
