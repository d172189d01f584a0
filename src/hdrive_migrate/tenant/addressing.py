"""Parse a request path into what it addresses, as Graph does (by id, by path, or both)."""

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import GraphError, bad_request

API_PREFIXES = ("/v1.0", "/v2.0")
ITEM_ACTIONS = frozenset(
    ["", "children", "content", "createUploadSession", "retentionLabel", "delta"]
)

_DRIVE = re.compile(r"^/(?:drives/(?P<drive>[^/]+)|users/(?P<user>[^/]+)/drive|(?P<me>me)/drive)")
_USER = re.compile(r"^/users(?:/(?P<user>[^/]+))?$")
_MAIL = re.compile(
    r"^/users/(?P<user>[^/]+)/(?:(?P<send>sendMail)|mailFolders/(?P<folder>[^/]+)/messages)$"
)
_ITEM_BASE = re.compile(r"^/(?:root|items/(?P<item>[^/:]+))")
_RECYCLE_BIN = re.compile(r"^/sites/(?P<site>[^/]+)/recycleBin/items$")
# delta is a function: its token may come as `delta(token='...')` as well as `delta?token=...`.
_DELTA_CALL = re.compile(r"^delta\(token='(?P<token>[^']*)'\)$")


@dataclass(frozen=True)
class Address:
    """What a Graph path names. `kind` is one of users, user, drive, item, recycleBin,
    sendMail, messages."""

    kind: str
    user: str | None = None
    drive: str | None = None
    item: str | None = None  # None with kind == "item" means the drive root
    relative: tuple[str, ...] = ()  # decoded names after `:/`, below `item`
    action: str = ""
    site: str | None = None  # kind "recycleBin": the site whose bin is listed
    token: str | None = None  # a function argument, as in delta(token='...')
    folder: str | None = None  # kind "messages": the mail folder listed


@dataclass(frozen=True)
class UploadAddress:
    session_id: str
    token: str


def parse_upload(raw_path: str, query: dict) -> UploadAddress | None:
    """An upload URL (`/_upload/{session}?tempauth=...`), or None for any other path."""
    if not raw_path.startswith("/_upload/"):
        return None
    return UploadAddress(raw_path.removeprefix("/_upload/"), query.get("tempauth", ""))


def parse_graph(raw_path: str) -> Address:
    """Parse a percent-encoded Graph path such as `/v1.0/drives/{d}/root:/a%20b/c.txt:/content`."""
    prefix = next((p for p in API_PREFIXES if raw_path.startswith(p + "/")), None)
    if prefix is None:
        raise GraphError(400, "BadRequest", "Invalid version: use /v1.0 or /v2.0.")
    path = raw_path[len(prefix) :].rstrip("/") or "/"
    if match := _RECYCLE_BIN.match(path):
        return Address("recycleBin", site=unquote(match["site"]))
    if match := _MAIL.match(path):
        user = unquote(match["user"])
        if match["send"]:
            return Address("sendMail", user=user)
        return Address("messages", user=user, folder=unquote(match["folder"]))
    if match := _USER.match(path):
        user = match["user"]
        return Address("user", user=unquote(user)) if user else Address("users")
    match = _DRIVE.match(path)
    if not match:
        raise bad_request(f"Resource not found for the segment '{path.strip('/').split('/')[0]}'.")
    if match["me"]:
        raise GraphError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
    user = unquote(match["user"]) if match["user"] else None
    drive = unquote(match["drive"]) if match["drive"] else None
    rest = path[match.end() :]
    if not rest:
        return Address("drive", user=user, drive=drive)
    return _parse_item(rest, user=user, drive=drive)


def _parse_item(rest: str, *, user: str | None, drive: str | None) -> Address:
    match = _ITEM_BASE.match(rest)
    if not match:
        raise bad_request("Invalid item address.")
    item = unquote(match["item"]) if match["item"] else None
    rest = rest[match.end() :]
    relative: tuple[str, ...] = ()
    if rest.startswith(":"):
        # Names cannot contain ':', so the next literal colon ends the relative path.
        inner, _, rest = rest[1:].partition(":")
        relative = tuple(unquote(part) for part in inner.split("/") if part)
    action, token = rest.strip("/"), None
    if call := _DELTA_CALL.match(unquote(action)):
        action, token = "delta", call["token"]
    if action not in ITEM_ACTIONS:
        raise bad_request(f"Unsupported segment '{action}'.")
    return Address(
        "item", user=user, drive=drive, item=item, relative=relative, action=action, token=token
    )
