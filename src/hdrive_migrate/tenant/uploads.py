"""Simple uploads and upload sessions, with the chunk rules of driveitem-createuploadsession."""

import base64
import math
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import quickxorhash
from aiohttp import web

from . import rules
from .addressing import Address, UploadAddress
from .errors import GraphError, bad_request, name_exists
from .items import (
    Context,
    check_new_names,
    conflict_behaviour,
    file_system_times,
    free_name,
    item_json,
    json_response,
    make_folders,
    read_json,
    resolve,
    resolve_parent,
)
from .state import utc_now_text

READ_SIZE = 1 << 20
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def expiry_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def session_not_found() -> GraphError:
    return GraphError(
        404, "itemNotFound", "The upload session was not found.", inner="uploadSessionNotFound"
    )


def insufficient_storage() -> GraphError:
    return GraphError(507, "quotaLimitReached", "Insufficient Space Available")


def required_length(request: web.Request) -> int:
    if request.content_length is None:
        raise GraphError(411, "invalidRequest", "Content-Length is required.")
    return request.content_length


async def receive(request: web.Request, target: Path, offset: int, length: int) -> str | None:
    """Write the body at `offset` of `target`; return the QuickXorHash when offset is 0 and the
    body is the whole file. A body shorter than promised (a dropped connection) leaves nothing
    accepted: the caller advances its records only after this returns."""
    hasher = quickxorhash.quickxorhash() if offset == 0 else None
    received = 0
    with target.open("r+b" if target.exists() else "wb") as out:
        out.seek(offset)
        async for piece in request.content.iter_chunked(READ_SIZE):
            received += len(piece)
            if received > length:
                break
            out.write(piece)
            if hasher:
                hasher.update(piece)
    if received != length:
        raise bad_request(
            "The request body length does not match Content-Length.", inner="fragmentLengthMismatch"
        )
    return base64_digest(hasher) if hasher else None


def base64_digest(hasher) -> str:
    return base64.b64encode(hasher.digest()).decode()


def hash_file(path: Path) -> str:
    hasher = quickxorhash.quickxorhash()
    with path.open("rb") as source:
        while piece := source.read(READ_SIZE):
            hasher.update(piece)
    return base64_digest(hasher)


def commit(
    ctx: Context,
    *,
    parent: sqlite3.Row,
    name: str,
    conflict: str,
    data: Path,
    size: int,
    quick_xor: str,
    fs_times: tuple[str | None, str | None],
) -> tuple[int, sqlite3.Row]:
    """Turn received bytes into a file item; (201, item) when created, (200, item) when replaced."""
    existing = ctx.state.child(parent["id"], name)
    status = 201
    if existing is not None:
        if existing["is_folder"] or conflict == "fail":
            raise name_exists("Another file exists with the same name as the uploaded session.")
        if conflict == "rename":
            name, existing = free_name(ctx, parent["id"], name), None
            check_new_names(ctx, parent, [name])
    if existing is None:
        item = ctx.state.create_item(
            parent["drive_id"], parent["id"], name, folder=False, fs_times=fs_times
        )
        return status, ctx.state.store_content(item, data, size, quick_xor)
    # Replacing content moves the file's own modified time unless the client sets it.
    return 200, ctx.state.store_content(
        existing,
        data,
        size,
        quick_xor,
        fs_created=fs_times[0] or existing["fs_created"],
        fs_modified=fs_times[1] or utc_now_text(),
    )


# Simple upload


async def simple_upload(ctx: Context, request: web.Request, address: Address) -> web.Response:
    length = required_length(request)
    if length > rules.MAX_SIMPLE_UPLOAD_BYTES:
        raise GraphError(
            413,
            "invalidRequest",
            "The request is too large for a simple upload; use an upload session.",
            inner="maxFileSizeExceeded",
        )
    conflict = conflict_behaviour(dict(request.query), default="replace")
    if address.relative:
        parent, missing, name = resolve_parent(ctx, address)
    else:
        target = resolve(ctx, address)
        if target["is_folder"]:
            raise bad_request("Content can only be written to a file.")
        parent, missing, name = (
            ctx.state.item(target["drive_id"], target["parent_id"]),
            [],
            target["name"],
        )
    if length > ctx.state.quota_left(parent["drive_id"]):
        raise insufficient_storage()
    staging = ctx.state.data / "sessions" / ("put-" + secrets.token_hex(8))
    try:
        quick_xor = await receive(request, staging, 0, length)
        with ctx.state.transaction():
            parent = make_folders(ctx, parent, missing)
            status, item = commit(
                ctx,
                parent=parent,
                name=name,
                conflict=conflict,
                data=staging,
                size=length,
                quick_xor=quick_xor,
                fs_times=(None, None),
            )
    finally:
        staging.unlink(missing_ok=True)
    return json_response(item_json(ctx, item), status=status)


