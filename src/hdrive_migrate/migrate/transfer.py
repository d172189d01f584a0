"""One file's life (design/engine.md): read it, send it, verify it, record one outcome.

    planned ─► sending(sealed upload URL, expiry, next offset) ─► sent ─► migrated
        ├─► skipped-identical   the target already holds the same content
        ├─► renamed             someone else's file is at the path: ours goes beside it
        └─► failed(reason)      this file only; the wave goes on

Nothing is `migrated` until the service's QuickXorHash equals the one computed from the very
bytes sent (and the scan's, where it recorded one), and the source's size and modified time
after the read equal those before it and at the scan. A file that changed is read once more,
then failed `changed-during-migration`; a hash mismatch is tried once more; a session lost
while we held it (expired, dropped by the service) starts the file anew, up to RESTARTS times.

Orphaned sessions. `sending` is committed BEFORE createUploadSession (checkpoint.OPENING), so
a session the service opened is never one the workspace has not heard of. A kill between the
service's answer and the saved URL leaves a session nobody can reach, holding the name for
~15 minutes (OneDrive refuses a second session for it). The next attempt, hearing 409 with
nothing at the path, knows from the row that the session is its own: it sends the file under a
temporary name in the same folder (`partial_name`, recorded before its session opens), then
renames it into place once verified; a file at the name by then is a clash like any other.
With no such row the session is someone else's: the file fails `target-busy` (reasons.py).

Small files (up to one chunk) are read whole with a stat after the read, hashed, and sent as
an upload session plus one PUT: the same two requests (4 RU) as a simple PUT plus a PATCH of
the times, but atomic and one version (graph/drive.py measured the schemes). Empty files go
by simple PUT (a session cannot take zero bytes). Larger files go in chunks, the next read
while one is sent; the file is checked against the scan once its last chunk is read and before
that chunk (which commits it) is sent, so a file that changed during the read is never
committed: its session is cancelled. (A deferCommit session would allow the same check after
the last chunk, at one more request per file.)
A large file's sealed URL is committed before its first byte; a small file's rides with the
next commit (a kill before it leaves an orphan, handled as above, or a file found complete).

User-level failures (no OneDrive, quota full, access denied) and run-level ones (a token that
cannot be refreshed, a lost SMB server) are raised to the caller; everything else becomes the
file's outcome.
"""

import asyncio
import hashlib
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import count
from typing import BinaryIO

import quickxorhash

from hdrive_migrate import naming
from hdrive_migrate.clock import Clock, stored_time
from hdrive_migrate.graph.drive import NAME_TAKEN, DriveClient, DriveItem, UploadSession
from hdrive_migrate.graph.errors import FileFailure, GraphError, RestartFile, Transient
from hdrive_migrate.hashing import quick_xor_text
from hdrive_migrate.migrate import checkpoint
from hdrive_migrate.migrate.checkpoint import Journal
from hdrive_migrate.migrate.limits import ByteBudget, ByteRate
from hdrive_migrate.migrate.sealing import Sealer
from hdrive_migrate.migrate.work import TIME_TOLERANCE, Job
from hdrive_migrate.plan.names import numbered
from hdrive_migrate.sources import EntryError, FileStat, Source

ATTEMPTS = 2  # "re-read once", "retry once"
# Sessions lost while we held them, per file and run, before it fails upload-session-lost: a
# session outlives any one chunk's upload by minutes (15 in the service, extended by every
# chunk), so losing it again and again means something is wrong beyond one slow moment.
RESTARTS = 3
MAX_CLASH_NUMBER = 1000
PARTIAL_PREFIX = ".hdrive-partial-"


@dataclass(frozen=True)
class Outcome:
    state: str  # migrated, skipped-identical, renamed, failed
    reason: str | None = None
    detail: str | None = None
    sent: int = 0  # bytes sent in this run


@dataclass
class Held:
    """What this run has under way for one file: its open upload session, the target it goes
    to and the temporary name it goes under, if any. A failure cleans these up."""

    target: str
    partial: str | None = None
    url: str | None = field(default=None, repr=False)

    @property
    def partial_path(self) -> str | None:
        return f"{self.target.rpartition('/')[0]}/{self.partial}" if self.partial else None


