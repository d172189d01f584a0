"""User principal names, and the OneDrive URLs SharePoint derives from them. Pure.

SharePoint names a user's OneDrive `https://{tenant}-my.sharepoint.com/personal/{segment}`,
where the segment is the UPN lower-cased with `.` and `@` turned into `_`
(meganb@contoso.com -> meganb_contoso_com). The mapping loses information: `_` in a segment
may have been `_`, `.` or `@`, so a segment names a small set of candidate UPNs, which only the
tenant can narrow to one.
"""

import itertools
import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

# Entra ID's rules for userPrincipalName: the characters allowed before the @, at most 64 of
# them, not ending in "."; a domain of at most 48 characters; 113 in all.
_LOCAL = re.compile(r"[A-Za-z0-9'._!#^~-]{1,64}")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_UPN = 113
MAX_DOMAIN = 48
# Each candidate costs one request to the tenant; a segment with more would need 31 or more
# (six underscores or more) and is better given as a UPN outright.
MAX_CANDIDATES = 16


def is_upn(text: str) -> bool:
    """Whether TEXT is a userPrincipalName Entra ID would accept (name@domain.tld)."""
    local, at, domain = text.rpartition("@")
    return (
        bool(at)
        and len(text) <= MAX_UPN
        and _LOCAL.fullmatch(local) is not None
        and not local.endswith(".")
        and len(domain) <= MAX_DOMAIN
        and _DOMAIN.fullmatch(domain) is not None
    )


def personal_segment(upn: str) -> str:
    """The `/personal/{segment}` part of UPN's OneDrive URL."""
    return upn.lower().replace(".", "_").replace("@", "_")


def onedrive_segment(url: str) -> str | None:
    """The personal segment of a OneDrive URL such as
    https://contoso-my.sharepoint.com/personal/meganb_contoso_com[/...], lower-cased and
    percent-decoded; None when URL is not an http(s) URL with such a path."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    path = [unquote(piece) for piece in parts.path.split("/") if piece]
    if len(path) < 2 or path[0].lower() != "personal":
        return None
    return path[1].lower()


def candidate_upns(segment: str) -> list[str] | None:
    """Every valid UPN whose personal segment is SEGMENT, the likeliest first (a domain of two
    labels, dots before underscores in the name); [] when none is, None when there are more than
    MAX_CANDIDATES."""
    found = list(itertools.islice(_candidates(segment), MAX_CANDIDATES + 1))
    return None if len(found) > MAX_CANDIDATES else found


def _candidates(segment: str) -> Iterator[str]:
    parts = segment.split("_")
    # The @ goes before parts[at]; the domain keeps at least two labels.
    for at in range(len(parts) - 2, 0, -1):
        domain = ".".join(parts[at:])
        for separators in itertools.product("._", repeat=at - 1):
            local = parts[0] + "".join(s + p for s, p in zip(separators, parts[1:at], strict=True))
            upn = f"{local}@{domain}"
            if is_upn(upn):
                yield upn
