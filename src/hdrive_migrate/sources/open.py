"""From `[source] root` as people write it to a Source.

Three forms are understood: a local or mounted path, a UNC path `\\\\server\\share\\path`, and a
URL `smb://server[:port]/share/path`. Parsing is pure (parse_source); open_source adds the
credentials and connects.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from hdrive_migrate.config import SMB_PASSWORD_ENV, SMB_USER_ENV
from hdrive_migrate.sources import Source, SourceError
from hdrive_migrate.sources.address import DEFAULT_PORT, smb_url
from hdrive_migrate.sources.local import LocalSource

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SEPARATORS = re.compile(r"[\\/]")
_FORMS = "a local or mounted path, \\\\server\\share\\path or smb://server[:port]/share/path"


@dataclass(frozen=True)
class LocalRoot:
    """A folder on this machine (possibly a mount of the share)."""

    path: Path


@dataclass(frozen=True)
class SmbRoot:
    """Folder `path` (a tuple of names, empty for the share itself) on //server/share."""

    server: str
    port: int
    share: str
    path: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return smb_url(self.server, self.port, self.share, list(self.path))


ParsedSource = LocalRoot | SmbRoot


def parse_source(root: str) -> ParsedSource:
    """What ROOT names, without touching the network or the disk; SourceError when it is
    malformed. UNC paths are taken literally; smb:// URLs are percent-decoded (so '%' in a
    name is written %25), and '?' and '#' in them are part of the path, not a query."""
    text = root.strip()
    if not text:
        raise _malformed(root, "it is empty")
    if text.startswith("\\\\"):
        return _parse_unc(root, text[2:])
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() == "smb":
        return _parse_url(root, text[scheme.end() :])
    if scheme:
        raise _malformed(root, f"{scheme.group(1)}:// is not a kind of source hdrive-migrate reads")
    # os.path.expanduser leaves ~unknown-user alone where Path.expanduser raises.
    return LocalRoot(Path(os.path.expanduser(text)))


def open_source(
    root: str, smb_user: str | None = None, *, environ: Mapping[str, str] = os.environ
) -> Source:
    """The Source ROOT names. For SMB the user is HDRIVE_SMB_USER, else SMB_USER (the config's
    [source] smb_user), and the password is HDRIVE_SMB_PASSWORD, which has no other source.
    SourceError when anything is missing, malformed, unreachable or refused."""
    parsed = parse_source(root)
    if isinstance(parsed, LocalRoot):
        return LocalSource(parsed.path)
    user = environ.get(SMB_USER_ENV, "").strip() or (smb_user or "").strip()
    if not user:
        raise SourceError(
            "no user to log in to the SMB share with",
            fix=f"set {SMB_USER_ENV} or [source] smb_user (DOMAIN\\user or user@domain)",
            where=parsed.url,
        )
    password = environ.get(SMB_PASSWORD_ENV, "")
    if not password:
        raise SourceError(
            f"no password for {user}",
            fix=f"set {SMB_PASSWORD_ENV} in the environment (it is never read from a file)",
            where=parsed.url,
        )
    base_path = "/".join(parsed.path)
    # Imported here: only commands that read a share load the SMB client.
    from hdrive_migrate.sources.smb import SmbSource

    return SmbSource(parsed.server, parsed.port, parsed.share, base_path, user, password)


def _parse_unc(root: str, rest: str) -> SmbRoot:
    server, *names = _SEPARATORS.split(rest)
    if server in ("?", "."):
        raise _malformed(root, "\\\\?\\ and \\\\.\\ device paths are Windows-only")
    return _smb_root(root, server, DEFAULT_PORT, names)


def _parse_url(root: str, rest: str) -> SmbRoot:
    netloc, _, path = rest.partition("/")
    if "@" in netloc:
        # Quoted without the user part, which may hold a password.
        shown = f"smb://{netloc.rpartition('@')[2]}/{path}"
        raise _malformed(
            shown,
            "credentials do not belong in the address",
            fix=f"remove user@ from it; put the user in [source] smb_user or {SMB_USER_ENV}, "
            f"and the password in {SMB_PASSWORD_ENV}",
        )
    server, port = _split_port(root, netloc)
    try:
        # surrogatepass: smb_url escapes a lone surrogate as its UTF-8 form; read it back.
        names = [unquote(name, errors="surrogatepass") for name in path.split("/")]
    except UnicodeDecodeError:
        raise _malformed(root, "its %-escapes are not UTF-8") from None
    if any("\\" in name for name in names):
        raise _malformed(root, "SMB names cannot contain \\ (%5C)")
    return _smb_root(root, server, port, names)


def _split_port(root: str, netloc: str) -> tuple[str, int]:
    host, port = netloc, ""
    if netloc.startswith("["):  # an IPv6 address, [::1]:445
        host, _, after = netloc[1:].partition("]")
        if after and not after.startswith(":"):
            raise _malformed(root, f"cannot read the server {netloc}")
        port = after[1:]
    elif ":" in netloc:
        host, port = netloc.rsplit(":", 1)
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise _malformed(root, f"port {port} is not a number from 1 to 65535")
    return host, int(port) if port else DEFAULT_PORT


def _smb_root(root: str, server: str, port: int, names: list[str]) -> SmbRoot:
    share, *folders = names or [""]
    if not server:
        raise _malformed(root, "it names no server")
    if not share:
        raise _malformed(root, "it names no share after the server")
    folders = [name for name in folders if name not in ("", ".")]
    if ".." in folders or share in (".", ".."):
        raise _malformed(root, "'..' is not allowed in it")
    return SmbRoot(server, port, share, tuple(folders))


def _malformed(root: str, why: str, fix: str = f"write it as {_FORMS}") -> SourceError:
    # Not repr(): a UNC path would be shown with every backslash doubled.
    return SourceError(f'cannot read the source "{root}": {why}', fix=fix)