@dataclass
class Lane:
    """What every file's upload shares in one run."""

    drive: DriveClient
    journal: Journal
    source: Source
    sealer: Sealer
    reads: Executor  # source reads run here, off the event loop
    budget: ByteBudget
    rate: ByteRate
    chunk: int
    clock: Clock
    run_id: int
    on_bytes: Callable[[int], None] = lambda sent: None
    stopping: Callable[[], bool] = lambda: False  # checked before each chunk of a large file
    held: dict[tuple[str, str], Held] = field(default_factory=dict)  # (upn, path) -> under way

    async def off_loop(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.reads, function, *args)

    def now(self) -> str:
        return stored_time(self.clock.now())


@dataclass(frozen=True)
class Placement:
    """An upload session opened for a file: the target it goes to, the outcome it will have
    there, and the temporary name it goes under first (None: straight to the target)."""

    session: UploadSession
    target: str
    state: str
    partial: str | None = None


@dataclass(frozen=True)
class _Straight:
    """Where a file's bytes went or go, as Placement says, without a session."""

    target: str
    state: str
    partial: str | None = None


_Placed = Placement | _Straight


class Stopped(Exception):
    """The run is stopping: the file's session stays open, checkpointed, for the next run."""


class _Changed(Exception):
    """The source is not as it was at the scan (SINCE_SCAN), or changed while it was read."""

    def __init__(self, detail: str, *, since_scan: bool = False) -> None:
        super().__init__(detail)
        self.since_scan = since_scan


class _Mismatch(Exception):
    """The service holds other bytes than those sent, as item `item_id` (ours, to replace), or
    None when that copy was a temporary one, removed."""

    def __init__(self, detail: str, item_id: str | None) -> None:
        super().__init__(detail)
        self.item_id = item_id


class _StartAgain(Exception):
    """The upload cannot go on as it stands (the service kept other bytes than sent, or the
    name was taken meanwhile): the file is sent again from the start, once."""


class _Busy(Exception):
    """The name is taken but nothing is there: another upload session holds it."""


async def migrate_file(lane: Lane, job: Job) -> Outcome:
    """Send JOB's file and record its outcome; returns it. User- and run-level failures
    (graph Fatal, SourceError) are raised, with nothing recorded for the file."""
    try:
        outcome = await _migrate(lane, job)
    except EntryError as exc:
        code = "source-vanished" if exc.kind == "vanished" else "source-unreadable"
        outcome = Outcome("failed", code, exc.detail)
    except RestartFile as exc:
        outcome = Outcome("failed", "upload-session-lost", exc.what)
    except FileFailure as exc:
        outcome = Outcome("failed", failure_code(exc), exc.what)
    except Transient as exc:
        outcome = Outcome("failed", "service-unavailable", exc.what)
    if outcome.state == "failed":
        await abandon(lane, job)  # the outcome below forgets the session
        record(lane, job, outcome)
    else:
        lane.held.pop((job.upn, job.path), None)
    return outcome


async def abandon(lane: Lane, job: Job) -> None:
    """Cancel JOB's upload session, if one is open, and remove the temporary copy it went to,
    if any, for good: left open a session holds the name until it expires."""
    held = lane.held.pop((job.upn, job.path), None)
    if held is None:  # nothing done in this run: as an earlier run left it
        url = lane.sealer.unseal(job.sealed) if job.sealed else None
        held = Held(job.target, job.partial, url)
    await discard(lane, job.drive_id, held.url, held.partial_path)


async def discard(lane: Lane, drive_id: str, url: str | None, partial_path: str | None) -> None:
    """Best effort: cancel the session at URL and move our temporary copy at PARTIAL_PATH (a
    name only this tool uses, so never anyone else's file) to the recycle bin."""
    if url is not None:
        await cancel_session(lane, url)
    if partial_path is not None:
        with suppress(GraphError):
            item = await lane.drive.item_at(drive_id, partial_path)
            if item is not None and not item.is_folder:
                await lane.drive.delete(drive_id, item.id)


def failure_code(error: FileFailure) -> str:
    codes = {error.code, error.inner_code}
    if "pathIsTooLong" in codes:
        return "path-too-long"
    if "maxFileSizeExceeded" in codes:
        return "too-large"
    if error.status == 400 and "invalidRequest" in codes:
        return "name-refused"
    return "graph-refused"


