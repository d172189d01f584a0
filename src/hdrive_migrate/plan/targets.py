"""Target paths for one user's entries: each folder's names mapped once, together, so that
collisions after mapping are settled within the folder where they happen."""

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice

from hdrive_migrate import naming
from hdrive_migrate.plan.names import NameMapping, clash_key, map_folder


class TargetTree:
    """Built from every path of one user (files and folders); `target(path)` is then the path
    in OneDrive, under the target folder."""

    def __init__(self, target_folder: str, paths: list[str], mapping: NameMapping):
        self.prefix = f"{target_folder}/"
        self.renamed: dict[tuple[str, str], str] = {}
        children: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            parent, _, name = path.rpartition("/")
            children[parent].append(name)
        for parent, names in children.items():
            if _nothing_to_change(names):
                continue
            for name, new in map_folder(names, mapping).items():
                if new != name:
                    self.renamed[(parent, name)] = new
        self._folder = lru_cache(maxsize=None)(self._mapped_folder)

    def target(self, path: str) -> str:
        if not self.renamed:
            return self.prefix + path
        parent, _, name = path.rpartition("/")
        name = self.renamed.get((parent, name), name)
        return self.prefix + (f"{self._folder(parent)}/{name}" if parent else name)

    def _mapped_folder(self, folder: str) -> str:
        parent, _, name = folder.rpartition("/")
        name = self.renamed.get((parent, name), name)
        return f"{self._folder(parent)}/{name}" if parent else name


def _nothing_to_change(names: list[str]) -> bool:
    """True for a folder whose names all pass and cannot clash: nearly every folder. ASCII
    names clash exactly when their lower cases do; others need the full Unicode clash key."""
    if not naming.all_names_fine(names):
        return False
    fold = str.lower if "".join(names).isascii() else clash_key
    return len({fold(name) for name in names}) == len(names)


# A refused character anywhere, as naming._SUSPECT: searched once over a user's whole inventory.
_REFUSED_CHARACTER = re.compile('["*:<>?\\\\|\x00-\x1f]')
_RESERVED_PART = re.compile(
    "/(?:" + "|".join(re.escape(name) for name in sorted(naming.RESERVED_NAMES)) + ")/"
)


def may_rename(paths: Iterable[str], chunk: int = 10_000) -> bool:
    """False only when `TargetTree` over PATHS (every entry of one user) renames nothing: all
    paths are ASCII, no name is one OneDrive may refuse and no two paths differ only in case.
    String searches over CHUNK paths at a time, keeping only a hash of each lower-cased path
    (a collision answers True, which costs only the tree), so a clean drive costs far less
    than building the tree and memory stays flat."""
    seen: set[int] = set()
    count = 0
    paths = iter(paths)
    while part := list(islice(paths, chunk)):
        if _names_suspect(part):
            return True
        # No path holds a line feed here: _names_suspect refuses control characters.
        seen.update(map(hash, "\n".join(part).lower().split("\n")))
        count += len(part)
    return len(seen) != count


def _names_suspect(paths: list[str]) -> bool:
    """True when some name among PATHS may break one of OneDrive's rules (naming._SUSPECT)."""
    joined = "/".join(paths)
    if not joined.isascii() or _REFUSED_CHARACTER.search(joined):
        return True
    lower = f"/{joined.lower()}/"
    edges = ("/ ", "/~", " /", "./", "_vti_")
    return any(edge in lower for edge in edges) or _RESERVED_PART.search(lower) is not None
