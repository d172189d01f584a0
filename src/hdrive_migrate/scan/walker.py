"""Parallel listing of one tree: a few threads list folders at once, so that a share's
round-trip time does not serialise the walk. Entries come back one folder at a time, through a
bounded queue, so memory stays flat however many files there are."""

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hdrive_migrate.sources import Entry, EntryError, Source

_DONE = object()


@dataclass(frozen=True)
class Listing:
    """One folder's entries (`folder` relative to the tree's top, '' for the top itself), or
    the error that stopped it being listed."""

    folder: str
    entries: list[Entry] = field(default_factory=list)
    error: EntryError | None = None


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def list_tree(
    source: Source,
    top: str,
    *,
    descend: Callable[[str, Entry], bool],
    workers: int = 8,
) -> Iterator[Listing]:
    """Every folder below `top` (a source path), listed by `workers` threads (one worker lists
    in the calling thread: handing work between threads only costs when nothing overlaps).
    `descend(path, entry)` says whether to list a sub-folder; links are never followed."""
    if workers == 1:
        yield from _list_inline(source, top, descend)
        return
    lister = _TreeLister(source, top, descend, workers)
    try:
        yield from lister.run()
    finally:
        lister.stop()


def _list_inline(source: Source, top: str, descend) -> Iterator[Listing]:
    pending = [""]
    while pending:
        listing = _list_one(source, top, pending.pop())
        # Sub-folders in descending order, so that they are taken from the end in ascending
        # order: the rows of one listing after another then go into the inventory's b-tree
        # next to those just written, rather than all over it.
        pending += sorted(_subfolders(listing, descend), reverse=True)
        yield listing


def _list_one(source: Source, top: str, folder: str) -> Listing:
    try:
        return Listing(folder, source.list_dir(join(top, folder)))
    except EntryError as error:
        return Listing(folder, error=error)


def _subfolders(listing: Listing, descend) -> list[str]:
    return [
        join(listing.folder, entry.name)
        for entry in listing.entries
        if entry.is_dir and not entry.is_link and descend(join(listing.folder, entry.name), entry)
    ]


class _TreeLister:
    def __init__(self, source, top, descend, workers):
        self.source = source
        self.top = top
        self.descend = descend
        self.workers = workers
        self.pending: queue.SimpleQueue = queue.SimpleQueue()
        self.results: queue.Queue = queue.Queue(maxsize=workers * 4)
        self.outstanding = 1
        self.lock = threading.Lock()
        self.stopped = False
        self.threads: list[threading.Thread] = []

    def run(self) -> Iterator[Listing]:
        self.pending.put("")
        for _ in range(self.workers):
            thread = threading.Thread(target=self.work, daemon=True)
            thread.start()
            self.threads.append(thread)
        while (listing := self.results.get()) is not _DONE:
            if isinstance(listing, BaseException):
                raise listing  # a lost source stops this scan, in the scanning thread
            yield listing

    def work(self) -> None:
        while (folder := self.pending.get()) is not None:
            try:
                listing = _list_one(self.source, self.top, folder)
                children = _subfolders(listing, self.descend)
            except BaseException as error:  # handed to the consumer, which raises it
                self.put(error)
                return
            # Children count before they can be taken, and this folder stops counting only once
            # its listing is queued: so the count reaches 0 after every listing is queued.
            with self.lock:
                self.outstanding += len(children)
            for child in children:
                self.pending.put(child)
            self.put(listing)
            with self.lock:
                self.outstanding -= 1
                finished = self.outstanding == 0
            if finished:
                self.put(_DONE)

    def put(self, item) -> None:
        while not self.stopped:
            try:
                self.results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def stop(self) -> None:
        self.stopped = True
        for _ in self.threads:
            self.pending.put(None)
