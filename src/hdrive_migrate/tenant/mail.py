"""Mail: sendMail from a user's mailbox, and the Sent Items folder it saves to.

As Microsoft documents `user: sendMail`: POST /users/{id | userPrincipalName}/sendMail with a
`message` (subject, body, toRecipients...) and `saveToSentItems` (default true) answers 202
Accepted with an empty body. No recipient at all is 400 ErrorInvalidRecipients; a mailbox
user the directory does not know is 404 ErrorInvalidUser. Nothing is delivered: the message
is kept in the sender's Sent Items, readable at GET /users/{id}/mailFolders/sentitems/messages
as Graph lists messages (newest first, 10 a page unless $top says, @odata.nextLink).
"""

import json
import secrets
import uuid

from aiohttp import web

from .addressing import Address
from .errors import GraphError
from .items import Context, json_response, read_json
from .state import utc_now_text

SENT_ITEMS = "sentitems"  # the well-known folder name; Graph accepts any case
DEFAULT_PAGE = 10
MAX_PAGE = 1000
RECIPIENT_FIELDS = ("toRecipients", "ccRecipients", "bccRecipients")


def mailbox_user(ctx: Context, address: Address):
    user = ctx.state.user(address.user or "")
    if user is None:
        raise GraphError(
            404, "ErrorInvalidUser", f"The requested user '{address.user}' is invalid."
        )
    return user


async def send_mail(ctx: Context, request: web.Request, address: Address) -> web.Response:
    sender = mailbox_user(ctx, address)
    body = await read_json(request)
    message = body.get("message")
    if not isinstance(message, dict):
        raise GraphError(400, "ErrorInvalidParameter", "The message parameter is missing.")
    recipients = [
        entry for field in RECIPIENT_FIELDS for entry in _recipients(message.get(field), field)
    ]
    if not recipients:
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid., A message can't be sent because it contains"
            " no recipients.",
        )
    if body.get("saveToSentItems", True) not in (False, "false"):
        ctx.state.save_message(sender["id"], SENT_ITEMS, json.dumps(_sent(message, sender)))
    return web.Response(status=202)


def _recipients(value: object, field: str) -> list[dict]:
    if value is None:
        return []
    valid = isinstance(value, list) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("emailAddress"), dict)
        and isinstance(entry["emailAddress"].get("address"), str)
        and "@" in entry["emailAddress"]["address"]
        for entry in value
    )
    if not valid:
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            f"At least one recipient is not valid., Recipient in {field} isn't resolved. All"
            " recipients must be resolved before a message can be submitted.",
        )
    return value


def _sent(message: dict, sender) -> dict:
    """The message as Sent Items holds it: the service's own id, times and sender."""
    now = utc_now_text()
    body = message.get("body") if isinstance(message.get("body"), dict) else {}
    author = {"emailAddress": {"name": sender["display_name"], "address": sender["upn"]}}
    return {
        "id": "AAMk" + secrets.token_urlsafe(48),
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "sentDateTime": now,
        "internetMessageId": f"<{uuid.uuid4().hex}@local.tenant>",
        "subject": str(message.get("subject") or ""),
        "body": {
            "contentType": "html" if str(body.get("contentType", "")).lower() == "html" else "text",
            "content": str(body.get("content") or ""),
        },
        "from": author,
        "sender": author,
        "toRecipients": message.get("toRecipients") or [],
        "ccRecipients": message.get("ccRecipients") or [],
        "bccRecipients": message.get("bccRecipients") or [],
        "isDraft": False,
        "isRead": True,
    }


def list_messages(ctx: Context, request: web.Request, address: Address) -> web.Response:
    owner = mailbox_user(ctx, address)
    if (address.folder or "").lower() != SENT_ITEMS:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    top = _page_size(request.query.get("$top"))
    skip = int(request.query["$skip"]) if request.query.get("$skip", "").isdigit() else 0
    rows = ctx.state.messages(owner["id"], SENT_ITEMS, skip, top + 1)
    base = f"{ctx.base_url}/{ctx.api}/users/{address.user}/mailFolders/{address.folder}/messages"
    body: dict = {
        "@odata.context": f"{ctx.base_url}/{ctx.api}/$metadata#users('{owner['id']}')"
        f"/mailFolders('{address.folder}')/messages",
        "value": [json.loads(row) for row in rows[:top]],
    }
    if len(rows) > top:
        body["@odata.nextLink"] = f"{base}?$top={top}&$skip={skip + top}"
    return json_response(body)


def _page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{value}' of parameter '$top' is invalid."
        )
    return int(value)
