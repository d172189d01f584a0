"""The HTTP face of the tenant: routing, authentication, permissions, faults and the request log."""

import json
import random
import time
from collections.abc import Callable
from functools import partial
from typing import IO

from aiohttp import web

from . import changes, directory, items, mail, uploads
from .addressing import Address, parse_graph, parse_upload
from .errors import GraphError
from .faults import FaultPlan, ResourceLedger, resource_units
from .options import TenantOptions
from .state import TenantState

# Application permissions that satisfy each need (Graph permissions reference).
GRANTS = {
    "users.read": {
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    },
    "files.read": {
        "Files.Read.All",
        "Files.ReadWrite.All",
        "Sites.Read.All",
        "Sites.ReadWrite.All",
        "Sites.FullControl.All",
    },
    "files.write": {"Files.ReadWrite.All", "Sites.ReadWrite.All", "Sites.FullControl.All"},
    "mail.send": {"Mail.Send"},
    "mail.read": {"Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"},
}
# Mail is Exchange Online's, throttled by its own limits: SharePoint's resource units do not
# apply to it.
EXCHANGE = "exchange"
DROP_AFTER_BYTES = 64 * 1024


class Dropped(Exception):
    """The tenant closed the connection part-way through a request body, as a fault."""


class Tenant:
    """One local tenant: state plus the behaviour switches of `tenant serve`."""

    def __init__(
        self, options: TenantOptions, state: TenantState, clock: Callable[[], float] = time.time
    ):
        self.options = options
        self.state = state
        self.clock = clock
        self.faults = FaultPlan(
            options.throttle_rate,
            options.retry_after,
            options.error_rate,
            options.drop_rate,
            random.Random(options.seed),
        )
        budgets = (options.quota_ru_per_minute, options.quota_ru_per_day)
        self.ledger = ResourceLedger(*budgets) if any(budgets) else None
        self.log: IO[str] | None = None

    def application(self, log: IO[str]) -> web.Application:
        self.log = log
        app = web.Application(middlewares=[self.log_request], client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    @web.middleware
    async def log_request(self, request: web.Request, handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 0
        try:
            response = await handler(request)
            status = response.status
            return response
        except Dropped:
            # The connection is gone; there is nobody to answer.
            return web.Response(status=499)
        finally:
            record = {
                "ts": round(time.time(), 3),
                "method": request.method,
                # The query is left out: upload and download URLs carry their token there.
                "path": request.raw_path.split("?", 1)[0],
                "status": status,
                "bytes": request.content.total_bytes,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "user_agent": request.headers.get("User-Agent", ""),
            }
            self.log.write(json.dumps(record) + "\n")

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            handler, permission, kind = self.route(request)
            headers = self.admit(request, permission, kind)
            if request.content_length and self.faults.should_drop():
                await self.drop(request)
            response = await handler()
            response.headers.update(headers)
            return response
        except GraphError as error:
            return error_response(error)

    def context(self, request: web.Request, api: str = "v1.0") -> items.Context:
        return items.Context(self.state, self.clock, f"{request.scheme}://{request.host}", api)

    def route(self, request: web.Request) -> tuple[Callable, str | None, str]:
        """(handler, permission needed or None for pre-authenticated URLs, kind of request for
        its resource units)."""
        raw_path = request.raw_path.split("?", 1)[0]
        method = request.method
        if upload := parse_upload(raw_path, request.query):
            ctx = self.context(request)
            handlers = {
                "PUT": partial(
                    uploads.put_fragment, ctx, request, upload, self.options.session_ttl
                ),
                "GET": partial(async_of, uploads.get_session, ctx, request, upload),
                "DELETE": partial(async_of, uploads.cancel_session, ctx, request, upload),
                "POST": partial(uploads.commit_deferred, ctx, request, upload),
            }
            return self.pick(handlers, method), None, UPLOAD_URL_KINDS.get(method, "write")
        if raw_path.startswith("/_download/") and method in ("GET", "HEAD"):
            item_id = raw_path.removeprefix("/_download/")
            handler = partial(
                async_of, items.serve_download, self.context(request), request, item_id
            )
            return handler, None, "download"
        address = parse_graph(raw_path)
        return self.graph_route(request, address)

    def graph_route(self, request: web.Request, address: Address) -> tuple[Callable, str, str]:
        ctx = self.context(request, address_api(request))
        method = request.method
        if address.kind in ("users", "user"):
            handler = directory.list_users if address.kind == "users" else directory.get_user
            handlers = {"GET": partial(async_of, handler, ctx, request, address)}
            return self.pick(handlers, method), "users.read", read_kind(address.kind == "users")
        if address.kind == "drive":
            handlers = {"GET": partial(async_of, directory.get_drive, ctx, request, address)}
            return self.pick(handlers, method), "files.read", "read"
        if address.kind == "sendMail":
            handlers = {"POST": partial(mail.send_mail, ctx, request, address)}
            return self.pick(handlers, method), "mail.send", EXCHANGE
        if address.kind == "messages":
            handlers = {"GET": partial(async_of, mail.list_messages, ctx, request, address)}
            return self.pick(handlers, method), "mail.read", EXCHANGE
        if address.kind == "recycleBin":
            handlers = {"GET": partial(async_of, changes.list_recycle_bin, ctx, request, address)}
            return self.pick(handlers, method), "files.read", "list"
        routes = item_routes(ctx, request, address, self.options)
        handler = self.pick(routes.get(address.action, {}), method)
        permission = "files.read" if method in ("GET", "HEAD") else "files.write"
        return handler, permission, item_kind(request, address)

    @staticmethod
    def pick(handlers: dict[str, Callable], method: str) -> Callable:
        if method not in handlers:
            raise GraphError(405, "notSupported", f"The method {method} is not supported here.")
        return handlers[method]

    def admit(self, request: web.Request, permission: str | None, kind: str) -> dict:
        """Authentication, permissions, the resource-unit ledger and chance faults, in the order
        the service applies them. Returns headers to add to a successful response."""
        if permission is not None:
            authenticate(request)
            self.authorise(permission)
        headers = {}
        if self.ledger is not None and kind != EXCHANGE:
            if "permissions" in request.query.get("$expand", ""):
                kind = "permissions"
            headers = self.ledger.charge(resource_units(kind))
        fault = self.faults.fault_for()
        if fault is not None:
            raise fault
        return headers

    def authorise(self, permission: str) -> None:
        granted = self.options.app_permissions
        if granted is None or granted & GRANTS[permission]:
            return
        if permission == "users.read":
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if permission.startswith("mail."):
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        raise GraphError(
            403,
            "accessDenied",
            "Access denied. The app lacks the permission "
            + " or ".join(sorted(GRANTS[permission]))
            + ".",
        )

    async def drop(self, request: web.Request) -> None:
        """Take part of the body, then close the connection without answering."""
        await request.content.read(DROP_AFTER_BYTES)
        request.transport.abort()
        raise Dropped


# What a request to an upload URL is, for its resource units (see RESOURCE_UNITS in faults.py).
UPLOAD_URL_KINDS = {"PUT": "upload", "GET": "read", "DELETE": "write", "POST": "write"}


def read_kind(listing: bool) -> str:
    return "list" if listing else "read"


def item_kind(request: web.Request, address: Address) -> str:
    """The resource-unit kind of a request on a driveItem."""
    method, action = request.method, address.action
    if method not in ("GET", "HEAD"):
        return "upload" if action == "content" else "write"
    if action == "delta":
        with_token = address.token is not None or "token" in request.query
        return "delta-with-token" if with_token else "delta"
    if action == "content":
        return "download"
    return read_kind(action == "children")


def item_routes(ctx, request, address: Address, options: TenantOptions) -> dict[str, dict]:
    def sync(function, *extra):
        return partial(async_of, function, ctx, request, address, *extra)

    def coro(function, *extra):
        return partial(function, ctx, request, address, *extra)

    return {
        "": {
            "GET": sync(items.get_item),
            "PATCH": coro(items.patch_item),
            "DELETE": sync(items.delete_item),
        },
        "children": {"GET": sync(items.list_children), "POST": coro(items.create_folder)},
        "content": {"GET": sync(items.redirect_to_content), "PUT": coro(uploads.simple_upload)},
        "createUploadSession": {
            "POST": coro(uploads.create_session, (options.session_ttl, options.upload_url_ttl))
        },
        "delta": {"GET": sync(changes.delta)},
        "retentionLabel": {
            "PATCH": coro(items.set_retention_label, options.retention_labels),
            "GET": sync(items.get_retention_label),
        },
    }


async def async_of(function, *args):
    return function(*args)


def address_api(request: web.Request) -> str:
    return request.raw_path[1:5]


def authenticate(request: web.Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
        )


def error_response(error: GraphError) -> web.Response:
    if error.status in (502, 504):
        # Gateways answer with their own plain body, not a Graph error object.
        return web.Response(status=error.status, text=error.message, headers=error.headers)
    return web.Response(
        status=error.status,
        body=error.body(),
        headers=error.headers,
        content_type="application/json",
    )
