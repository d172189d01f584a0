"""One user's listing as batches ready for the inventory: rows, findings and the folders that
could not be listed. Built where the listing happens (a lister process), so the writer only
writes; every value is plain data, cheap to send between processes."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.findings import folder_findings, has_bad_encoding, printable
from hdrive_migrate.scan.inventory import ROW_WIDTH
from hdrive_migrate.scan.walker import Listing, list_tree
from hdrive_migrate.sources import Entry, Source

BATCH_ROWS = 5000
_IS_DIR, _SIZE = itemgetter(1), itemgetter(2)


@dataclass(frozen=True)
class ListingPlan:
    """What a lister needs to know to list one user's folder."""

    target_folder: str
    excludes: Excludes
    threads: int = 1  # folders listed at once within the lister (see Source.parallel_listings)


@dataclass
class Batch:
    """Up to about BATCH_ROWS inventory rows, laid end to end in `values` (ROW_WIDTH values a
    row: path, is_dir, size, created, modified, accessed, attributes, link), the findings among
    them as (kind, path, detail), and the folders that could not be listed as (path, kind,
    detail). `listed` and `size` feed the progress. Flat because a batch crosses to the writer:
    one list of plain values pickles and loads without a tuple per row to build on each side,
    and is staged in slices."""

    values: list = field(default_factory=list)
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)
    listed: int = 0
    size: int = 0  # bytes of the files among `rows`
    folders: int = 0  # folders among `rows`
    excluded_files: int = 0  # what `[scan] exclude` left out (a folder counts once)
    excluded_folders: int = 0

    def add(self, listing: Listing, plan: ListingPlan) -> None:
        if listing.error is not None:
            error = listing.error
            self.unreadable.append((printable(listing.folder), error.kind, error.detail))
            return
        entries, files_out, folders_out = plan.excludes.split(listing.folder, listing.entries)
        self.excluded_files += files_out
        self.excluded_folders += folders_out
        self.values += row_values(listing.folder, entries)
        self.findings += [
            (kind, printable(path), detail)
            for path, kind, detail in folder_findings(listing.folder, entries, plan.target_folder)
        ]
        self.listed += len(listing.entries)
        self.size += sum(map(_SIZE, entries))  # a folder's size is 0
        self.folders += sum(map(_IS_DIR, entries))

    @property
    def row_count(self) -> int:
        return len(self.values) // ROW_WIDTH


@dataclass(frozen=True)
class TopUnreadable:
    """The user's own folder could not be listed: `kind` and `detail` of the EntryError."""

    kind: str
    detail: str


def user_batches(source: Source, folder: str, plan: ListingPlan) -> Iterator[Batch | TopUnreadable]:
    """The listing of FOLDER (a source path) in batches; just a TopUnreadable when FOLDER
    itself cannot be listed. A lost source raises SourceError from the listing."""
    listings = list_tree(source, folder, descend=plan.excludes.keep, workers=plan.threads)
    first = next(listings)
    if first.error is not None:
        yield TopUnreadable(first.error.kind, first.error.detail)
        return
    batch = Batch()
    batch.add(first, plan)
    for listing in listings:
        batch.add(listing, plan)
        if batch.row_count >= BATCH_ROWS:
            yield batch
            batch = Batch()
    yield batch


def row_values(folder: str, entries: list[Entry]) -> list:
    """The inventory rows of the entries of FOLDER laid end to end (an Entry's fields are a
    row's, its name made the path), built by slices, as this runs once per file. A name that is
    not valid Unicode is stored escaped (findings.printable)."""
    prefix = f"{folder}/" if folder else ""
    values = list(chain.from_iterable(entries))
    names = values[0::ROW_WIDTH]
    if has_bad_encoding(prefix + "".join(names)):
        values[0::ROW_WIDTH] = [printable(prefix + name) for name in names]
    else:
        values[0::ROW_WIDTH] = [prefix + name for name in names]
    return values