# Upload sessions


async def create_session(
    ctx: Context, request: web.Request, address: Address, lifetimes: tuple[float, float]
) -> web.Response:
    """A session lives `lifetimes[0]` seconds, extended by each fragment; its URL's own token
    `lifetimes[1]` seconds from now, extended by nothing (about 15 minutes and 24 hours in the
    service: onedrive-api-docs#1073 and #1570)."""
    session_ttl, url_ttl = lifetimes
    body = await read_json(request)
    facet = body.get("item") or {}
    if not isinstance(facet, dict):
        raise bad_request("item must be an object.")
    conflict = conflict_behaviour(facet, body, default="replace")
    if address.relative:
        parent, missing, name = resolve_parent(ctx, address)
    else:
        target = resolve(ctx, address)
        if target["is_folder"]:
            raise bad_request("An upload session writes a file, not a folder.")
        parent, missing, name = (
            ctx.state.item(target["drive_id"], target["parent_id"]),
            [],
            target["name"],
        )
    fs_times = file_system_times(facet.get("fileSystemInfo"))
    now = ctx.clock()
    with ctx.state.transaction():
        refuse_conflicting_session(ctx, parent, name, conflict, now)
        size = facet.get("fileSize")
        if isinstance(size, int) and size > ctx.state.quota_left(parent["drive_id"]):
            raise insufficient_storage()
        parent = make_folders(ctx, parent, missing)
        session = ctx.state.create_session(
            drive_id=parent["drive_id"],
            parent_id=parent["id"],
            name=name,
            conflict=conflict,
            fs_created=fs_times[0],
            fs_modified=fs_times[1],
            expires=now + session_ttl,
            defer_commit=int(bool(body.get("deferCommit"))),
        )
    token = upload_token(ctx, session["id"], math.floor(now + url_ttl))
    return json_response(
        {
            "uploadUrl": f"{ctx.base_url}/_upload/{session['id']}?tempauth={token}",
            "expirationDateTime": expiry_text(session["expires"]),
            "nextExpectedRanges": ["0-"],
        }
    )


def refuse_conflicting_session(
    ctx: Context, parent: sqlite3.Row | None, name: str, conflict: str, now: float
) -> None:
    if parent is None:
        return
    existing = ctx.state.child(parent["id"], name)
    if existing is not None and (existing["is_folder"] or conflict == "fail"):
        raise name_exists()
    # OneDrive for Business refuses a second session for a name while one is open (OD#747).
    if ctx.state.open_session_for(parent["id"], name, now) is not None:
        raise name_exists()


def upload_token(ctx: Context, session_id: str, valid_to: int) -> str:
    """The URL's `tempauth`: its expiry and a signature over session and expiry, so a token
    cannot be stretched, as the service's own carries its validity inside it."""
    return f"{valid_to}.{ctx.state.sign(f'upload:{session_id}:{valid_to}')}"


def check_upload_token(ctx: Context, upload: UploadAddress) -> None:
    valid_to, _, signature = upload.token.partition(".")
    if not valid_to.isdigit() or not ctx.state.signature_ok(
        f"upload:{upload.session_id}:{valid_to}", signature
    ):
        raise GraphError(401, "unauthenticated", "The upload URL's token is not valid.")
    if int(valid_to) <= ctx.clock():
        raise GraphError(
            401,
            "unauthenticated",
            f"The access token has expired. It's valid to '{expiry_text(int(valid_to))}'.",
            inner="expiredToken",
        )


def live_session(ctx: Context, upload: UploadAddress) -> sqlite3.Row:
    """The session an upload URL names: 401 when its token is forged or past its life, 404
    uploadSessionNotFound when the session is unknown, finished, cancelled or expired."""
    check_upload_token(ctx, upload)
    session = ctx.state.session(upload.session_id)
    if session is None:
        raise session_not_found()
    if session["expires"] <= ctx.clock():
        with ctx.state.transaction():
            ctx.state.drop_session(session["id"])
        raise session_not_found()
    return session


def session_status(session: sqlite3.Row, *, closed: bool) -> dict:
    """Ranges as the docs show them after a fragment ("26-"), or closed ("26-99") as the service
    also answers a status query: clients must read both."""
    received, total = session["received"], session["total"]
    if total is not None and received >= total:
        ranges = []
    elif total and closed:
        ranges = [f"{received}-{total - 1}"]
    else:
        ranges = [f"{received}-"]
    return {"expirationDateTime": expiry_text(session["expires"]), "nextExpectedRanges": ranges}


