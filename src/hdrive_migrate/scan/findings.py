"""Pre-flight findings for one listed entry: what OneDrive will refuse, and what the scan could
not see. Pure: plain values in, (kind, detail) pairs out."""

import re
from functools import reduce
from operator import itemgetter, or_

from hdrive_migrate import naming
from hdrive_migrate.sources import OFFLINE, RECALL_ON_DATA_ACCESS, RECALL_ON_OPEN, Entry

LINK = "link"
BAD_ENCODING = "bad_encoding"
OFFLINE_STUB = "offline_stub"
STUB_BITS = OFFLINE | RECALL_ON_OPEN | RECALL_ON_DATA_ACCESS

_DETAILS = {
    naming.FORBIDDEN: 'the name has a character OneDrive refuses: " * : < > ? / \\ |',
    naming.RESERVED: "the name is reserved (CON, PRN, AUX, NUL, COM0-9, LPT0-9, .lock, ...)",
    naming.EDGE_SPACE: "the name begins or ends with a space",
    naming.TRAILING_DOT: "the name ends with a dot",
    naming.OFFICE_LOCK: "names starting ~$ are Office lock files; OneDrive refuses them",
    naming.VTI: "names containing _vti_ are reserved by SharePoint",
    naming.FORMS_AT_ROOT: "'forms' is reserved at the root of a library",
}


# Undecodable bytes from a local disk arrive as U+DC80-U+DCFF (os.fsdecode); an SMB name may
# also hold a lone UTF-16 surrogate. Neither can be stored as text, nor given to OneDrive.
_SURROGATE = re.compile("[\ud800-\udfff]")


_NAME, _SIZE, _ATTRIBUTES, _IS_LINK = itemgetter(0), itemgetter(2), itemgetter(6), itemgetter(7)


def has_bad_encoding(name: str) -> bool:
    # isascii() answers for nearly every name at once; only the rest need the search.
    return not name.isascii() and _SURROGATE.search(name) is not None


def printable(path: str) -> str:
    """The path as text that can be stored and shown: an undecodable byte as \\xNN, a lone
    UTF-16 surrogate as \\uNNNN."""
    if not has_bad_encoding(path):
        return path
    return _SURROGATE.sub(_escape, path)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def folder_findings(
    folder: str, entries: list[Entry], target_folder: str
) -> list[tuple[str, str, str]]:
    """(path, kind, detail) for each finding among one folder's entries. Nearly every folder
    has none, and one pass over all its names shows that; only the rest are judged one by one."""
    if folder_is_clean(folder, entries, target_folder):
        return []
    prefix = f"{folder}/" if folder else ""
    return [
        (prefix + entry.name, kind, detail)
        for entry in entries
        for kind, detail in entry_findings(prefix + entry.name, entry, target_folder)
    ]


def folder_is_clean(folder: str, entries: list[Entry], target_folder: str) -> bool:
    """True when no entry of the folder can have a finding (and its paths need no escaping)."""
    if not entries:
        return True
    # Column by column (map and itemgetter run at C speed), as this runs once per folder
    # over every entry; a folder's size is 0, so the largest size is the largest file's.
    names = list(map(_NAME, entries))
    longest = len(target_folder) + len(folder) + 2 + max(map(len, names))
    return (
        naming.all_names_fine(names)
        and longest <= naming.MAX_PATH_CHARACTERS
        and not has_bad_encoding(folder + "/".join(names))
        and not any(map(_IS_LINK, entries))
        and not reduce(or_, map(_ATTRIBUTES, entries)) & STUB_BITS
        and max(map(_SIZE, entries)) <= naming.MAX_FILE_BYTES
    )


def entry_findings(path: str, entry: Entry, target_folder: str) -> list[tuple[str, str]]:
    """Findings for the entry at `path` (relative to the user's folder)."""
    found = [(kind, _DETAILS[kind]) for kind in naming.name_problems(entry.name)]
    target_path = f"{target_folder}/{printable(path)}"
    if naming.path_too_long(target_path):
        found.append(
            (naming.PATH_TOO_LONG, f"{len(target_path)} characters in OneDrive (limit 400)")
        )
    if not entry.is_dir and entry.size > naming.MAX_FILE_BYTES:
        found.append((naming.TOO_LARGE, f"{entry.size} bytes (limit 250 GiB)"))
    if entry.is_link:
        found.append((LINK, "a link or reparse point: recorded, not followed"))
    if has_bad_encoding(path):
        found.append((BAD_ENCODING, "the name, or a folder above it, is not valid Unicode"))
    if entry.attributes & STUB_BITS:
        found.append((OFFLINE_STUB, "an offline stub: reading it would recall it from archive"))
    return found