async def _migrate(lane: Lane, job: Job) -> Outcome:
    tries = restarts = 0
    while True:
        resume = False
        try:
            if job.sealed or job.partial or job.may_hold_a_session:
                outcome = await _go_on(lane, job)
                if outcome is not None:
                    return outcome
                job = replace(job, sealed=None, partial=None)
            return await _attempt(lane, job)
        except _Changed as exc:
            tries += 1
            if exc.since_scan or tries == ATTEMPTS:
                # Re-reading cannot bring back what the scan saw.
                return Outcome("failed", "changed-during-migration", str(exc))
        except _Mismatch as exc:
            tries += 1
            if tries == ATTEMPTS:
                return Outcome("failed", "hash-mismatch", str(exc))
            if exc.item_id is not None:
                job = replace(job, item_id=exc.item_id, ours=True)
        except _StartAgain as exc:
            tries += 1
            if tries == ATTEMPTS:
                return Outcome("failed", "upload-session-lost", str(exc))
        except RestartFile:
            # The session was lost while we held it: the file starts anew (after a look at
            # the target, in case its last chunk completed it).
            restarts += 1
            if restarts > RESTARTS:
                raise
        except Transient:
            # The caller has retried each request already; a second go at the whole file
            # outlasts a longer storm of throttling or server errors, going on from the
            # session the first go opened, if it did.
            tries += 1
            if tries == ATTEMPTS:
                raise
            resume = True
        except _Busy as exc:
            return Outcome("failed", "target-busy", str(exc))
        job = _as_left(lane, job, resume=resume)


def _as_left(lane: Lane, job: Job, *, resume: bool) -> Job:
    """JOB as a failed attempt left it: under way (a session it opened may still hold the
    name), to its target and temporary name, going on in the session it opened with RESUME."""
    held = lane.held.get((job.upn, job.path))
    if held is None:
        return replace(job, state="sending", sealed=None)
    sealed = lane.sealer.seal(held.url) if resume and held.url else None
    return replace(job, state="sending", sealed=sealed, target=held.target, partial=held.partial)


async def _attempt(lane: Lane, job: Job) -> Outcome:
    before = await lane.off_loop(lane.source.stat_file, job.source_path)
    check_as_scanned(job, before)
    parent_path, _, name = job.target.rpartition("/")
    parent_id = await lane.drive.ensure_folder(job.drive_id, parent_path)
    try:
        return await _send(lane, job, parent_id, name)
    except FileFailure as exc:
        if exc.status != 404 or isinstance(exc, RestartFile):
            raise
    # The folder id was stale: someone removed the folder (or one above it) in OneDrive since
    # it was made. Make it again, once.
    for depth in range(parent_path.count("/") + 1):
        lane.drive.forget_folder(job.drive_id, parent_path.rsplit("/", depth)[0])
    parent_id = await lane.drive.ensure_folder(job.drive_id, parent_path)
    return await _send(lane, job, parent_id, name)


async def _send(lane: Lane, job: Job, parent_id: str, name: str) -> Outcome:
    if job.size == 0:
        return await _send_empty(lane, job, parent_id, name)
    if job.size <= lane.chunk:
        return await _send_small(lane, job, parent_id, name)
    return await _send_large(lane, job, parent_id, name)


def check_as_scanned(job: Job, now: FileStat, *, read: bool = False) -> None:
    """Raise _Changed unless NOW (size, modified time) is what the scan recorded; READ says
    the check follows a read of the file (else it precedes one)."""
    if now.size == job.size and math.isclose(now.modified, job.modified, abs_tol=TIME_TOLERANCE):
        return
    why = "changed while it was read" if read else "changed since the scan"
    raise _Changed(
        f"{why}: {job.size:,} bytes modified {_when(job.modified)} at the scan, "
        f"{now.size:,} bytes modified {_when(now.modified)} now",
        since_scan=not read,
    )


def _when(posix: float) -> str:
    return datetime.fromtimestamp(posix, UTC).isoformat(timespec="seconds")


# Small and empty files


async def _send_small(lane: Lane, job: Job, parent_id: str, name: str) -> Outcome:
    async with lane.budget.hold(job.size):
        await lane.rate.take(job.size)
        data, quick_xor, sha256 = await lane.off_loop(_read_whole, lane.source, job)
        placed = await _place(lane, job, parent_id, name, quick_xor, defer=False)
        if isinstance(placed, Outcome):
            return placed
        await _open(lane, job, placed, durable=False)
        done = await lane.drive.put_chunk(placed.session.url, data, 0, job.size)
    lane.on_bytes(job.size)
    if not isinstance(done, DriveItem):
        await _cancel(lane, job, placed.session.url)
        raise _StartAgain(f"the service took {done:,} of {job.size:,} bytes in one request")
    return await _finish(lane, job, done, quick_xor, sha256, placed, job.size)


