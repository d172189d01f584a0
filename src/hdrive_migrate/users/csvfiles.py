"""The two user lists `users import` reads, told apart by their first line. Pure: text in, rows
and row errors out.

- The simple CSV: the header `folder,upn` or `folder,upn,wave`, then one person per row; folder
  is the name of their home folder under the source root.
- The SPMT / Migration Manager bulk CSV: no header, six columns per row (source path, source
  document library, source subfolder, target OneDrive URL, target document library, target
  subfolder). The folder is the source path's last component; the UPN is guessed from the
  OneDrive URL and marked derived until the tenant confirms it. The other four columns are not
  used: hdrive.toml's [target] folder says where files go.

A first line that is neither a header nor an SPMT row is refused, naming what it held. Values
may be separated by semicolons or tabs instead of commas, as Excel saves CSV in some locales.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hdrive_migrate.csvfiles import csv_records
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.users.upns import MAX_CANDIDATES, candidate_upns, is_upn, onedrive_segment

SIMPLE = "simple"
SPMT = "SPMT"
SIMPLE_HEADERS = (("folder", "upn"), ("folder", "upn", "wave"))
SPMT_COLUMNS = 6
# How listings name users with no wave; never a wave's own name.
NO_WAVE = "(no wave)"

FIX_GIVE_UPN = "give this person's UPN in a simple CSV row (folder,upn) and import that"


@dataclass(frozen=True)
class Row:
    """One person: LINE in the file, their home FOLDER's name under the source root, their UPN
    (None: to be found from the folder name as the on-premises account name), the WAVE the file
    gives (None: leave it as it is), and DERIVED_FROM, the OneDrive URL segment the UPN was
    guessed from (None: the UPN was given or has been confirmed)."""

    line: int
    folder: str
    upn: str | None
    wave: str | None = None
    derived_from: str | None = None


@dataclass(frozen=True)
class RowError:
    """Why the row starting at LINE was not imported, and how to fix it."""

    line: int
    what: str
    fix: str

    def message(self, file: str) -> str:
        """One line: `FILE:LINE: what. Fix: how`."""
        return str(HdriveError(self.what, fix=self.fix, where=f"{file}:{self.line}"))


@dataclass(frozen=True)
class UserList:
    """A parsed file: its KIND (SIMPLE or SPMT), the rows that parsed, and one error per row that
    did not, in line order."""

    kind: str
    rows: list[Row]
    errors: list[RowError]


def parse_user_list(text: str, *, file: str, source_root: str, upn_required: bool) -> UserList:
    """Parse TEXT, the contents of FILE (named in file-level errors).

    Blank rows are skipped. SPMT source paths must name a folder directly under SOURCE_ROOT.
    UPN_REQUIRED False lets simple rows leave the upn empty (to be resolved from the folder).
    A file that is neither kind, or lists nobody, raises HdriveError.
    """
    records = list(csv_records(text, file))
    if not records:
        raise _nobody(file)
    line, first = records[0]
    header = tuple(cell.strip().lower() for cell in first)
    if header[0] != "folder":
        if not _is_spmt_row(first):
            raise _neither_kind(first, f"{file}:{line}")
        return _collect(SPMT, (_spmt_row(n, cells, source_root) for n, cells in records))
    if header not in SIMPLE_HEADERS:
        raise HdriveError(
            f"the header {','.join(first)} is not folder,upn or folder,upn,wave",
            fix="make the first line exactly folder,upn or folder,upn,wave",
            where=f"{file}:{line}",
        )
    if len(records) == 1:
        raise _nobody(file)
    rows = (_simple_row(n, cells, header, upn_required) for n, cells in records[1:])
    return _collect(SIMPLE, rows)


def _is_spmt_row(cells: list[str]) -> bool:
    """Whether CELLS can be an SPMT row: six of them, or a first one that starts as a source
    path does (\\\\server, //server, smb://server or /), so a row with a column too many or too
    few is still reported as an SPMT row."""
    source = cells[0].strip().lower()
    return len(cells) == SPMT_COLUMNS or source.startswith(("\\\\", "/", "smb://"))


def _neither_kind(first: list[str], where: str) -> HdriveError:
    shown = ",".join(cell.strip() for cell in first)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return HdriveError(
        f"the first line ({shown}, {len(first)} columns) is neither the header of a simple CSV "
        "(folder,upn or folder,upn,wave) nor an SPMT / Migration Manager row (six columns, the "
        "first a source path)",
        fix="start a simple CSV with the line folder,upn or folder,upn,wave; an SPMT CSV has no "
        "header",
        where=where,
    )


def _nobody(file: str) -> HdriveError:
    return HdriveError(
        "the file lists nobody",
        fix="write the header folder,upn[,wave] and one row per person, or give an SPMT / "
        "Migration Manager CSV",
        where=file,
    )


def wave_problem(wave: str) -> str | None:
    """Why WAVE cannot name a wave, or None when it can."""
    if wave == NO_WAVE:
        return f"{NO_WAVE} is how listings show users without a wave"
    if not wave.isprintable():
        return f"wave {wave!r} holds control characters"
    return None


def folder_under(path: str, root: str) -> str | None:
    """The last component of PATH when PATH is a folder directly under ROOT, else None.

    Compared case-insensitively (SMB names are), with `\\` and `/` alike; smb://host[:port]/x
    matches \\\\host\\x.
    """
    parent, _, name = _plain(path).rpartition("/")
    if name in ("", ".", "..") or parent.lower() != _plain(root).lower():
        return None
    return name


def _plain(path: str) -> str:
    text = path.strip().replace("\\", "/")
    if text.lower().startswith("smb://"):
        parts = urlsplit(text)
        text = f"//{parts.hostname or ''}{unquote(parts.path)}"
    return text.rstrip("/")


def _collect(kind: str, parsed: Iterator[Row | RowError]) -> UserList:
    rows: list[Row] = []
    errors: list[RowError] = []
    for item in parsed:
        (errors if isinstance(item, RowError) else rows).append(item)
    return UserList(kind, rows, errors)


def _simple_row(
    line: int, cells: list[str], header: tuple[str, ...], upn_required: bool
) -> Row | RowError:
    if len(cells) != len(header):
        return RowError(
            line,
            f"{len(cells)} columns where the header has {len(header)}",
            f"write {','.join(header)} on this row, quoting any value that holds a comma",
        )
    folder, upn, *rest = (cell.strip() for cell in cells)
    wave = rest[0] if rest else ""
    problem = _folder_problem(line, folder) or _upn_problem(line, upn, upn_required)
    if problem is None and wave and (why := wave_problem(wave)):
        problem = RowError(line, why, "choose another wave name")
    return problem or Row(line, folder, upn or None, wave or None)


def _folder_problem(line: int, folder: str) -> RowError | None:
    if not folder:
        return RowError(line, "no folder", "write the home folder's name in the folder column")
    if "/" in folder or "\\" in folder or folder in (".", ".."):
        return RowError(
            line,
            f"folder {folder!r} is not a folder name",
            "write just the name of the home folder under the source root, e.g. meganb",
        )
    return None


def _upn_problem(line: int, upn: str, required: bool) -> RowError | None:
    if not upn:
        if not required:
            return None
        return RowError(
            line,
            "no UPN",
            "fill in the upn column, or import with --resolve-sam to look it up from the "
            "folder name as the on-premises account name",
        )
    if not is_upn(upn):
        return RowError(
            line,
            f"{upn!r} is not a valid UPN",
            "write it as name@domain, e.g. meganb@contoso.com (letters, digits and ' . - _ ! # "
            "^ ~ before the @)",
        )
    return None


def _spmt_row(line: int, cells: list[str], source_root: str) -> Row | RowError:
    if len(cells) != SPMT_COLUMNS:
        return RowError(
            line,
            f"{len(cells)} columns; an SPMT CSV row has six (source path, source document "
            "library, source subfolder, target OneDrive URL, target document library, target "
            "subfolder)",
            "write all six columns, leaving unused ones empty; a simple CSV starts with the "
            "header folder,upn[,wave]",
        )
    source, _, _, url, _, _ = (cell.strip() for cell in cells)
    folder = folder_under(source, source_root)
    if folder is None:
        return RowError(
            line,
            f"source path {source!r} is not a folder directly under the source root {source_root}",
            "correct the path, or [source] root in hdrive.toml",
        )
    return _derived_row(line, folder, url)


def _derived_row(line: int, folder: str, url: str) -> Row | RowError:
    segment = onedrive_segment(url)
    if segment is None:
        return RowError(
            line,
            f"{url!r} is not a OneDrive URL",
            "write the target as https://TENANT-my.sharepoint.com/personal/NAME_DOMAIN_TLD",
        )
    candidates = candidate_upns(segment)
    if not candidates:
        why = "no valid UPN gives" if candidates == [] else f"over {MAX_CANDIDATES} UPNs give"
        return RowError(line, f"{why} the OneDrive URL segment {segment}", FIX_GIVE_UPN)
    return Row(line, folder, candidates[0], derived_from=segment)
