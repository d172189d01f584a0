"""What a scan leaves out: Isilon snapshot folders always, and the workspace's configured globs."""

from dataclasses import dataclass

from hdrive_migrate.globs import matches
from hdrive_migrate.sources import Entry

# OneFS exposes read-only snapshots in every folder; scanning them would count files many times.
SNAPSHOT_FOLDERS = frozenset([".snapshot", "~snapshot"])


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