def _read_whole(source: Source, job: Job) -> tuple[bytes, str, str]:
    """(bytes, QuickXorHash, SHA-256) of the whole file, checked unchanged after the read."""
    with source.open_file(job.source_path) as stream:
        data = stream.read()
    check_as_scanned(job, source.stat_file(job.source_path), read=True)
    if len(data) != job.size:
        raise _Changed(f"changed while it was read: read {len(data):,} of {job.size:,} bytes")
    hasher = quickxorhash.quickxorhash()
    hasher.update(data)
    quick_xor = quick_xor_text(hasher.digest())
    if job.quick_xor and quick_xor != job.quick_xor:
        raise _Changed("changed while it was read: its content differs from the scan's hash")
    return data, quick_xor, hashlib.sha256(data).hexdigest()


async def _send_empty(lane: Lane, job: Job, parent_id: str, name: str) -> Outcome:
    quick_xor = quick_xor_text(quickxorhash.quickxorhash().digest())
    sha256 = hashlib.sha256(b"").hexdigest()
    conflict = "fail"
    target, state = job.target, _sent_state(job, name)
    taken: set[str] = set()
    while True:
        try:
            item = await lane.drive.upload_small(
                job.drive_id, parent_id, name, b"", **_times(job), conflict=conflict
            )
            return await _finish(lane, job, item, quick_xor, sha256, _Straight(target, state), 0)
        except FileFailure as exc:
            if NAME_TAKEN not in (exc.code, exc.inner_code):
                raise
        existing = await lane.drive.item_in(job.drive_id, parent_id, name)
        if existing is None:
            raise _Busy("the name is held by another upload session that is still open")
        taken.add(name.casefold())
        resolved = await _settle_clash(lane, job, parent_id, name, existing, quick_xor, taken)
        if isinstance(resolved, Outcome):
            return resolved
        name, target, state, conflict = resolved


# Large files, and going on with any file


async def _send_large(lane: Lane, job: Job, parent_id: str, name: str) -> Outcome:
    placed = await _place(lane, job, parent_id, name, None, defer=False)
    if isinstance(placed, Outcome):
        return placed
    await _open(lane, job, placed, durable=True)
    return await _stream(lane, job, placed.session.url, 0, placed)


async def _stream(lane: Lane, job: Job, url: str, start: int, placed: _Placed) -> Outcome:
    """Send JOB's bytes from START to the session at URL in chunks (re-reading and hashing
    the bytes before START, which the session already holds), then commit and verify."""
    hashers = (quickxorhash.quickxorhash(), hashlib.sha256())
    with ExitStack() as files:
        stream = await lane.off_loop(
            lambda: files.enter_context(lane.source.open_file(job.source_path))
        )
        try:
            done = await _send_chunks(
                lane, job, url, stream, start, hashers, lambda: _check_read(lane, job, url, hashers)
            )
        finally:
            await lane.off_loop(files.close)
    if not isinstance(done, DriveItem):
        # Every byte was already in a session opened with deferCommit by an earlier version.
        await _check_read(lane, job, url, hashers)
        done = await _commit(lane, job, url)
    quick_xor, sha256 = quick_xor_text(hashers[0].digest()), hashers[1].hexdigest()
    return await _finish(lane, job, done, quick_xor, sha256, placed, job.size - start)


async def _check_read(lane: Lane, job: Job, url: str, hashers: tuple) -> None:
    """Once the whole file is read, before the last chunk commits it: the source is as it was
    at the scan, size, time and content; else the session is cancelled and _Changed raised."""
    after = await lane.off_loop(lane.source.stat_file, job.source_path)
    try:
        check_as_scanned(job, after, read=True)
        if job.quick_xor and quick_xor_text(hashers[0].digest()) != job.quick_xor:
            raise _Changed("changed while it was read: its content differs from the scan's hash")
    except _Changed:
        await _cancel(lane, job, url)
        raise


