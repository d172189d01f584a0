"""Target names: every name OneDrive refuses becomes one it accepts, the same way every time.

Pure functions, no I/O. `naming` states OneDrive's rules; `map_name` cures each of them in one
of two styles. The fullwidth style swaps the offending character for rclone's look-alike: the
FULLWIDTH form of an ASCII character (U+FF01 to U+FF5E), the SYMBOL FOR picture of a control
character (U+2400 to U+241F) or of a space (U+2420). The replace style puts the configured
replacement character in its place, as SPMT does. Where no one character is at fault, a reserved
name gets its first character swapped (fullwidth) or the replacement prefixed (replace), and
"_vti_" loses its leading underscore to a look-alike (fullwidth) or altogether (replace).

A name OneDrive already accepts is never changed. The drive-root rule ("forms") never applies:
mapped names always sit below the target folder. docs/names.md is the table for people.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import count

from hdrive_migrate import naming

# rclone's offsets: printable ASCII + 0xFEE0 is its FULLWIDTH form; a control character + 0x2400
# is its SYMBOL FOR picture (U+2400 ␀ to U+241F ␟); U+2420 ␠ is SYMBOL FOR SPACE.
_FULLWIDTH_OFFSET = 0xFEE0
_CONTROL_PICTURE_OFFSET = 0x2400
_SPACE_PICTURE = "\u2420"
_CONTROL_CHARACTERS = [chr(code) for code in range(0x20)]
_BEFORE_VTI = re.compile(r"_(?=vti_)", re.IGNORECASE)
_UNDERSCORES_BEFORE_VTI = re.compile(r"_+(?=vti_)", re.IGNORECASE)


class NameStyle(StrEnum):
    """How a refused character is replaced: by a look-alike, or by one fixed character."""

    FULLWIDTH = "fullwidth"
    REPLACE = "replace"


@dataclass(frozen=True)
class NameMapping:
    """The configured way of mapping names; `replacement` is used only by the replace style.

    Raises ValueError for an unknown style or an unusable replacement (see
    `naming.replacement_problem`); a style given as a string is converted to NameStyle.
    """

    style: NameStyle = NameStyle.FULLWIDTH
    replacement: str = "_"

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", NameStyle(self.style))
        problem = naming.replacement_problem(self.replacement)
        if problem is not None:
            raise ValueError(problem)


def map_name(name: str, mapping: NameMapping) -> str:
    """A name OneDrive accepts for NAME (naming.name_problems of it is empty), decided by NAME
    and MAPPING alone. A name OneDrive already accepts comes back unchanged, so mapping a mapped
    name changes nothing.
    """
    if not naming.name_problems(name):
        return name
    # Order matters: a replaced character can complete "~$", "_vti_" or a reserved name
    # ("com?" with replacement "1"), so those are cured after characters are.
    name = name.translate(_character_table(mapping))
    name = _cure_edges(name, mapping)
    if name.startswith("~$"):
        name = _substitute("~", mapping) + name[1:]
    name = _cure_vti(name, mapping)
    if name.lower() in naming.RESERVED_NAMES:
        name = _cure_reserved(name, mapping)
    return name


def _look_alike(character: str) -> str:
    """rclone's stand-in for a space, a control character or printable ASCII."""
    if character == " ":
        return _SPACE_PICTURE
    if character < " ":
        return chr(ord(character) + _CONTROL_PICTURE_OFFSET)
    return chr(ord(character) + _FULLWIDTH_OFFSET)


def _substitute(character: str, mapping: NameMapping) -> str:
    if mapping.style is NameStyle.FULLWIDTH:
        return _look_alike(character)
    return mapping.replacement


@functools.cache
def _character_table(mapping: NameMapping) -> dict[int, str]:
    """str.translate table for the characters refused anywhere in a name."""
    refused = [*sorted(naming.FORBIDDEN_CHARACTERS), *_CONTROL_CHARACTERS]
    return {ord(character): _substitute(character, mapping) for character in refused}


