"""Users and drives: the directory side of Graph that a migration needs."""

import base64
import re
import sqlite3

from aiohttp import web

from .addressing import Address
from .errors import GraphError
from .items import Context, drive_of, json_response
from .state import personal_site

DEFAULT_USERS_PAGE = 100
MAX_USERS_PAGE = 999
USER_FIELDS = {
    "id": "id",
    "userPrincipalName": "upn",
    "displayName": "display_name",
    "mail": "upn",
    "onPremisesSamAccountName": "sam",
}
DEFAULT_USER_FIELDS = ("id", "userPrincipalName", "displayName", "mail")
# Properties Graph filters only as an "advanced query" (ConsistencyLevel: eventual and $count).
ADVANCED_FILTER_PROPERTIES = frozenset(["onPremisesSamAccountName"])
_EQUALS = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$")


def unsupported_query(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def user_json(user: sqlite3.Row, select: str | None) -> dict:
    fields = select.split(",") if select else DEFAULT_USER_FIELDS
    unknown = [field for field in fields if field not in USER_FIELDS]
    if unknown:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.user'.",
        )
    return {field: user[USER_FIELDS[field]] for field in fields}


def get_user(ctx: Context, request: web.Request, address: Address) -> web.Response:
    user = ctx.state.user(address.user or "")
    if user is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{address.user}' does not exist or one of its queried"
            " reference-property objects are not present.",
        )
    body = {"@odata.context": f"{ctx.base_url}/{ctx.api}/$metadata#users/$entity"}
    return json_response(body | user_json(user, request.query.get("$select")))


def list_users(ctx: Context, request: web.Request, address: Address) -> web.Response:
    query = request.query
    advanced = (
        query.get("$count") == "true"
        and request.headers.get("ConsistencyLevel", "").lower() == "eventual"
    )
    users = ctx.state.users()
    if "$filter" in query:
        users = filtered(users, query["$filter"], advanced)
    top = users_page_size(query.get("$top"))
    offset = (
        int(base64.urlsafe_b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
    )
    body: dict = {"@odata.context": f"{ctx.base_url}/{ctx.api}/$metadata#users"}
    if advanced:
        body["@odata.count"] = len(users)
    body["value"] = [user_json(user, query.get("$select")) for user in users[offset : offset + top]]
    if offset + top < len(users):
        token = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        body["@odata.nextLink"] = f"{ctx.base_url}/{ctx.api}/users?$top={top}&$skiptoken={token}"
    return json_response(body)


def filtered(users: list[sqlite3.Row], expression: str, advanced: bool) -> list[sqlite3.Row]:
    match = _EQUALS.match(expression)
    if not match or match[1] not in USER_FIELDS:
        raise unsupported_query("Unsupported or invalid query filter clause specified.")
    field, value = match[1], match[2].replace("''", "'")
    if field in ADVANCED_FILTER_PROPERTIES and not advanced:
        raise unsupported_query(
            f"Unsupported or invalid query filter clause specified for property '{field}' of"
            " resource 'User'."
        )
    column = USER_FIELDS[field]
    return [user for user in users if (user[column] or "").lower() == value.lower()]


def users_page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_USERS_PAGE
    if not value.isdigit() or not 1 <= int(value) <= MAX_USERS_PAGE:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{value}'. Must be between 1 and 999 inclusive.",
        )
    return int(value)


def get_drive(ctx: Context, request: web.Request, address: Address) -> web.Response:
    drive = drive_of(ctx, address)
    body = drive_json(ctx, drive)
    select = request.query.get("$select")
    if select is None:
        return json_response(body)
    # sharePointIds, as Graph documents it, comes only when $select asks for it.
    body["sharePointIds"] = sharepoint_ids(ctx, drive)
    fields = {name.strip() for name in select.split(",")} | {"id"}
    return json_response({key: value for key, value in body.items() if key in fields})


def sharepoint_ids(ctx: Context, drive: sqlite3.Row) -> dict:
    site, web_id = ctx.state.site_ids(drive["id"])
    return {
        "siteId": site,
        "webId": web_id,
        "siteUrl": f"{ctx.base_url}/{personal_site(drive['upn'])}",
    }


def drive_json(ctx: Context, drive: sqlite3.Row) -> dict:
    used, deleted, total = drive["used"], drive["deleted"], drive["quota_total"]
    remaining = max(0, total - used - deleted)
    return {
        "id": drive["id"],
        "driveType": "business",
        "name": "OneDrive",
        "createdDateTime": drive["created"],
        "owner": {
            "user": {
                "id": drive["owner_id"],
                "displayName": drive["display_name"],
                "email": drive["upn"],
            }
        },
        "quota": {
            "total": total,
            "used": used,
            "deleted": deleted,
            "remaining": remaining,
            "state": quota_state(remaining, total),
        },
        "webUrl": f"{ctx.base_url}/personal/Documents",
    }


def quota_state(remaining: int, total: int) -> str:
    if remaining <= 0:
        return "exceeded"
    if remaining < total * 0.01:
        return "critical"
    if remaining < total * 0.1:
        return "nearing"
    return "normal"