async def _send_chunks(
    lane: Lane,
    job: Job,
    url: str,
    stream: BinaryIO,
    start: int,
    hashers: tuple,
    before_last: Callable[[], Awaitable[None]],
) -> DriveItem | int:
    """Send the chunks from START; BEFORE_LAST runs once the last chunk is read, before it is
    sent, since sending it commits the file."""
    offset = 0
    while offset < start:  # already in the session: hash, do not send
        size = min(lane.chunk, start - offset)
        await lane.rate.take(size)
        async with lane.budget.hold(size):
            offset += len(await lane.off_loop(_read_hashed, stream, size, hashers))
    done: DriveItem | int = start
    ahead = _ReadAhead(lane, stream, hashers)
    try:
        if offset < job.size:
            ahead.start(min(lane.chunk, job.size - offset))
        while offset < job.size:
            if lane.stopping():
                raise Stopped
            size = min(lane.chunk, job.size - offset)
            async with ahead.taken() as data:
                if len(data) != size:
                    await _cancel(lane, job, url)
                    ended = offset + len(data)
                    raise _Changed(f"changed while it was read: it ended at {ended:,}")
                if offset + size < job.size:
                    ahead.start(min(lane.chunk, job.size - offset - size))
                else:
                    await before_last()
                done = await lane.drive.put_chunk(url, data, offset, job.size)
            lane.on_bytes(size)
            offset += size
            if isinstance(done, DriveItem):
                break
            if done != offset:
                # The service kept other bytes than we counted: the hash of what it holds is
                # unknown, so the file starts again.
                await _cancel(lane, job, url)
                raise _StartAgain(f"the session expects byte {done:,}, not {offset:,}")
            lane.journal.later(checkpoint.ADVANCE, (offset, None, job.upn, job.path))
    finally:
        await ahead.close()
    return done