def get_session(ctx: Context, request: web.Request, upload: UploadAddress) -> web.Response:
    return json_response(session_status(live_session(ctx, upload), closed=True))


def cancel_session(ctx: Context, request: web.Request, upload: UploadAddress) -> web.Response:
    session = live_session(ctx, upload)
    with ctx.state.transaction():
        ctx.state.drop_session(session["id"])
    return web.Response(status=204)


async def put_fragment(
    ctx: Context, request: web.Request, upload: UploadAddress, session_ttl: float
) -> web.Response:
    if "Authorization" in request.headers:
        # The docs warn that an Authorization header on the upload URL may get 401; refuse it
        # always, so that a client which sends one finds out here rather than in production.
        raise GraphError(
            401, "unauthenticated", "Do not send an Authorization header to the upload URL."
        )
    session = live_session(ctx, upload)
    start, end, total = fragment_range(request, session)
    if total > ctx.state.quota_left(session["drive_id"]):
        raise insufficient_storage()
    await receive(request, ctx.state.session_data(session["id"]), start, end - start + 1)
    expires = ctx.clock() + session_ttl
    with ctx.state.transaction():
        ctx.state.advance_session(session["id"], total, end + 1, expires)
    session = ctx.state.session(session["id"])
    if end + 1 < total or session["defer_commit"]:
        return json_response(session_status(session, closed=False), status=202)
    return finish_session(ctx, session)


def fragment_range(request: web.Request, session: sqlite3.Row) -> tuple[int, int, int]:
    """Check a fragment against the documented rules before any of its bytes are read."""
    length = required_length(request)
    match = _CONTENT_RANGE.match(request.headers.get("Content-Range", ""))
    if not match:
        raise bad_request("Content-Range must be 'bytes start-end/total'.", inner="invalidRange")
    start, end, total = (int(group) for group in match.groups())
    if end < start or end >= total:
        raise bad_request("The Content-Range is not valid.", inner="invalidRange")
    if length != end - start + 1:
        raise bad_request(
            "Content-Length does not match the Content-Range.", inner="fragmentLengthMismatch"
        )
    if length >= rules.MAX_FRAGMENT_BYTES:
        raise GraphError(
            413,
            "invalidRequest",
            "A fragment must be smaller than 60 MiB.",
            inner="maxFragmentLengthExceeded",
        )
    if total > rules.MAX_FILE_BYTES:
        raise bad_request("The file is larger than 250 GiB.", inner="maxFileSizeExceeded")
    if session["total"] is not None and total != session["total"]:
        raise GraphError(
            400,
            "invalidRange",
            "Declared total size for this fragment is different from that of the upload session.",
            inner="fragmentLengthMismatch",
        )
    if start < session["received"]:
        raise GraphError(
            416,
            "invalidRange",
            "Uploaded fragment overlaps with existing data.",
            inner="fragmentOverlap",
        )
    if start > session["received"]:
        raise GraphError(
            416,
            "invalidRange",
            "The fragment starts after the next expected byte.",
            inner="fragmentOutOfOrder",
        )
    if end + 1 < total and length % rules.CHUNK_MULTIPLE:
        raise GraphError(
            400,
            "invalidRange",
            "A fragment other than the last must be a multiple of 320 KiB (327,680 bytes).",
            inner="invalidRange",
        )
    return start, end, total


async def commit_deferred(
    ctx: Context, request: web.Request, upload: UploadAddress
) -> web.Response:
    session = live_session(ctx, upload)
    if request.content_length:
        raise bad_request("The commit request must have an empty body.")
    if not session["defer_commit"]:
        raise bad_request("The upload session was not created with deferCommit.")
    if session["total"] is None or session["received"] < session["total"]:
        raise bad_request("The upload session is not complete.", inner="uploadSessionIncomplete")
    return finish_session(ctx, session)


def finish_session(ctx: Context, session: sqlite3.Row) -> web.Response:
    data = ctx.state.session_data(session["id"])
    quick_xor = hash_file(data)
    with ctx.state.transaction():
        parent = ctx.state.item(session["drive_id"], session["parent_id"])
        if parent is None:
            raise GraphError(
                404,
                "itemNotFound",
                "The destination folder no longer exists.",
                inner="uploadSessionFailed",
            )
        status, item = commit(
            ctx,
            parent=parent,
            name=session["name"],
            conflict=session["conflict"],
            data=data,
            size=session["total"],
            quick_xor=quick_xor,
            fs_times=(session["fs_created"], session["fs_modified"]),
        )
        ctx.state.drop_session(session["id"])
    return json_response(item_json(ctx, item), status=status)
