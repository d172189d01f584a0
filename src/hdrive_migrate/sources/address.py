"""How an SMB share is written as a URL: apart from the SMB client, so that commands which only
parse or show a source address do not load smbprotocol at start-up."""

import re
from urllib.parse import quote

DEFAULT_PORT = 445
_URL_UNSAFE = re.compile(r"[%/\\?#\x00-\x1f\x7f\ud800-\udfff]")


def smb_url(server: str, port: int, share: str, parts: list[str]) -> str:
    """smb://server[:port]/share/part/... as people read it: only characters that would change
    how it parses ('%', '/', '\\', '?', '#', control characters, lone surrogates) are
    percent-encoded, so parse_source reads the same address back."""
    host = f"[{server}]" if ":" in server else server
    netloc = host if port == DEFAULT_PORT else f"{host}:{port}"
    return "/".join([f"smb://{netloc}", *(_URL_UNSAFE.sub(_escape, p) for p in [share, *parts])])


def _escape(match: re.Match) -> str:
    return quote(match.group().encode("utf-8", "surrogatepass"), safe="")
