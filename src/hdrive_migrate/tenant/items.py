"""Drive items: resolving addresses, rendering driveItems, and the metadata operations."""

import base64
import json
import mimetypes
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from . import rules
from .addressing import Address
from .errors import GraphError, bad_request, name_exists, not_found
from .state import TenantState, utc_now_text

DEFAULT_PAGE = 200
MAX_PAGE = 1000
CONFLICT_BEHAVIOURS = ("fail", "replace", "rename")
CONFLICT_ANNOTATIONS = ("@microsoft.graph.conflictBehavior", "@name.conflictBehavior")


@dataclass
class Context:
    """What every handler needs: the state, the clock and how to name this server in URLs."""

    state: TenantState
    clock: Callable[[], float]
    base_url: str
    api: str


def json_response(body: dict, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body), content_type="application/json")


async def read_json(request: web.Request) -> dict:
    if not request.body_exists:
        return {}
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def graph_time(value: object, field: str) -> str:
    """Parse a client's ISO 8601 time; the service keeps whole seconds, in UTC."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise bad_request(f"Cannot parse {field} '{value}' as a date and time.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_system_times(facet: object) -> tuple[str | None, str | None]:
    if facet is None:
        return None, None
    if not isinstance(facet, dict):
        raise bad_request("fileSystemInfo must be an object.")
    return tuple(
        graph_time(facet[key], key) if facet.get(key) else None
        for key in ("createdDateTime", "lastModifiedDateTime")
    )


def conflict_behaviour(*sources: dict, default: str) -> str:
    """The conflict behaviour a client asked for, under either annotation the service accepts."""
    for source in sources:
        for annotation in CONFLICT_ANNOTATIONS:
            if annotation in source:
                value = source[annotation]
                if value not in CONFLICT_BEHAVIOURS:
                    raise bad_request(f"Invalid value '{value}' for {annotation}.")
                return value
    return default


# Resolving addresses


def drive_of(ctx: Context, address: Address) -> sqlite3.Row:
    if address.drive is not None:
        drive = ctx.state.drive(address.drive)
        if drive is None:
            raise not_found("The drive could not be found.")
        return drive
    user = ctx.state.user(address.user or "")
    if user is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{address.user}' does not exist or one of its queried reference-property"
            " objects are not present.",
        )
    if not user["drive_id"]:
        raise GraphError(404, "ResourceNotFound", "User's mysite not found.")
    return ctx.state.drive(user["drive_id"])


def base_item(ctx: Context, address: Address) -> sqlite3.Row:
    drive = drive_of(ctx, address)
    item = ctx.state.item(drive["id"], address.item or drive["root_id"])
    if item is None:
        raise not_found()
    return item


def resolve(ctx: Context, address: Address) -> sqlite3.Row:
    """The existing item an address names; 404 itemNotFound when any step is missing."""
    item = base_item(ctx, address)
    for name in address.relative:
        item = ctx.state.child(item["id"], name)
        if item is None:
            raise not_found()
    return item


def resolve_parent(ctx: Context, address: Address) -> tuple[sqlite3.Row, list[str], str]:
    """For an address that may create an item: the deepest existing folder, the folder names
    still to create below it, and the leaf name. Every name and the full path are validated."""
    if not address.relative:
        raise bad_request("The address must name the item to create.")
    parent = base_item(ctx, address)
    names = list(address.relative)
    while len(names) > 1:
        child = ctx.state.child(parent["id"], names[0])
        if child is None:
            break
        if not child["is_folder"]:
            raise name_exists("An item in the path is a file, not a folder.")
        parent, names = child, names[1:]
    check_new_names(ctx, parent, names)
    return parent, names[:-1], names[-1]


def check_new_names(ctx: Context, parent: sqlite3.Row, names: list[str], *, below: int = 0) -> None:
    """Refuse names the service refuses, and a path over the limit, counting `below` more
    characters for the deepest path inside an item that is moved or renamed."""
    above = ctx.state.path_of(parent)
    for depth, name in enumerate(names):
        problem = rules.name_problem(name, at_root=not above and depth == 0)
        if problem:
            raise bad_request(problem, inner="invalidPath")
    if rules.path_too_long("/".join(above + names) + "x" * below):
        raise bad_request("Path exceeds maximum length.", inner="pathIsTooLong")


def deepest_below(ctx: Context, item: sqlite3.Row) -> int:
    """Characters the longest path inside `item` adds to the item's own path ('/' included)."""
    row = ctx.state.db.execute(
        "WITH RECURSIVE tree(id, length) AS (SELECT id, 0 FROM items WHERE id = ?"
        " UNION ALL SELECT items.id, tree.length + 1 + length(items.name) FROM items"
        " JOIN tree ON items.parent_id = tree.id WHERE items.deleted IS NULL)"
        " SELECT max(length) FROM tree",
        (item["id"],),
    ).fetchone()
    return row[0] or 0


