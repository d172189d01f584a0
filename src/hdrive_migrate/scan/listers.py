"""Lister processes: each takes one user at a time from a task queue, lists that user's folder
through a source of its own (its own SMB connections, its own descriptors) and sends the
batches back to the one process that writes the inventory.

Processes, not threads: building a row per entry is Python work, and in one process the GIL
would let listing and writing take turns instead of running side by side. The result queue is
bounded, so listers that get ahead of the writer wait, and memory stays flat."""

import gc
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hdrive_migrate.scan.batches import Batch, ListingPlan, TopUnreadable, user_batches
from hdrive_migrate.sources import Source, SourceError

# Messages in flight per lister: enough to keep the writer busy, few enough to stay small.
QUEUED_PER_LISTER = 4
# A scan allocates a tuple per entry on both sides of the queue, none of them in a reference
# cycle; the collector's default (a pass every 700 allocations) costs a scan 4% of its CPU
# finding nothing. Passes a hundred times rarer still collect what a cycle might hold.
SCAN_COLLECTION_THRESHOLD = (70_000, 10, 10)


def default_listers() -> int:
    """One lister per core: the writer's share of the work is smaller than a lister's."""
    return os.cpu_count() or 1


@contextmanager
def rare_collections() -> Iterator[None]:
    """The garbage collector set to SCAN_COLLECTION_THRESHOLD for the block (and for lister
    processes forked in it), restored afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(*SCAN_COLLECTION_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class Listed:
    """A batch of user number `index` (in the order users were handed out)."""

    index: int
    batch: Batch


@dataclass(frozen=True)
class Finished:
    """User number `index` is listed; `top` is set when their folder could not be listed."""

    index: int
    top: TopUnreadable | None = None


class ListerPool:
    """LISTERS processes listing the folders handed to them with `list_user`, each through the
    source OPEN_SOURCE makes (called in the lister). `results()` yields Listed and Finished as
    they arrive; a lister that lost its source stops the pool with that SourceError."""

    def __init__(self, open_source: Callable[[], Source], plan: ListingPlan, listers: int):
        # fork starts a lister in milliseconds and needs nothing pickled; elsewhere, spawn.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.tasks = context.SimpleQueue()
        self.messages = context.Queue(maxsize=QUEUED_PER_LISTER * listers)
        self.processes = [
            context.Process(
                target=_lister, args=(open_source, plan, self.tasks, self.messages), daemon=True
            )
            for _ in range(listers)
        ]
        # Ctrl-C reaches the whole process group: held back while the listers start, so that
        # none is interrupted before it has set itself to ignore it (_lister).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for process in self.processes:
                process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def list_user(self, index: int, folder: str) -> None:
        self.tasks.put((index, folder))

    def results(self) -> Iterator[Listed | Finished]:
        while True:
            message = self.messages.get()
            if isinstance(message, Listed | Finished):
                yield message
            elif message[0] == "lost":
                raise SourceError(message[1], fix=message[2], where=message[3])
            else:
                raise RuntimeError(f"a lister process failed:\n{message[1]}")

    def close(self) -> None:
        """Stop the listers: those idle end at once, any still busy (a scan stopped part-way)
        are terminated; they only ever read the source."""
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=1)
            if process.is_alive():
                process.terminate()
                process.join()
        self.messages.close()
        self.messages.cancel_join_thread()


def _lister(open_source, plan: ListingPlan, tasks, messages) -> None:
    """A lister process's life: list each user handed to it until told to stop (None)."""
    # The writer alone answers Ctrl-C, and stops the listers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    gc.set_threshold(*SCAN_COLLECTION_THRESHOLD)  # as the writer has it (spawn inherits nothing)
    try:
        source = open_source()
    except SourceError as error:
        messages.put(("lost", error.what, error.fix, error.where))
        return
    try:
        while (task := tasks.get()) is not None:
            index, folder = task
            top = None
            for batch in user_batches(source, folder, plan):
                if isinstance(batch, TopUnreadable):
                    top = batch
                else:
                    messages.put(Listed(index, batch))
            messages.put(Finished(index, top))
    except SourceError as error:
        messages.put(("lost", error.what, error.fix, error.where))
    except BaseException:  # handed to the writer, which raises it; nothing is swallowed
        messages.put(("crash", traceback.format_exc()))
    finally:
        source.close()