class _ReadAhead:
    """A file's next chunk, read and hashed off the loop while the one before it is sent, so
    reading and sending overlap: a file holds at most two chunks of the byte budget. Chunks are
    read strictly in order, so the hashers see the file's bytes in order."""

    def __init__(self, lane: Lane, stream: BinaryIO, hashers: tuple) -> None:
        self.lane = lane
        self.stream = stream
        self.hashers = hashers
        self._task: asyncio.Task | None = None

    def start(self, size: int) -> None:
        self._task = asyncio.ensure_future(self._read(size))

    async def _read(self, size: int) -> tuple[AbstractAsyncContextManager, bytes]:
        await self.lane.rate.take(size)
        hold = self.lane.budget.hold(size)
        await hold.__aenter__()
        try:
            data = await self.lane.off_loop(_read_hashed, self.stream, size, self.hashers)
        except BaseException:
            await hold.__aexit__(None, None, None)
            raise
        return hold, data

    @asynccontextmanager
    async def taken(self) -> AsyncIterator[bytes]:
        """The chunk started last, its share of the budget held until the block ends."""
        task, self._task = self._task, None
        hold, data = await task
        try:
            yield data
        finally:
            await hold.__aexit__(None, None, None)

    async def close(self) -> None:
        """Stop a read still under way and give back what it holds."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            hold, _ = await task
        except (asyncio.CancelledError, Exception):
            return
        await hold.__aexit__(None, None, None)


def _read_hashed(stream: BinaryIO, size: int, hashers: tuple) -> bytes:
    data = stream.read(size)
    for hasher in hashers:
        hasher.update(data)
    return data


async def _commit(lane: Lane, job: Job, url: str) -> DriveItem:
    try:
        return await lane.drive.commit(url)
    except FileFailure as exc:
        if NAME_TAKEN not in (exc.code, exc.inner_code):
            raise
        # Someone put a file at the path while ours was on its way: start again, and the
        # clash is settled when the session is opened.
        await _cancel(lane, job, url)
        raise _StartAgain("the name was taken while the file was sent") from exc


async def _go_on(lane: Lane, job: Job) -> Outcome | None:
    """Go on with an upload an earlier attempt left under way; None when it must start
    afresh."""
    state = "renamed" if job.target != job.planned else "migrated"
    placed = _Straight(job.target, state, job.partial)
    url = lane.sealer.unseal(job.sealed) if job.sealed else None
    offset = await lane.drive.session_offset(url, total=job.size) if url else None
    if offset is None:
        # No session: it expired, or completed after its last byte (killed before the outcome
        # was written), or its URL was never saved. Sending again would upload it twice, so
        # look at the target (and the temporary name) first.
        return await _found_complete(lane, job, placed)
    lane.held[(job.upn, job.path)] = Held(job.target, job.partial, url)
    before = await lane.off_loop(lane.source.stat_file, job.source_path)
    try:
        check_as_scanned(job, before)
    except _Changed:
        await _cancel(lane, job, url)
        return None
    return await _stream(lane, job, url, offset, placed)


async def _found_complete(lane: Lane, job: Job, placed: _Straight) -> Outcome | None:
    """The outcome when the file is already whole in OneDrive from an earlier attempt, under
    its temporary name (then renamed into place) or at its target; else None, with any stale
    temporary copy removed."""
    hashes: tuple[str, str] | None = None
    places = [(job.partial_path, placed)] if job.partial else []
    places.append((job.target, replace(placed, partial=None)))
    for path, where in places:
        item = await lane.drive.item_at(job.drive_id, path)
        if item is None or item.is_folder:
            continue
        if item.size == job.size:
            hashes = hashes or await lane.off_loop(_hash_source, lane.source, job)
            if item.quick_xor == hashes[0]:
                return await _finish(lane, job, item, *hashes, where, 0)
        if where.partial:
            await lane.drive.delete(job.drive_id, item.id)  # our own, of other bytes
    return None


def _hash_source(source: Source, job: Job) -> tuple[str, str]:
    hashers = (quickxorhash.quickxorhash(), hashlib.sha256())
    with source.open_file(job.source_path) as stream:
        while _read_hashed(stream, 1 << 20, hashers):
            pass
    check_as_scanned(job, source.stat_file(job.source_path), read=True)
    return quick_xor_text(hashers[0].digest()), hashers[1].hexdigest()


# Sessions, clashes and outcomes


async def _place(
    lane: Lane, job: Job, parent_id: str, name: str, quick_xor: str | None, *, defer: bool
) -> Placement | Outcome:
    """An upload session for JOB at its target, or beside it under a clash name, or under a
    temporary name when our own orphaned session holds the name; or the outcome when the
    target already holds the same content."""
    conflict, target, state = "fail", job.target, _sent_state(job, name)
    await _intend(lane, job, target)
    refused: set[tuple[str, str]] = set()
    while True:
        try:
            session = await _create(lane, job, parent_id, name, conflict, defer=defer)
            return Placement(session, target, state)
        except FileFailure as exc:
            if NAME_TAKEN not in (exc.code, exc.inner_code):
                raise
        if quick_xor is None:  # a large file: its hash is needed to judge the clash
            quick_xor, _ = await lane.off_loop(_hash_source, lane.source, job)
        # Refused again as before (a replace of our own file): the file is not what stops it.
        again = (name.casefold(), conflict) in refused
        existing = None if again else await lane.drive.item_in(job.drive_id, parent_id, name)
        if existing is None:
            # An upload session holds the name.
            if not job.may_hold_a_session:
                raise _Busy("the name is held by another upload session that is still open")
            partial = partial_name(name, target)
            await _intend(lane, job, target, partial)
            session = await _create(lane, job, parent_id, partial, "fail", defer=defer)
            return Placement(session, target, state, partial)
        refused.add((name.casefold(), conflict))
        taken = {taken_name for taken_name, _ in refused}
        resolved = await _settle_clash(lane, job, parent_id, name, existing, quick_xor, taken)
        if isinstance(resolved, Outcome):
            return resolved
        name, target, state, conflict = resolved


def partial_name(name: str, target: str) -> str:
    """A temporary name for NAME in TARGET's folder, new each time, that OneDrive accepts:
    a prefix no user's file has, then as much of NAME as the 400-character path allows."""
    tag = f"{PARTIAL_PREFIX}{secrets.token_hex(4)}"
    room = naming.MAX_PATH_CHARACTERS - len(target.rpartition("/")[0]) - len(tag) - 2
    kept = name[: max(room, 0)].rstrip(" .")  # a name may not end in a space or a dot
    return f"{tag} {kept}" if kept else tag


async def _create(
    lane: Lane, job: Job, parent_id: str, name: str, conflict: str, *, defer: bool
) -> UploadSession:
    return await lane.drive.create_session(
        job.drive_id,
        parent_id,
        name,
        size=job.size,
        **_times(job),
        conflict=conflict,
        defer_commit=defer,
    )