def make_folders(ctx: Context, parent: sqlite3.Row, names: list[str]) -> sqlite3.Row:
    for name in names:
        parent = ctx.state.create_item(parent["drive_id"], parent["id"], name, folder=True)
    return parent


def free_name(ctx: Context, parent_id: str, name: str) -> str:
    """The name the service picks under conflictBehavior=rename: `report 1.docx`, then 2, ..."""
    stem, dot, extension = name.rpartition(".")
    if not stem:
        stem, dot, extension = name, "", ""
    number = 1
    while True:
        candidate = f"{stem} {number}{dot}{extension}"
        if ctx.state.child(parent_id, candidate) is None:
            return candidate
        number += 1


# Rendering


def item_json(ctx: Context, item: sqlite3.Row) -> dict:
    names = ctx.state.path_of(item)
    reference = {
        "driveId": item["drive_id"],
        "driveType": "business",
        "siteId": ctx.state.composite_site_id(item["drive_id"]),
    }
    if item["parent_id"] is not None:
        reference["id"] = item["parent_id"]
        reference["path"] = f"/drives/{item['drive_id']}/root:" + "".join(
            "/" + name for name in names[:-1]
        )
    body = {
        "id": item["id"],
        "name": item["name"],
        "size": item["size"],
        "createdDateTime": item["created"],
        "lastModifiedDateTime": item["modified"],
        "eTag": f'"{{{item["id"]}}},{item["version"]}"',
        "webUrl": f"{ctx.base_url}/personal/Documents/" + "/".join(names),
        "createdBy": {"application": {"displayName": "hdrive-migrate local tenant"}},
        "lastModifiedBy": {"application": {"displayName": "hdrive-migrate local tenant"}},
        "parentReference": reference,
        "fileSystemInfo": {
            "createdDateTime": item["fs_created"],
            "lastModifiedDateTime": item["fs_modified"],
        },
    }
    if item["parent_id"] is None:
        body["root"] = {}
    if item["is_folder"]:
        body["folder"] = {"childCount": ctx.state.child_count(item["id"])}
        return body
    body["cTag"] = f'"c:{{{item["id"]}}},{item["version"]}"'
    body["file"] = {
        "mimeType": mimetypes.guess_type(item["name"])[0] or "application/octet-stream",
        "hashes": {"quickXorHash": item["quick_xor"]},
    }
    body["@microsoft.graph.downloadUrl"] = download_url(ctx, item)
    return body


def download_url(ctx: Context, item: sqlite3.Row) -> str:
    token = ctx.state.sign("download:" + item["id"])
    return f"{ctx.base_url}/_download/{item['id']}?tempauth={token}"


# Handlers


def get_item(ctx: Context, request: web.Request, address: Address) -> web.Response:
    return json_response(item_json(ctx, resolve(ctx, address)))


def list_children(ctx: Context, request: web.Request, address: Address) -> web.Response:
    folder = resolve(ctx, address)
    if not folder["is_folder"]:
        raise bad_request("The item is not a folder.")
    top = page_size(request.query.get("$top"))
    offset = skip_offset(request.query.get("$skiptoken"))
    rows = ctx.state.children(folder["id"], offset, top + 1)
    body: dict = {"value": [item_json(ctx, row) for row in rows[:top]]}
    if len(rows) > top:
        token = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        url = f"{ctx.base_url}/{ctx.api}/drives/{folder['drive_id']}/items/{folder['id']}/children"
        body["@odata.nextLink"] = f"{url}?$top={top}&$skiptoken={token}"
    return json_response(body)


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    if not value.isdigit() or int(value) < 1:
        raise GraphError(
            400, "invalidRequest", f"Invalid $top value '{value}'.", inner="invalidQueryOption"
        )
    return min(int(value), MAX_PAGE)


def skip_offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise GraphError(
            400, "invalidRequest", "Invalid $skiptoken.", inner="invalidQueryOption"
        ) from exc


async def create_folder(ctx: Context, request: web.Request, address: Address) -> web.Response:
    parent = resolve(ctx, address)
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or "folder" not in body:
        raise bad_request("Give a name and a folder facet; files are created with PUT content.")
    check_new_names(ctx, parent, [name])
    conflict = conflict_behaviour(body, dict(request.query), default="fail")
    with ctx.state.transaction():
        existing = ctx.state.child(parent["id"], name)
        if existing is not None:
            if conflict == "fail":
                raise name_exists()
            if conflict == "rename":
                name = free_name(ctx, parent["id"], name)
                check_new_names(ctx, parent, [name])
            else:
                ctx.state.delete_item(existing)
        times = file_system_times(body.get("fileSystemInfo"))
        folder = ctx.state.create_item(
            parent["drive_id"], parent["id"], name, folder=True, fs_times=times
        )
    return json_response(item_json(ctx, folder), status=201)


