"""The report folder: which files a report may write there, SHA256SUMS, and what a re-run
replaces.

A report folder holds one report. Its SHA256SUMS lists every file of that report; a re-run
replaces exactly those files and removes the ones it no longer writes (a manifest of a user who
left the wave), so the folder never mixes two reports. Any other file already at a name the
report writes (one no SHA256SUMS of ours lists) is refused before anything is written, unless
--force; with --force it is replaced. Nothing a report did not list is ever removed, and the
workspace's own files are refused whatever --force says (outputs.open_output).
"""

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import check_output, open_output
from hdrive_migrate.report.columns import REGISTERS

SUMS = "SHA256SUMS"
SUMMARY_HTML, SUMMARY_CSV, ITEMS, FAILURES, CUTOVER = (
    "summary.html",
    "summary.csv",
    "items.csv",
    "failures.csv",
    "cutover.csv",
)
FIXED = (SUMMARY_HTML, SUMMARY_CSV, ITEMS, FAILURES, CUTOVER, *REGISTERS)
MANIFESTS = "manifests"
_MANIFEST = re.compile(rf"{MANIFESTS}/[^/\\\n]+\.csv")
# `sha256sum` writes "HASH  NAME" (two spaces: read as text) or "HASH *NAME" (binary).
_SUMS_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


def manifest_name(upn: str) -> str:
    """The report-relative name of UPN's manifest, manifests/UPN.csv. A UPN that cannot be a
    plain file name (import validates UPNs, so only a damaged database holds one) raises
    HdriveError."""
    if not upn or upn.startswith(".") or any(c in upn for c in "/\\\n\r\0"):
        raise HdriveError(
            f"the UPN {upn!r} cannot name a manifest file",
            fix="correct the UPN in the user list and import it again",
        )
    return f"{MANIFESTS}/{upn}.csv"


def ours(name: str) -> bool:
    """True for the names a report writes (besides SHA256SUMS)."""
    return name in FIXED or bool(_MANIFEST.fullmatch(name))


class ReportFolder:
    """Where one report is written: PATH, refusing WORKSPACE's own files, replacing another
    report's files there, and any other file only when FORCE."""

    def __init__(self, path: Path, *, workspace: Path, force: bool) -> None:
        self.path = path
        self.workspace = workspace
        self.force = force
        self.previous = previous_report(path)
        self.written: list[str] = []

    def may_replace(self, name: str) -> bool:
        return self.force or name in self.previous or (name == SUMS and bool(self.previous))

    def check(self, names: Iterable[str]) -> None:
        """Raise HdriveError, before anything is written, unless every one of NAMES (and
        SHA256SUMS) may be written."""
        for name in (*names, SUMS):
            check_output(self.path / name, workspace=self.workspace, force=self.may_replace(name))

    @contextmanager
    def open(self, name: str, *, encoding: str) -> Iterator[TextIO]:
        """A handle on NAME, replaced atomically when the block ends (outputs.open_output)."""
        target = self.path / name
        force = self.may_replace(name)
        with open_output(target, workspace=self.workspace, force=force, encoding=encoding) as out:
            yield out
        self.written.append(name)

    def finish(self) -> str:
        """Write SHA256SUMS for every file written, remove the previous report's files this
        one did not write, and return SHA256SUMS's own SHA-256."""
        names = sorted(self.written)
        # hashlib lets go of the GIL while it hashes: threads use every core.
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            digests = pool.map(file_sha256, (self.path / name for name in names))
            lines = [f"{digest}  {name}\n" for digest, name in zip(digests, names, strict=True)]
        text = "".join(lines)
        with open_output(
            self.path / SUMS, workspace=self.workspace, force=self.may_replace(SUMS)
        ) as handle:
            handle.write(text)
        for stale in sorted(self.previous - set(self.written)):
            (self.path / stale).unlink(missing_ok=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def previous_report(path: Path) -> set[str]:
    """The names a report's SHA256SUMS in PATH lists that a report writes (empty when there is
    none). Other names it may list are never replaced nor removed."""
    try:
        text = (path / SUMS).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return set()
    except OSError as exc:
        raise HdriveError(
            f"cannot read the previous report's {SUMS}: {exc.strerror}",
            fix="check the folder's permissions, or choose another --out",
            where=str(path / SUMS),
        ) from exc
    names = set()
    for line in text.splitlines():
        found = _SUMS_LINE.fullmatch(line)
        if found and ours(found[2]):
            names.add(found[2])
    return names


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
