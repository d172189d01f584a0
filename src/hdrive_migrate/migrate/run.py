"""A migration run: the chosen users' files streamed from state.db to bounded workers on our own
event loop, one Graph connection, pacer, caller and drive client for the whole run.

Bounds (house style 8): CONCURRENCY files in flight (each worker sends one request at a time),
and separately at most CONCURRENCY chunks of bytes in memory (ByteBudget); a bounded queue
between the database and the workers keeps memory flat whatever the wave's size. Source reads
run on a thread pool. New files start only inside --window; at its end, on Ctrl-C or SIGTERM
the run stops cleanly: chunks in flight finish and are checkpointed, open sessions stay
resumable, and the run is recorded `stopped`. A second Ctrl-C stops at once (still
resumable: every step is already in state.db).
"""

import asyncio
import contextlib
import signal
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock, stored_time
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.graph.errors import (
    Fatal,
    FileFailure,
    NoDrive,
    QuotaFull,
    Transient,
    Unauthorized,
)
from hdrive_migrate.graph.pacer import PER_DAY_RU, PER_MINUTE_RU
from hdrive_migrate.migrate import checkpoint
from hdrive_migrate.migrate.checkpoint import Journal
from hdrive_migrate.migrate.limits import ByteBudget, ByteRate, Window, bytes_per_second
from hdrive_migrate.migrate.progress import Observer
from hdrive_migrate.migrate.sealing import Sealer
from hdrive_migrate.migrate.transfer import (
    Lane,
    Outcome,
    Stopped,
    abandon,
    discard,
    migrate_file,
    record,
)
from hdrive_migrate.migrate.work import (
    BLOCK_REMAINING,
    Deleted,
    Job,
    Next,
    abandoned_sessions,
    deleted_at_source,
    jobs,
    next_step,
    to_send,
)
from hdrive_migrate.sources import SourceError
from hdrive_migrate.store import record_event, transaction
from hdrive_migrate.users.roster import User, opened_source, select_users
from hdrive_migrate.workspace import Workspace

CHUNK_MULTIPLE = 320 * 1024
DEFAULT_CHUNK = 10 * 1024 * 1024  # [migrate] chunk_mib = 10
MAX_CHUNK = 60 * 1024 * 1024  # a request must stay under 60 MiB
DEFAULT_CONCURRENCY = 8
QUEUE_PER_WORKER = 4
DELETED_SHOWN = 20


@dataclass(frozen=True)
class MigrateOptions:
    wave: str | None = None
    upn: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_mbps: float | None = None
    window: Window | None = None
    chunk_bytes: int = DEFAULT_CHUNK
    per_minute_ru: int = PER_MINUTE_RU
    per_day_ru: int = PER_DAY_RU
    apply_source_deletions: bool = False


@dataclass
class RunResult:
    run_id: int
    status: str = "running"  # then finished, stopped or failed
    stop_cause: str | None = None  # window, SIGINT, SIGTERM
    outcomes: Counter = field(default_factory=Counter)  # state -> files, "unchanged" included
    reasons: Counter = field(default_factory=Counter)  # failure reason -> files
    sent: int = 0
    requests: int = 0
    resource_units: int = 0
    throttled: int = 0
    blocked: dict[str, tuple[str, str]] = field(default_factory=dict)  # upn -> (reason, detail)
    # Files migrated earlier and deleted at the source since, per user: how many, the first few.
    deleted: dict[str, tuple[int, list[Deleted]]] = field(default_factory=dict)
    removed: int = 0  # of those, moved to the recycle bin (--apply-source-deletions)