async def patch_item(ctx: Context, request: web.Request, address: Address) -> web.Response:
    item = resolve(ctx, address)
    body = await read_json(request)
    if item["parent_id"] is None:
        raise GraphError(403, "accessDenied", "The root of a drive cannot be changed.")
    if "name" in body and not isinstance(body["name"], str):
        raise bad_request("name must be a string.")
    changes: dict = {}
    with ctx.state.transaction():
        parent_id = item["parent_id"]
        if isinstance(body.get("parentReference"), dict) and body["parentReference"].get("id"):
            parent_id = moved_parent(ctx, item, body["parentReference"]["id"])
            changes["parent_id"] = parent_id
        if "name" in body and body["name"] != item["name"]:
            changes["name"] = body["name"]
        if changes:
            renamed_to = changes.get("name", item["name"])
            parent = ctx.state.item(item["drive_id"], parent_id)
            check_new_names(ctx, parent, [renamed_to], below=deepest_below(ctx, item))
            clash = ctx.state.child(parent_id, renamed_to)
            if clash is not None and clash["id"] != item["id"]:
                raise name_exists()
        created, modified = file_system_times(body.get("fileSystemInfo"))
        changes.update({k: v for k, v in (("fs_created", created), ("fs_modified", modified)) if v})
        if changes:
            item = ctx.state.update_item(item["id"], **changes)
    return json_response(item_json(ctx, item))


def moved_parent(ctx: Context, item: sqlite3.Row, parent_id: str) -> str:
    parent = ctx.state.item(item["drive_id"], parent_id)
    if parent is None or not parent["is_folder"]:
        raise not_found("The destination folder could not be found.")
    if item["id"] in {parent["id"], *ancestor_ids(ctx, parent)}:
        raise bad_request("An item cannot be moved into itself.")
    return parent_id


def ancestor_ids(ctx: Context, item: sqlite3.Row) -> list[str]:
    ids = []
    while item["parent_id"] is not None:
        ids.append(item["parent_id"])
        item = ctx.state.db.execute(
            "SELECT * FROM items WHERE id=?", (item["parent_id"],)
        ).fetchone()
    return ids


def delete_item(ctx: Context, request: web.Request, address: Address) -> web.Response:
    item = resolve(ctx, address)
    if item["parent_id"] is None:
        raise GraphError(403, "accessDenied", "The root of a drive cannot be deleted.")
    with ctx.state.transaction():
        ctx.state.delete_item(item)
    return web.Response(status=204)


def redirect_to_content(ctx: Context, request: web.Request, address: Address) -> web.Response:
    item = resolve(ctx, address)
    if item["is_folder"]:
        raise bad_request("A folder has no content to download.")
    return web.Response(status=302, headers={"Location": download_url(ctx, item)})


def serve_download(ctx: Context, request: web.Request, item_id: str) -> web.StreamResponse:
    """The pre-authenticated download URL: no Authorization needed, Range honoured."""
    if not ctx.state.signature_ok("download:" + item_id, request.query.get("tempauth", "")):
        raise GraphError(401, "unauthenticated", "The download token is not valid.")
    row = ctx.state.db.execute(
        "SELECT * FROM items WHERE id=? AND deleted IS NULL", (item_id,)
    ).fetchone()
    if row is None or row["is_folder"]:
        raise not_found()
    return web.FileResponse(ctx.state.content_path(item_id))


async def set_retention_label(
    ctx: Context, request: web.Request, address: Address, known_labels: frozenset[str]
) -> web.Response:
    item = resolve(ctx, address)
    name = (await read_json(request)).get("name")
    if not isinstance(name, str) or name not in known_labels:
        raise bad_request(f"The retention label '{name}' is not published in this tenant.")
    first_time = item["label"] is None
    with ctx.state.transaction():
        item = ctx.state.update_item(item["id"], label=name, label_applied=utc_now_text())
    return json_response(label_json(item), status=201 if first_time else 200)


def get_retention_label(ctx: Context, request: web.Request, address: Address) -> web.Response:
    item = resolve(ctx, address)
    if item["label"] is None:
        raise not_found("The item has no retention label.")
    return json_response(label_json(item))


def label_json(item: sqlite3.Row) -> dict:
    return {
        "name": item["label"],
        "isLabelAppliedExplicitly": True,
        "labelAppliedDateTime": item["label_applied"],
        "labelAppliedBy": {"application": {"displayName": "hdrive-migrate local tenant"}},
        "retentionSettings": {
            "behaviorDuringRetentionPeriod": "retain",
            "isDeleteAllowed": False,
            "isRecordLocked": False,
            "isMetadataUpdateAllowed": True,
            "isContentUpdateAllowed": True,
            "isLabelUpdateAllowed": True,
        },
    }
