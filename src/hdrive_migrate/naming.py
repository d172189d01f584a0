"""OneDrive's naming rules as the pipeline reads them (the local tenant keeps its own reading,
so that the two check each other).

Source: "Restrictions and limitations in OneDrive and SharePoint" (invalid characters, invalid
file or folder names, file name and path lengths, file size).
"""

import re

FORBIDDEN_CHARACTERS = frozenset('"*:<>?/\\|')
RESERVED_NAMES = frozenset(
    [".lock", "con", "prn", "aux", "nul", "desktop.ini"]
    + [f"com{digit}" for digit in range(10)]
    + [f"lpt{digit}" for digit in range(10)]
)
MAX_PATH_CHARACTERS = 400  # the whole decoded path below the drive root
MAX_FILE_BYTES = 250 * 1024**3

# Finding kinds, as counted in `scan summary` (a contract: scripts read these names).
FORBIDDEN = "forbidden_characters"
RESERVED = "reserved_name"
EDGE_SPACE = "leading_or_trailing_space"
TRAILING_DOT = "trailing_dot"
OFFICE_LOCK = "office_lock_file"
VTI = "vti_name"
FORMS_AT_ROOT = "forms_at_root"
PATH_TOO_LONG = "path_too_long"
TOO_LARGE = "file_too_large"


# Matches every name that breaks some rule (and a few that break none, such as "forms" below
# the root): a scan tests hundreds of millions of names, nearly all of them fine.
_SUSPECT = re.compile(
    r'["*:<>?/\\|\x00-\x1f]|^[ ~]|[ .]$|_vti_'
    r"|^(?:con|prn|aux|nul|com\d|lpt\d|\.lock|desktop\.ini|forms)$",
    re.IGNORECASE,
)


# The same test over many names joined by '/', which no name can contain: one pass decides
# that a whole folder is fine. It may flag a fine name ("forms"); it never passes a bad one.
# Plain substring tests on the lower-cased names, and searches for a character set and for
# '/' (literals the regular expression engine scans for quickly), rather than one expression
# tried at every character: this runs over every name a scan lists.
_REFUSED_AMONG = re.compile('["*:<>?\\\\|\x00-\x1f]')
_RESERVED_AMONG = re.compile(
    "/(?:" + "|".join(re.escape(name) for name in sorted({*RESERVED_NAMES, "forms"})) + ")/"
)
_EDGES_AMONG = ("/ ", "/~", " /", "./", "_vti_")


def all_names_fine(names: list[str]) -> bool:
    """True only when no name in `names` breaks a rule (False may still mean all are fine)."""
    joined = "/".join(names)
    if _REFUSED_AMONG.search(joined):
        return False
    lower = f"/{joined.lower()}/"
    return not any(edge in lower for edge in _EDGES_AMONG) and not _RESERVED_AMONG.search(lower)


def name_problems(name: str, *, at_drive_root: bool = False) -> list[str]:
    """The finding kinds `name` breaks, in a fixed order; empty when OneDrive accepts it."""
    if not _SUSPECT.search(name):
        return []
    problems = []
    if any(ch in FORBIDDEN_CHARACTERS or ord(ch) < 0x20 for ch in name):
        problems.append(FORBIDDEN)
    if name.lower() in RESERVED_NAMES:
        problems.append(RESERVED)
    if name != name.strip(" "):
        problems.append(EDGE_SPACE)
    if name.endswith("."):
        problems.append(TRAILING_DOT)
    if name.startswith("~$"):
        problems.append(OFFICE_LOCK)
    if "_vti_" in name.lower():
        problems.append(VTI)
    if at_drive_root and name.lower() == "forms":
        problems.append(FORMS_AT_ROOT)
    return problems


def path_too_long(target_path: str) -> bool:
    """True when a path below the drive root (target folder included) exceeds the limit."""
    return len(target_path) > MAX_PATH_CHARACTERS


def replacement_problem(replacement: str) -> str | None:
    """Why REPLACEMENT cannot stand in for refused characters, or None when it can.

    It must be one character OneDrive accepts anywhere in a name: not refused, not a space or a
    dot (refused at the edges), not "~" (it would rebuild the "~$" it replaces).
    """
    if len(replacement) != 1:
        return f"replacement {replacement!r} must be exactly one character"
    if name_problems(replacement) or replacement == "~":
        return (
            f"replacement {replacement!r} is not allowed: it must not be one of "
            '" * : < > ? / \\ | ~, a space, a dot or a control character'
        )
    return None
