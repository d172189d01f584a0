"""What a scan leaves out: Isilon snapshot folders always, and the workspace's configured globs."""

from dataclasses import dataclass
from typing import NamedTuple

from hdrive_migrate.globs import matches
from hdrive_migrate.sources import Entry

# OneFS exposes read-only snapshots in every folder; scanning them would count files many times.
SNAPSHOT_FOLDERS = frozenset([".snapshot", "~snapshot"])


class Split(NamedTuple):
    """A folder's entries that are inventoried, and how many files and folders `[scan]
    exclude` left out of it (snapshot folders are not counted: they hold copies)."""

    kept: list[Entry]
    files_out: int
    folders_out: int


@dataclass(frozen=True)
class Excludes:
    globs: tuple[str, ...] = ()

    def keep(self, path: str, entry: Entry) -> bool:
        """Whether the entry at `path` (relative to the user's folder) is inventoried; a folder
        that is not kept is not listed either."""
        if entry.is_dir and entry.name.lower() in SNAPSHOT_FOLDERS:
            return False
        return not any(matches(glob, path) for glob in self.globs)

    def kept(self, folder: str, entries: list[Entry]) -> list[Entry]:
        """The entries of `folder` that are inventoried."""
        if not self.globs:
            return [e for e in entries if not (e.is_dir and e.name.lower() in SNAPSHOT_FOLDERS)]
        prefix = f"{folder}/" if folder else ""
        return [entry for entry in entries if self.keep(prefix + entry.name, entry)]

    def split(self, folder: str, entries: list[Entry]) -> Split:
        """`kept`, with the count of what the globs left out: a folder left out is never
        listed, so it counts once, however much it holds."""
        kept = self.kept(folder, entries)
        if len(kept) == len(entries):
            return Split(kept, 0, 0)
        seen = [e for e in entries if not (e.is_dir and e.name.lower() in SNAPSHOT_FOLDERS)]
        folders_out = sum(e.is_dir for e in seen) - sum(e.is_dir for e in kept)
        return Split(kept, len(seen) - len(kept) - folders_out, folders_out)