async def _settle_clash(
    lane: Lane,
    job: Job,
    parent_id: str,
    name: str,
    existing: DriveItem,
    quick_xor: str,
    taken: set[str],
) -> tuple[str, str, str, str] | Outcome:
    """What to do about EXISTING, the item already called NAME: (name, target, state,
    conflict behaviour) for the next try, or the skipped-identical outcome. TAKEN: names
    (casefolded) tried already."""
    parent_path = job.target.rpartition("/")[0]
    if not existing.is_folder and existing.id == job.item_id and job.ours:
        # Ours from an earlier pass, and the source changed since: a new version of it.
        return name, f"{parent_path}/{name}", _sent_state(job, name), "replace"
    if not existing.is_folder and existing.quick_xor == quick_xor:
        return _identical(lane, job, existing, f"{parent_path}/{name}")
    return await _clash_name(lane, job, parent_id, quick_xor, taken)


async def _clash_name(
    lane: Lane, job: Job, parent_id: str, quick_xor: str, taken: set[str]
) -> tuple[str, str, str, str] | Outcome:
    """The first numbered name beside the planned one that is free (and not in TAKEN), or
    the skipped-identical outcome when one holds the same content."""
    parent_path = job.target.rpartition("/")[0]
    base = job.planned.rpartition("/")[2]
    for number in count(2):
        if number > MAX_CLASH_NUMBER:
            raise _Busy(f"names up to {numbered(base, MAX_CLASH_NUMBER)!r} are all taken")
        candidate = numbered(base, number)
        if candidate.casefold() in taken:
            continue
        other = await lane.drive.item_in(job.drive_id, parent_id, candidate)
        if other is None:
            return candidate, f"{parent_path}/{candidate}", "renamed", "fail"
        if not other.is_folder and other.quick_xor == quick_xor:
            return _identical(lane, job, other, f"{parent_path}/{candidate}")


def _sent_state(job: Job, name: str) -> str:
    return "renamed" if name != job.planned.rpartition("/")[2] else "migrated"


def _identical(lane: Lane, job: Job, item: DriveItem, target: str) -> Outcome:
    outcome = Outcome("skipped-identical", detail="the same content is already there")
    record(lane, job, outcome, item=item, target=target, quick_xor=item.quick_xor, ours=False)
    return outcome


async def _intend(lane: Lane, job: Job, target: str, partial: str | None = None) -> None:
    """Commit that JOB's file is about to get an upload session (under PARTIAL, when given),
    before asking for one: see the module docstring, Orphaned sessions."""
    lane.held[(job.upn, job.path)] = Held(target, partial)
    await lane.journal.durable(
        checkpoint.OPENING,
        (
            job.upn,
            job.path,
            target,
            job.label,
            job.size,
            job.modified,
            partial,
            lane.run_id,
            lane.now(),
        ),
    )


async def _open(lane: Lane, job: Job, placed: Placement, *, durable: bool) -> None:
    """Save the sealed upload URL, so that a later run resumes (or cancels) the session;
    DURABLE: before the engine goes on, as a large file's must be before its first byte."""
    session = placed.session
    lane.held[(job.upn, job.path)] = Held(placed.target, placed.partial, session.url)
    step = (
        placed.target,
        lane.sealer.seal(session.url),
        stored_time(session.expires),
        job.upn,
        job.path,
    )
    if durable:
        await lane.journal.durable(checkpoint.OPEN_SESSION, step)
    else:
        lane.journal.later(checkpoint.OPEN_SESSION, step)


async def _cancel(lane: Lane, job: Job, url: str) -> None:
    held = lane.held.get((job.upn, job.path))
    if held is not None and held.url == url:
        held.url = None
    await cancel_session(lane, url)


async def cancel_session(lane: Lane, url: str) -> None:
    """Best effort: an abandoned session blocks its name until it expires (~15 minutes)."""
    with suppress(GraphError):
        await lane.drive.cancel(url)


