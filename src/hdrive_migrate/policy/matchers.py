"""Globs taken apart into cheap tests, so that the compiled policy rarely runs a regular
expression: a planner judges millions of files, and a glob such as `**/*appraisal*/**` costs
over a microsecond as one regular expression but a few tens of nanoseconds as the test
"a folder of this file contains 'appraisal' (known once per folder) or its name does".

Everything here works on lower-cased text: the engine compares case-insensitively by
`str.lower()`, which agrees with `hdrive_migrate.globs` (Python's re.IGNORECASE) for every
ASCII and common accented letter; a handful of exotic letters that re.IGNORECASE also equates
(the long s U+017F with 's', the dotless i U+0131 with 'i') are not equated here.
"""

import re
from collections.abc import Iterable
from typing import NamedTuple

from hdrive_migrate.globs import compile_glob

ROOT = ""
"""A folder test: the file is at the root of the drive (its folder is '')."""


class PathAlternative(NamedTuple):
    """A file matches when its folder passes `folder` and its name matches `name`.

    `folder` is None for any folder, ROOT for the root only, or a glob containing '/' that the
    folder must match whole (a file at the root never passes it); `name` is None for any name,
    else a glob with neither '/' nor '**'."""

    folder: str | None
    name: str | None


def path_alternatives(glob: str) -> list[PathAlternative] | None:
    """Alternatives whose OR matches exactly the file paths `globs.matches(glob, path)` does;
    None when GLOB has no such form (character sets, or '**' inside the last part), and must
    be matched against the whole path."""
    stripped = glob.strip("/")
    if "[" in stripped:
        return None  # a set such as [/] could span folders
    if "/" not in glob:  # globs.py: a glob without '/' matches a name at any depth
        return None if "**" in stripped else [PathAlternative(None, stripped)]
    if stripped.endswith("/**"):
        # The folder named by the rest and all below it, or a file named like that folder.
        itself = _anchored(stripped[:-3])
        return None if itself is None else [PathAlternative("/" + stripped, None), *itself]
    return _anchored(stripped)


def _anchored(glob: str) -> list[PathAlternative] | None:
    """Alternatives for GLOB matched from the root (it has no leading or trailing '/')."""
    folder, slash, name = glob.rpartition("/")
    if "**" in name:
        return None
    if not slash:
        return [PathAlternative(ROOT, name)]
    if folder == "**":
        return [PathAlternative(None, name)]
    if folder.endswith("**") and not folder.endswith("/**"):
        return None  # 'a**/x' also matches 'ax', which no folder test can express
    # A leading '/' keeps compile_glob from matching a slash-free folder glob at any depth.
    return [PathAlternative("/" + folder, name)]


class NameSet(NamedTuple):
    """Name globs as tests on a lower-cased name; a name matches when any test does."""

    equals: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    contains: tuple[str, ...]
    pattern: re.Pattern[str] | None  # the globs no string test expresses, as one alternation
    others: tuple[str, ...]  # those globs, lower-cased, each alone


def name_set(globs: list[str]) -> NameSet:
    """GLOBS (each without '/') as string tests where their shape allows: 'x' is equality,
    'x*' a prefix, '*x' a suffix and '*x*' containment, for x without wildcards."""
    equals, prefixes, suffixes, contains, others = set(), [], [], [], []
    for glob in dict.fromkeys(glob.lower() for glob in globs):
        inner = glob[1:-1] if len(glob) > 2 else ""
        if _plain(glob):
            equals.add(glob)
        elif glob.endswith("*") and _plain(glob[:-1]):
            prefixes.append(glob[:-1])
        elif glob.startswith("*") and _plain(glob[1:]):
            suffixes.append(glob[1:])
        elif glob.startswith("*") and glob.endswith("*") and inner and _plain(inner):
            contains.append(inner)
        else:
            others.append(glob)
    pattern = alternation(others) if others else None
    return NameSet(
        frozenset(equals), tuple(prefixes), tuple(suffixes), tuple(contains), pattern, tuple(others)
    )


def alternation(globs: list[str]) -> re.Pattern[str]:
    """One pattern matching whatever any of GLOBS matches (with `fullmatch`)."""
    pattern = "|".join(f"(?:{compile_glob(glob).pattern})" for glob in globs)
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def _plain(text: str) -> bool:
    return not any(char in text for char in "*?[")


class PathGlobs(NamedTuple):
    """Path globs split by what a test needs: folders alone, names alone, names within a
    folder (folder -> names), and globs with no such form (matched against the whole path)."""

    folders: list[str]
    names: list[str]
    both: dict[str, list[str]]
    whole: list[str]


def split_path_globs(globs: Iterable[str]) -> PathGlobs:
    """GLOBS (lower-cased) in their parts, as path_alternatives splits each."""
    split = PathGlobs([], [], {}, [])
    for glob in globs:
        alternatives = path_alternatives(glob.lower())
        if alternatives is None:
            split.whole.append(glob)
        for folder, name in alternatives or ():
            if name is None:
                split.folders.append(folder)
            elif folder is None:
                split.names.append(name)
            else:
                split.both.setdefault(folder, []).append(name)
    return split
