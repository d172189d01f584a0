"""What changed in a drive, and what was deleted from it: driveItem delta and the recycle bin.

Sources: driveitem-delta (v1.0; OneDrive for Business has answered delta on any folder, not only
the root, since 2021: microsoft-graph-docs#13035), recyclebin-list-items and recycleBinItem (v1.0,
2024-12). A user's OneDrive is a personal SharePoint site, so its bin is the site's:
`GET /sites/{site-id}/recycleBin/items`, with the site id from the drive's `sharePointIds` or an
item's `parentReference.siteId`. Graph documents no restore for a site's bin (driveItem restore
is OneDrive Personal only), so the tenant offers none.
"""

import base64
import json
import sqlite3
from urllib.parse import quote

from aiohttp import web

from .addressing import Address
from .errors import GraphError, bad_request, not_found
from .items import Context, item_json, json_response, page_size, resolve, skip_offset
from .state import personal_site

LATEST = "latest"


# Delta
#
# Every write to an item stamps it with its drive's next change number. A token names the change
# number the client has seen (`since`; 0 for a first, full enumeration), the number current when
# the round began (`upto`: the deltaLink's `since`), and where the page stopped, as (path, id):
# a keyset, so deletes and creations during the round shift nothing. An item written meanwhile
# may come twice (the docs allow it); none is missed, as its change number is above `upto`.


def delta_token(since: int, upto: int, after: tuple[str, str] = ("", "")) -> str:
    raw = json.dumps([since, upto, *after], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str) -> tuple[int, int, tuple[str, str]]:
    try:
        since, upto, path, item_id = json.loads(base64.urlsafe_b64decode(token + "==="))
    except ValueError as exc:
        raise ValueError("not a delta token") from exc
    if not (isinstance(since, int) and isinstance(upto, int) and since >= 0 and upto >= since):
        raise ValueError("not a delta token")
    return since, upto, (str(path), str(item_id))


def delta(ctx: Context, request: web.Request, address: Address) -> web.Response:
    folder = resolve(ctx, address)
    if not folder["is_folder"]:
        raise bad_request("delta is only supported on folders.")
    link = delta_link_base(ctx, folder)
    token = address.token if address.token is not None else request.query.get("token")
    top = page_size(request.query.get("$top"))
    latest = ctx.state.last_change(folder["drive_id"])
    if token == LATEST:
        return json_response({"value": [], "@odata.deltaLink": link(delta_token(latest, latest))})
    if token is None:
        since, upto, after = 0, latest, ("", "")
    else:
        try:
            since, upto, after = read_token(token)
        except ValueError:
            raise resync_required(link(None)) from None
        if after == ("", ""):
            upto = latest  # a deltaLink: a new round starts now
    rows = ctx.state.changes_below(folder["id"], since, after, top + 1)
    body: dict = {"value": [delta_json(ctx, row) for row in rows[:top]]}
    if len(rows) > top:
        last = rows[top - 1]
        following = link(delta_token(since, upto, (last["path"], last["id"])))
        # The page size asked for holds for the rest of the round.
        body["@odata.nextLink"] = following + (f"&$top={top}" if "$top" in request.query else "")
    else:
        body["@odata.deltaLink"] = link(delta_token(upto, upto))
    return json_response(body)


def delta_link_base(ctx: Context, folder: sqlite3.Row):
    url = f"{ctx.base_url}/{ctx.api}/drives/{folder['drive_id']}/items/{folder['id']}/delta"
    return lambda token: url if token is None else f"{url}?token={quote(token)}"


def resync_required(fresh_start: str) -> GraphError:
    """The documented answer to a token the service cannot continue from: 410 with a Location
    that starts a new enumeration."""
    return GraphError(
        410,
        "resyncRequired",
        "The delta token is not valid; enumerate again from the Location given.",
        inner="resyncChangesApplyDifferences",
        headers={"Location": fresh_start},
    )


def delta_json(ctx: Context, row: sqlite3.Row) -> dict:
    """A driveItem as OneDrive for Business puts it in a delta feed: no cTag, no
    parentReference.path (clients track items by id), and a deleted item with neither its name."""
    if row["deleted"] is not None:
        body = {
            "id": row["id"],
            "deleted": {"state": "deleted"},
            "parentReference": {"driveId": row["drive_id"], "driveType": "business"},
            "folder" if row["is_folder"] else "file": {},
        }
        if row["parent_id"] is not None:
            body["parentReference"]["id"] = row["parent_id"]
        return body
    body = item_json(ctx, row)
    body.pop("cTag", None)
    body["parentReference"].pop("path", None)
    return body


# The recycle bin


def list_recycle_bin(ctx: Context, request: web.Request, address: Address) -> web.Response:
    drive = ctx.state.drive_of_site(address.site or "")
    if drive is None:
        raise not_found("The site could not be found.")
    top = page_size(request.query.get("$top"))
    offset = skip_offset(request.query.get("$skiptoken"))
    rows = ctx.state.recycle_bin(drive["id"], offset, top + 1)
    body: dict = {
        "@odata.context": f"{ctx.base_url}/{ctx.api}/$metadata#Collection(microsoft.graph"
        ".recycleBinItem)",
        "value": [bin_item_json(ctx, drive, row) for row in rows[:top]],
    }
    if len(rows) > top:
        token = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        url = f"{ctx.base_url}/{ctx.api}/sites/{quote(address.site or '', safe=',')}"
        body["@odata.nextLink"] = f"{url}/recycleBin/items?$top={top}&$skiptoken={token}"
    return json_response(body)


def bin_item_json(ctx: Context, drive: sqlite3.Row, row: sqlite3.Row) -> dict:
    folder = ctx.state.path_of(row)[:-1]
    return {
        "id": row["bin_id"],
        "name": row["name"],
        "title": row["name"],
        "size": ctx.state.bytes_in_bin_entry(row),
        "deletedDateTime": row["deleted"],
        "deletedFromLocation": "/".join([personal_site(drive["upn"]), "Documents", *folder]),
        "deletedBy": {"application": {"displayName": "hdrive-migrate local tenant"}},
    }