def _cure_edges(name: str, mapping: NameMapping) -> str:
    """Only the edge character itself changes: "  a" becomes "␠ a", which OneDrive accepts."""
    if name.startswith(" "):
        name = _substitute(" ", mapping) + name[1:]
    if name.endswith(" "):
        name = name[:-1] + _substitute(" ", mapping)
    if name.endswith("."):
        name = name[:-1] + _substitute(".", mapping)
    return name


def _cure_vti(name: str, mapping: NameMapping) -> str:
    """Breaks every "_vti_". The replace style drops the underscore instead of replacing it,
    because the usual replacement is "_" itself; dropping the whole run of underscores before
    "vti_" leaves no "_" to complete a new "_vti_"."""
    if mapping.style is NameStyle.FULLWIDTH:
        return _BEFORE_VTI.sub(_look_alike("_"), name)
    return _UNDERSCORES_BEFORE_VTI.sub("", name)


def _cure_reserved(name: str, mapping: NameMapping) -> str:
    """Every reserved name starts with printable ASCII, which has a full-width form; the
    replace style prefixes rather than replaces, so that "CON" does not become "_ON"."""
    if mapping.style is NameStyle.FULLWIDTH:
        return _look_alike(name[0]) + name[1:]
    return mapping.replacement + name


def clash_key(name: str) -> str:
    """Names with the same key are the same name to OneDrive, as far as we may assume.

    Unicode canonical caseless matching: it equates whatever str.lower (the local tenant's
    comparison) or str.casefold equate, and also composed and decomposed accents ("é" written
    by Windows, "e" + U+0301 by a Mac), which the service may well treat as one name. Erring
    towards a clash costs a " (2)"; erring the other way costs a refused or overwritten upload.
    """
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def map_folder(names: Iterable[str], mapping: NameMapping) -> dict[str, str]:
    """Target names for all the entries of ONE folder: original name -> target name.

    NAMES are distinct (they may differ only in case). Every target is accepted by OneDrive and
    no two have the same `clash_key`. Stable: the result depends on the set of names, never on
    their order. Names OneDrive accepts as they are come first, then the mapped ones, each
    group by original name in code-point order; each name keeps its mapped name unless an
    earlier one holds it, so an accepted name keeps itself unless a differently-cased twin sorts
    before it. Only after every name has had its turn do the losers get " (2)", " (3)" … before
    their extension (see `numbered`), skipping every name held, so a generated name never takes
    one that an original name keeps.
    """
    mapped = {name: map_name(name, mapping) for name in names}
    order = sorted(mapped, key=lambda name: (mapped[name] != name, name))
    held: set[str] = set()
    targets: dict[str, str] = {}
    for name in order:
        key = clash_key(mapped[name])
        if key not in held:
            held.add(key)
            targets[name] = mapped[name]
    for name in order:
        if name not in targets:
            targets[name] = _first_free(mapped[name], held)
    return targets


def _first_free(name: str, held: set[str]) -> str:
    """The first numbered NAME whose key is not in HELD, which then holds it too."""
    candidates = (numbered(name, number) for number in count(2))
    candidate = next(c for c in candidates if clash_key(c) not in held)
    held.add(clash_key(candidate))
    return candidate


def numbered(name: str, number: int) -> str:
    """NAME with " (NUMBER)" before its extension: the text after the last dot, unless that dot
    starts the name ("a.tar.gz" -> "a.tar (2).gz", ".profile" -> ".profile (2)", "Notes" ->
    "Notes (2)"). A valid non-empty name stays valid: its first and last characters survive or
    the name ends in ")", and " (" cannot complete "_vti_" or a reserved name.
    """
    stem, dot, extension = name.rpartition(".")
    if not stem:
        return f"{name} ({number})"
    return f"{stem} ({number}){dot}{extension}"


# How the reason `path_length_problem` gives starts, so readers of decisions can tell it.
TOO_LONG_START = "target path is "


def path_length_problem(path: str) -> str | None:
    """The reason a target PATH (below the drive root) must go to review, or None when it
    fits."""
    if not naming.path_too_long(path):
        return None
    return f"{TOO_LONG_START}{len(path)} characters; OneDrive allows {naming.MAX_PATH_CHARACTERS}"