def chunk_bytes(chunk_mib: float) -> int:
    """[migrate] chunk_mib in bytes, rounded down to a multiple of 320 KiB (at least one)."""
    return max(CHUNK_MULTIPLE, int(chunk_mib * 1024 * 1024) // CHUNK_MULTIPLE * CHUNK_MULTIPLE)


def check_chunk(chunk_bytes: int) -> None:
    if chunk_bytes <= 0 or chunk_bytes % CHUNK_MULTIPLE or chunk_bytes >= MAX_CHUNK:
        raise HdriveError(
            f"a chunk of {chunk_bytes:,} bytes cannot be sent to OneDrive",
            fix="set [migrate] chunk_mib to a multiple of 0.3125 (320 KiB) below 60, e.g. 10",
        )


def start_run(db: Database, options: MigrateOptions, operator: str, now: str) -> int:
    selection = f"wave {options.wave}" if options.wave else ""
    if options.upn:
        selection = f"{selection}, user {options.upn}".lstrip(", ")
    return (
        db["migrate_runs"]
        .insert(
            {
                "started_at": now,
                "status": "running",
                "selection": selection or "all users",
                "operator": operator,
                "concurrency": options.concurrency,
                "chunk_bytes": options.chunk_bytes,
            }
        )
        .last_pk
    )


class Engine:
    """One run. `stop(cause)` asks it to stop cleanly; a second call stops it at once."""

    def __init__(
        self,
        workspace: Workspace,
        options: MigrateOptions,
        observer: Observer,
        *,
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_chunk(options.chunk_bytes)
        self.ws = workspace
        self.db = workspace.db
        self.options = options
        self.observer = observer
        self.clock = clock
        self.transport = transport
        self.users: list[User] = select_users(self.db, wave=options.wave, upn=options.upn)
        self.result: RunResult | None = None
        self._stopping: str | None = None
        self._workers: list[asyncio.Task] = []
        self._user_left: Counter = Counter()  # files queued and not yet done, per user
        self._fed: set[str] = set()  # users whose files are all queued
        self._drive_users: dict[str, str] = {}  # drive id -> upn
        self._user_drives: dict[str, str] = {}  # upn -> drive id, for users not blocked
        self._feeder: asyncio.Task | None = None
        self._failure: BaseException | None = None  # what stopped the whole run
        self._started_in_window = False
        self._stopped = asyncio.Event()
        self._pacer = None

    def stop(self, cause: str) -> None:
        if self._stopping is None:
            self._stopping = cause
            self._stopped.set()
            self.observer.note(f"stopping ({cause}): finishing the chunks in flight …")
            return
        for task in (*self._workers, self._feeder):
            if task is not None:
                task.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping is not None

    async def run(self, operator: str) -> RunResult:
        """Migrate the chosen users; the run's row in migrate_runs holds the result."""
        run_id = start_run(self.db, self.options, operator, self._now())
        self.result = result = RunResult(run_id)
        self._operator = operator
        record_event(self.db, "migrate.started", self._selection(), {"run": run_id}, actor=operator)
        try:
            await self._run_all()
        except BaseException as exc:
            interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
            result.status = "stopped" if interrupted else "failed"
            self._finish_run()
            raise
        result.status = "stopped" if self.stopping else "finished"
        result.stop_cause = self._stopping
        self._finish_run()
        return result

    async def _run_all(self) -> None:
        # Imported here: the Graph stack is loaded only by commands that talk to Graph.
        from hdrive_migrate.graph.caller import GraphCaller
        from hdrive_migrate.graph.client import GraphConnection
        from hdrive_migrate.graph.drive import DriveClient
        from hdrive_migrate.graph.pacer import Pacer

        with (
            opened_source(self.ws.config) as source,
            ThreadPoolExecutor(self.options.concurrency, "hdrive-read") as reads,
        ):
            async with GraphConnection(self.ws.config.graph, transport=self.transport) as graph:
                self._pacer = pacer = Pacer(
                    self.options.per_minute_ru,
                    self.options.per_day_ru,
                    window_end=self._window_end(),
                    clock=self.clock,
                )
                async with Journal(self.db) as journal:
                    drive = DriveClient(
                        GraphCaller(graph, pacer, clock=self.clock),
                        on_folder=lambda drive_id, path, item_id: journal.later(
                            checkpoint.SAVE_FOLDER, (self._drive_users[drive_id], path, item_id)
                        ),
                    )
                    lane = self._lane(drive, journal, source, reads)
                    try:
                        await self._work(lane)
                    finally:
                        self._count_requests(pacer)

    def _lane(self, drive, journal: Journal, source, reads) -> Lane:
        options = self.options
        rate = bytes_per_second(options.max_mbps) if options.max_mbps else None
        return Lane(
            drive=drive,
            journal=journal,
            source=source,
            sealer=Sealer(self.ws.dir),
            reads=reads,
            budget=ByteBudget(options.concurrency * options.chunk_bytes),
            rate=ByteRate(rate, self.clock),
            chunk=options.chunk_bytes,
            clock=self.clock,
            run_id=self.result.run_id,
            on_bytes=self._sent,
            stopping=lambda: self.stopping,
        )

    async def _work(self, lane: Lane) -> None:
        queue: asyncio.Queue[Job | None] = asyncio.Queue(
            self.options.concurrency * QUEUE_PER_WORKER
        )
        self._workers = [
            asyncio.create_task(self._worker(lane, queue)) for _ in range(self.options.concurrency)
        ]
        self._feeder = asyncio.create_task(self._feed(lane, queue))
        try:
            await self._feeder
        except asyncio.CancelledError:
            if self._failure is None:
                raise
        finally:
            await self._close_queue(queue)
            results = await asyncio.gather(*self._workers, return_exceptions=True)
        if self._failure is not None:
            raise self._failure
        if any(isinstance(outcome, BaseException) for outcome in results):
            raise next(outcome for outcome in results if isinstance(outcome, BaseException))
        self._block_remaining(lane)
        if not self.stopping:
            await self._source_deletions(lane)

    async def _source_deletions(self, lane: Lane) -> None:
        """List, per user, the files migrated earlier and deleted at the source since; with
        --apply-source-deletions move ours to the recycle bin, in this final pass. Another
        person's identical file (skipped-identical) is listed, never touched."""
        for user in self.users:
            drive_id = self._user_drives.get(user.upn)
            if drive_id is None or user.upn in self.result.blocked:
                continue
            count, shown = 0, []
            for gone in deleted_at_source(self.db, user.upn):
                count += 1
                if len(shown) < DELETED_SHOWN:
                    shown.append(gone)
                removed = self.options.apply_source_deletions and gone.ours and gone.item_id
                if removed:
                    removed = await self._recycle(lane, drive_id, user.upn, gone)
                self.observer.file_done(
                    user.upn, gone.path, "removed" if removed else "deleted-at-source", None, 0
                )
            if count:
                self.result.deleted[user.upn] = (count, shown)

    async def _recycle(self, lane: Lane, drive_id: str, upn: str, gone: Deleted) -> bool:
        try:
            await lane.drive.delete(drive_id, gone.item_id)
        except (FileFailure, Transient) as exc:
            self.observer.note(f"{upn}: {gone.target} was not moved to the recycle bin: {exc}")
            return False
        lane.journal.later(checkpoint.REMOVED, (self.result.run_id, self._now(), upn, gone.path))
        self.result.removed += 1
        return True

    async def _close_queue(self, queue: asyncio.Queue) -> None:
        """One end-of-work mark per worker. When stopping, files still queued are dropped
        first: none of them has started, so the next run finds them as they were."""
        if self.stopping:
            while not queue.empty():
                job = queue.get_nowait()
                if job is not None:
                    self._left(job.upn)
        for worker in self._workers:
            if worker.done():
                continue
            await queue.put(None)

    # Feeding

    async def _feed(self, lane: Lane, queue: asyncio.Queue) -> None:
        files, size = 0, 0
        for user in self.users:
            user_files, user_bytes = to_send(self.db, user.upn)
            files, size = files + user_files, size + user_bytes
        self.observer.started(self.result.run_id, len(self.users), files, size)
        for user in self.users:
            if not await self._may_start():
                return
            drive_id = await self._drive_id(lane, user)
            if drive_id is None:
                continue
            lane.journal.later(checkpoint.UNBLOCK_USER, (user.upn,))
            self._drive_users[drive_id] = user.upn
            self._user_drives[user.upn] = drive_id
            for path, item_id in self.db.execute(
                "SELECT path, item_id FROM drive_folders WHERE upn = ?", [user.upn]
            ):
                lane.drive.seed_folder(drive_id, path, item_id)
            await self._abandon(lane, user.upn)
            for job in jobs(self.db, user.upn, drive_id, user.folder):
                if user.upn in self.result.blocked or not await self._may_start():
                    break
                step, reason, detail = next_step(job)
                if step is Next.SKIP:
                    self._done(job, "unchanged", None, 0)
                elif step is Next.REFUSE:
                    outcome = Outcome("failed", reason, detail)
                    record(lane, job, outcome)
                    self._done(job, outcome.state, reason, 0)
                else:
                    self._user_left[user.upn] += 1
                    await queue.put(job)
            self._fed.add(user.upn)
            self._maybe_user_done(user.upn)

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        sleep = asyncio.ensure_future(self.clock.sleep(seconds))
        stopped = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait((sleep, stopped), return_when=asyncio.FIRST_COMPLETED)
        for task in (sleep, stopped):
            task.cancel()

    async def _abandon(self, lane: Lane, upn: str) -> None:
        """Cancel for good the open sessions of UPN's files no longer to migrate."""
        drive_id = self._user_drives[upn]
        for path, sealed, target, partial in abandoned_sessions(self.db, upn):
            url = lane.sealer.unseal(sealed) if sealed else None
            partial_path = f"{target.rpartition('/')[0]}/{partial}" if partial else None
            await discard(lane, drive_id, url, partial_path)
            lane.journal.later(checkpoint.ABANDON_NEW, (upn, path))
            lane.journal.later(
                checkpoint.ABANDON_KNOWN, (self.result.run_id, self._now(), upn, path)
            )
            self.result.reasons["no-longer-planned"] += 1

    async def _may_start(self) -> bool:
        """Whether a new file may start now: not stopping, and inside the window (waiting for
        it to open when the run began outside it)."""
        window = self.options.window
        if self.stopping or window is None:
            return not self.stopping
        local = self.clock.now().astimezone()
        if window.is_open(local):
            self._started_in_window = True
            return True
        if self._started_in_window:
            self.stop("window")
            return False
        wait = window.seconds_to_start(local)
        self.observer.note(f"waiting {wait / 3600:.1f} h for the window {window} to open")
        await self._sleep_unless_stopped(wait)
        self._started_in_window = True
        return not self.stopping

    async def _drive_id(self, lane: Lane, user: User) -> str | None:
        if user.drive_id:
            return user.drive_id
        try:
            drive_id = await lane.drive.drive_id(user.upn)
        except Unauthorized:
            raise
        except Fatal as exc:
            self._block(lane, user.upn, exc)
            return None
        lane.journal.later(checkpoint.SAVE_DRIVE, (drive_id, user.upn))
        return drive_id

    # Working

    async def _worker(self, lane: Lane, queue: asyncio.Queue) -> None:
        try:
            while (job := await queue.get()) is not None:
                try:
                    if job.upn not in self.result.blocked and not self.stopping:
                        await self._one(lane, job)
                finally:
                    self._left(job.upn)
        except Exception as exc:
            # Nobody expected it: stop the run rather than go on short of a worker (and
            # with a feeder that might wait forever for it).
            self._fail(exc)
            if self._feeder is not None:
                self._feeder.cancel()
            raise

    def _fail(self, error: BaseException) -> None:
        """ERROR ends the run: no new files start; the files in flight finish."""
        if self._failure is None:
            self._failure = error
            self.stop("error")

    async def _one(self, lane: Lane, job: Job) -> None:
        try:
            outcome = await migrate_file(lane, job)
        except Stopped:
            return
        except (Unauthorized, SourceError) as exc:
            self._fail(exc)  # nothing more can go
            return
        except Fatal as exc:
            await abandon(lane, job)
            self._block(lane, job.upn, exc)
            return
        self._done(job, outcome.state, outcome.reason, outcome.sent)

    def _block(self, lane: Lane, upn: str, error: Fatal) -> None:
        if upn in self.result.blocked:
            return
        reason = block_reason(error)
        self.result.blocked[upn] = (reason, error.what)
        lane.journal.later(
            checkpoint.BLOCK_USER, (upn, reason, error.what, self.result.run_id, self._now())
        )
        self.observer.user_blocked(upn, reason, error.what)

    def _block_remaining(self, lane: Lane) -> None:
        """Every file of a blocked user not done yet is recorded `blocked`, with the cause."""
        lane.journal.flush()
        for upn, (reason, detail) in self.result.blocked.items():
            params = {
                "upn": upn,
                "reason": reason,
                "detail": detail,
                "run": self.result.run_id,
                "at": self._now(),
            }
            with transaction(self.db):
                self.db.conn.execute(BLOCK_REMAINING, params)
                # Not cursor.rowcount: sqlite3 reports -1 for a statement starting WITH.
                changed = self.db.conn.execute("SELECT changes()").fetchone()[0]
            self.result.outcomes["blocked"] += changed

    def _done(self, job: Job, state: str, reason: str | None, sent: int) -> None:
        self.result.outcomes[state] += 1
        if reason:
            self.result.reasons[reason] += 1
        self.observer.file_done(job.upn, job.path, state, reason, sent)
        if self._pacer is not None:
            self.observer.throttled(self._pacer.throttled)

    def _left(self, upn: str) -> None:
        self._user_left[upn] -= 1
        self._maybe_user_done(upn)

    def _maybe_user_done(self, upn: str) -> None:
        if upn in self._fed and self._user_left[upn] == 0:
            self.observer.user_done(upn)

    def _sent(self, size: int) -> None:
        self.result.sent += size
        self.observer.sent(size)

    # Bookkeeping

    def _window_end(self) -> Callable[[], float] | None:
        window = self.options.window
        if window is None:
            return None

        def end() -> float:
            local = self.clock.now().astimezone()
            if not window.is_open(local):
                return self.clock.monotonic()
            return self.clock.monotonic() + window.seconds_to_end(local)

        return end

    def _count_requests(self, pacer) -> None:
        self.result.requests = pacer.requests
        self.result.resource_units = pacer.resource_units
        self.result.throttled = pacer.throttled

    def _finish_run(self) -> None:
        result = self.result
        files = sum(n for state, n in result.outcomes.items() if state != "unchanged")
        with transaction(self.db):
            self.db.conn.execute(
                "UPDATE migrate_runs SET finished_at = ?, status = ?, files = ?, bytes = ?,"
                " requests = ?, resource_units = ?, throttled = ? WHERE id = ?",
                (
                    self._now(),
                    result.status,
                    files,
                    result.sent,
                    result.requests,
                    result.resource_units,
                    result.throttled,
                    result.run_id,
                ),
            )
        self._record_disclosures()
        detail = {"run": result.run_id, "status": result.status, **dict(result.outcomes)}
        record_event(self.db, "migrate.finished", self._selection(), detail, actor=self._operator)
        self.observer.finished(result.status)

    def _record_disclosures(self) -> None:
        """One audit entry per user this run sent to the cloud (DPA 2018 s62 disclosure):
        counts and labels only, since the run showed nobody a file name."""
        rows = self.db.execute(
            "SELECT upn, state, label, COUNT(*), COALESCE(SUM(source_size), 0) FROM transfers"
            " WHERE run_id = ? GROUP BY upn, state, label ORDER BY upn",
            [self.result.run_id],
        ).fetchall()
        for upn, detail in disclosures(self.result.run_id, rows).items():
            record_event(self.db, "migrate.user_finished", upn, detail, actor=self._operator)

    def _selection(self) -> str:
        return self.db.execute(
            "SELECT selection FROM migrate_runs WHERE id = ?", [self.result.run_id]
        ).fetchone()[0]

    def _now(self) -> str:
        return stored_time(self.clock.now())


UPLOADED = ("migrated", "renamed")


def disclosures(run_id: int, rows: list[tuple]) -> dict[str, dict]:
    """Per user, what a run disclosed: ROWS are (upn, state, label, files, bytes) groups of its
    transfers. Labels count the files that reached OneDrive with that label."""
    found: dict[str, dict] = {}
    for upn, state, label, files, size in rows:
        detail = found.setdefault(
            upn,
            {
                "run": run_id,
                "uploaded_files": 0,
                "uploaded_bytes": 0,
                "identical_files": 0,
                "failed_files": 0,
                "blocked_files": 0,
                "labels_applied": {},
            },
        )
        if state in UPLOADED:
            detail["uploaded_files"] += files
            detail["uploaded_bytes"] += size
        elif state == "skipped-identical":
            detail["identical_files"] += files
        elif state in ("failed", "blocked"):
            detail[f"{state}_files"] += files
        if label and state in UPLOADED:
            labels = detail["labels_applied"]
            labels[label] = labels.get(label, 0) + files
    return found


def block_reason(error: Fatal) -> str:
    """The reasons.py code for a user-level failure."""
    if isinstance(error, QuotaFull):
        return "quota-full"
    if isinstance(error, NoDrive):
        # Graph names a missing user Request_ResourceNotFound, a missing OneDrive otherwise.
        return "user-not-found" if error.code == "Request_ResourceNotFound" else "no-onedrive"
    return "access-denied"


def run_migration(
    workspace: Workspace,
    options: MigrateOptions,
    observer: Observer,
    *,
    operator: str,
    clock: Clock = SYSTEM_CLOCK,
) -> RunResult:
    """Run ENGINE on a new event loop, with Ctrl-C and SIGTERM asking it to stop cleanly."""
    engine = Engine(workspace, options, observer, clock=clock)

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        handled = threading.current_thread() is threading.main_thread()
        if handled:
            for number, cause in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
                loop.add_signal_handler(number, engine.stop, cause)
        try:
            return await engine.run(operator)
        finally:
            if handled:
                for number in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(ValueError, RuntimeError):
                        loop.remove_signal_handler(number)

    return asyncio.run(main())
