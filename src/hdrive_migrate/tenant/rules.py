"""The service's rules as Microsoft documents them, read independently of the pipeline.

Sources: "Restrictions and limitations in OneDrive and SharePoint" (invalid characters and names,
400-character decoded path), driveitem-createuploadsession (chunk rules), errors.md (codes).
"""

import re

FORBIDDEN_CHARACTERS = frozenset('"*:<>?/\\|')
RESERVED_NAMES = frozenset(
    [".lock", "con", "prn", "aux", "nul", "desktop.ini"]
    + [f"com{i}" for i in range(10)]
    + [f"lpt{i}" for i in range(10)]
)
MAX_PATH_CHARACTERS = 400
CHUNK_MULTIPLE = 320 * 1024
MAX_FRAGMENT_BYTES = 60 * 1024 * 1024  # a request must be *less* than 60 MiB
MAX_SIMPLE_UPLOAD_BYTES = 250 * 1000 * 1000
MAX_FILE_BYTES = 250 * 1024**3

_CONTROL = re.compile(r"[\x00-\x1f]")


def name_problem(name: str, *, at_root: bool) -> str | None:
    """Why OneDrive refuses `name` as a file or folder name, or None when it accepts it."""
    if not name:
        return "The name is empty."
    if any(ch in FORBIDDEN_CHARACTERS for ch in name) or _CONTROL.search(name):
        return "The provided name cannot contain any illegal characters."
    if name != name.strip(" "):
        return "The name cannot begin or end with a space."
    if name.endswith("."):
        return "The name cannot end with a period."
    if name.startswith("~$"):
        return "The name cannot begin with ~$."
    if "_vti_" in name.lower():
        return "The name cannot contain _vti_."
    if name.lower() in RESERVED_NAMES:
        return f"'{name}' is a reserved name."
    if at_root and name.lower() == "forms":
        return "'forms' is reserved at the root of a library."
    return None


def path_too_long(path: str) -> bool:
    """True when the decoded path below the drive root exceeds the service's limit."""
    return len(path) > MAX_PATH_CHARACTERS