async def _finish(
    lane: Lane,
    job: Job,
    item: DriveItem,
    quick_xor: str,
    sha256: str,
    placed: _Placed,
    sent: int,
) -> Outcome:
    """Verify what arrived, put it in place, apply the label, record the outcome."""
    held = lane.held.get((job.upn, job.path))
    if held is not None:
        held.url = None  # the session completed
    if item.quick_xor != quick_xor:
        detail = (
            f"OneDrive's QuickXorHash {item.quick_xor} differs from the bytes sent ({quick_xor})"
        )
        if placed.partial:
            await _delete_partial(lane, job, item)  # nothing is lost with it
            raise _Mismatch(detail, None)
        # Ours either way: recorded so that the next try replaces it.
        record(lane, job, Outcome("failed", "hash-mismatch"), item=item, target=placed.target)
        raise _Mismatch(detail, item.id)
    target, state = placed.target, placed.state
    if placed.partial:
        moved = await _into_place(lane, job, item, target, state, quick_xor)
        if isinstance(moved, Outcome):
            return moved
        item, target, state = moved
    if job.label:
        try:
            await lane.drive.set_label(job.drive_id, item.id, job.label)
        except FileFailure as exc:
            outcome = Outcome("failed", "label-refused", f"{job.label!r}: {exc.what}")
            record(lane, job, outcome, item=item, target=target)
            return outcome
    detail = None if state == "migrated" else "the planned name was taken by another file"
    outcome = Outcome(state, detail=detail, sent=sent)
    record(lane, job, outcome, item=item, target=target, quick_xor=quick_xor, sha256=sha256)
    return outcome


async def _into_place(
    lane: Lane, job: Job, item: DriveItem, target: str, state: str, quick_xor: str
) -> tuple[DriveItem, str, str] | Outcome:
    """Rename ITEM, our verified copy under a temporary name, to TARGET's name; a file that
    appeared there meanwhile is a clash like any other: ours goes beside it (renamed), or is
    dropped when that file holds the same content (skipped-identical)."""
    parent_path, _, name = target.rpartition("/")
    parent_id = item.parent_id or await lane.drive.ensure_folder(job.drive_id, parent_path)
    taken: set[str] = set()
    replaced = False
    while True:
        try:
            moved = await lane.drive.rename(job.drive_id, item.id, name)
            _forget_partial(lane, job)
            return moved, f"{parent_path}/{name}", state
        except FileFailure as exc:
            if NAME_TAKEN not in (exc.code, exc.inner_code):
                raise
        taken.add(name.casefold())
        existing = await lane.drive.item_in(job.drive_id, parent_id, name)
        if existing is not None and not existing.is_folder:
            if existing.id == job.item_id and job.ours and not replaced:
                # Our own earlier upload of a file changed since: the new one takes its name,
                # the old one goes to the recycle bin (restorable) rather than becoming an
                # older version, which only a session at the name could make.
                await lane.drive.delete(job.drive_id, existing.id)
                replaced = True
                continue
            if existing.quick_xor == quick_xor:
                await _delete_partial(lane, job, item)
                return _identical(lane, job, existing, f"{parent_path}/{name}")
        # Someone else's file, or (nothing there) a session still holding the name.
        resolved = await _clash_name(lane, job, parent_id, quick_xor, taken)
        if isinstance(resolved, Outcome):
            await _delete_partial(lane, job, item)
            return resolved
        name, _, state, _ = resolved


async def _delete_partial(lane: Lane, job: Job, item: DriveItem) -> None:
    """Move ITEM, our temporary copy of JOB's file, to the recycle bin."""
    await lane.drive.delete(job.drive_id, item.id)
    _forget_partial(lane, job)


def _forget_partial(lane: Lane, job: Job) -> None:
    """JOB's temporary copy is gone (renamed into place or deleted): nothing to clean up."""
    held = lane.held.get((job.upn, job.path))
    if held is not None:
        held.partial = None


def record(
    lane: Lane,
    job: Job,
    outcome: Outcome,
    *,
    item: DriveItem | None = None,
    target: str | None = None,
    quick_xor: str | None = None,
    sha256: str | None = None,
    ours: bool = True,
) -> None:
    sent = outcome.state != "failed"
    lane.journal.later(
        checkpoint.OUTCOME,
        (
            job.upn,
            job.path,
            outcome.state,
            target or job.target,
            job.label,
            job.size if sent else None,
            job.modified if sent else None,
            sha256,
            quick_xor,
            item.id if item else None,
            item.etag if item else None,
            int(ours and item is not None),
            outcome.reason,
            outcome.detail,
            lane.run_id,
            lane.now(),
            lane.now(),
        ),
    )


def _times(job: Job) -> dict[str, datetime]:
    modified = datetime.fromtimestamp(job.modified, UTC)
    created = datetime.fromtimestamp(job.created, UTC) if job.created else modified
    return {"created": created, "modified": modified}
