"""Graph failures as our own exceptions, decided in one place.

`classify` is the single, pure decision about a Graph answer (modelled on rclone's onedrive
`shouldRetry`); `from_response`, `from_api_error` and `from_transport_error` translate what
httpx and the SDK raise into the exceptions below, and `translated()` applies them at the
boundary with `raise ... from exc`. No httpx, kiota or azure exception leaves the graph package.
"""

import email.utils
import json
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_error import APIError

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.errors import HdriveError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 509})
THROTTLE_STATUSES = frozenset({429, 503, 509})
# Inner codes saying the upload session itself is gone or broken: only a new session helps.
SESSION_LOST_CODES = frozenset({"uploadSessionNotFound", "uploadSessionFailed"})
QUOTA_CODES = frozenset({"quotaLimitReached", "insufficientStorage"})

_SECONDS = re.compile(r"\d+(\.\d+)?")


class Verdict(Enum):
    """What the caller should do about a failed request."""

    RETRY = "retry"  # send it again after `delay`, or after the caller's backoff when None
    REFRESH_AUTH = "refresh-auth"  # get a fresh token and send once more; a second 401 is fatal
    RESTART_FILE = "restart-file"  # the upload session is gone: upload the file from the start
    FILE_FAILURE = "file-failure"  # this file cannot go as it is; record it and carry on
    FATAL = "fatal"  # stop work on this drive


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    delay: float | None = None  # seconds the service asked us to wait, when it said


class GraphError(HdriveError):
    """A failed Graph request: what the service said, and what to do about it."""

    def __init__(
        self,
        what: str,
        *,
        fix: str,
        where: str | None = None,
        status: int | None = None,
        code: str | None = None,
        inner_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(what, fix=fix, where=where)
        self.status = status
        self.code = code
        self.inner_code = inner_code
        self.request_id = request_id


class Transient(GraphError):
    """Send the same request again after the caller's backoff (5xx, connection errors)."""


class RetryAfter(Transient):
    """Send the same request again after `seconds`, as the service asked (429, 503)."""

    def __init__(self, what: str, *, seconds: float, fix: str, **kwargs: object) -> None:
        super().__init__(what, fix=fix, **kwargs)
        self.seconds = seconds


class FileFailure(GraphError):
    """This file cannot be uploaded as it is (bad name, path too long, name taken); never
    retried as it stands."""


class RestartFile(FileFailure):
    """The upload session is gone (404, expired URL): the file may be uploaded again from the
    start; a caller that does not restart treats it as a FileFailure."""


class Fatal(GraphError):
    """Work on this drive cannot go on (missing permission, quota, configuration)."""


class Unauthorized(Fatal):
    """401: a caller may fetch a fresh token and try once more; otherwise it is fatal."""


class QuotaFull(Fatal):
    """507 or a quota code: this user's OneDrive has no room left; other users carry on."""


class NoDrive(Fatal):
    """The user has no OneDrive (not provisioned, or no such user): a user-level block."""


RETRYABLE: tuple[type[GraphError], ...] = (Transient,)

_FIX_TRANSIENT = (
    "nothing, if it passes: hdrive-migrate retries; if it persists, check the service health "
    "page, the network and any proxy"
)
_FIX_PERMISSION = (
    "grant the app registration the Microsoft Graph application permissions User.Read.All and "
    "Files.ReadWrite.All, grant admin consent, then run `hdrive-migrate tenant check`"
)
_FIX_UNAUTHORIZED = (
    "check [graph] tenant_id, client_id and the certificate or HDRIVE_CLIENT_SECRET, and that "
    "the credential has not expired; `hdrive-migrate tenant check` tests them"
)
_FIX_QUOTA = (
    "free space in this user's OneDrive or raise its storage limit in the SharePoint admin "
    "centre, then resume"
)
_FIX_BY_CODE = {
    "pathIsTooLong": "shorten folder or file names so the OneDrive path stays within 400 "
    "characters",
    "nameAlreadyExists": "an item of that name already exists in the folder; rename one of them",
    "invalidRequest": "rename the file or folder to a name OneDrive accepts",
}
_FIX_FILE = "see the message; this file was not uploaded and the rest carry on"


def classify(
    status: int | None,
    code: str | None,
    inner_code: str | None,
    headers: Mapping[str, str],
    now: datetime,
    *,
    upload_session: bool = False,
) -> Classification:
    """Decide what to do about a failed request. Pure: no I/O, no clock.

    STATUS is None when no HTTP answer came (connection refused, reset, timeout). CODE and
    INNER_CODE are the error body's `code` and innermost `innerError.code`. HEADERS are the
    response headers (any case); NOW, timezone-aware, dates an HTTP-date Retry-After.
    UPLOAD_SESSION says the request went to an upload session's URL, which carries its own
    token: a 404 or 401 there means the session is lost, not the item or our token.
    """
    codes = {code, inner_code}
    if status is None:
        return Classification(Verdict.RETRY)
    if status in RETRY_STATUSES:
        return Classification(Verdict.RETRY, server_delay(headers, now))
    if (upload_session and status in (401, 404)) or codes & SESSION_LOST_CODES:
        return Classification(Verdict.RESTART_FILE)
    if status == 401:
        return Classification(Verdict.REFRESH_AUTH)
    if status in (403, 507) or codes & QUOTA_CODES:
        return Classification(Verdict.FATAL)
    # Everything else (400 invalid names and pathIsTooLong, 409 nameAlreadyExists, 413, ...)
    # is about this one request: retrying it unchanged would fail the same way.
    return Classification(Verdict.FILE_FAILURE)


def server_delay(headers: Mapping[str, str], now: datetime) -> float | None:
    """The larger of Retry-After and RateLimit-Reset in seconds, or None when neither parses."""
    lower = {key.lower(): value for key, value in headers.items()}
    delays = [
        parse_retry_after(lower[name], now)
        for name in ("retry-after", "ratelimit-reset")
        if name in lower
    ]
    found = [delay for delay in delays if delay is not None]
    return max(found) if found else None


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait for a Retry-After VALUE: delta-seconds or an HTTP-date (RFC 9110),
    relative to NOW (timezone-aware). A date in the past gives 0; anything else unreadable
    gives None. Never negative, never infinite."""
    value = value.strip()
    if _SECONDS.fullmatch(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def innermost_code(inner: object) -> str | None:
    """The deepest `code` in a chain of nested innerError objects, the most specific one."""
    found = None
    while isinstance(inner, Mapping):
        found = inner.get("code", found)
        inner = inner.get("innerError", inner.get("innererror"))
    return found if isinstance(found, str) else None


def graph_error(
    status: int | None,
    code: str | None,
    inner_code: str | None,
    message: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
    where: str | None = None,
    request_id: str | None = None,
    upload_session: bool = False,
) -> GraphError:
    """The exception for a failed request, its type chosen by `classify`."""
    decision = classify(status, code, inner_code, headers, now, upload_session=upload_session)
    named = " ".join(str(part) for part in (status, code) if part)
    if inner_code and inner_code != code:
        named += f" ({inner_code})"
    what = f"Graph answered {named}: {message}" if named else message
    details = dict(
        where=where, status=status, code=code, inner_code=inner_code, request_id=request_id
    )
    if decision.verdict is Verdict.RETRY and decision.delay is not None:
        return RetryAfter(what, seconds=decision.delay, fix=_FIX_TRANSIENT, **details)
    kind, fix = _kind_and_fix(decision.verdict, status, code, inner_code)
    return kind(what, fix=fix, **details)


def _kind_and_fix(
    verdict: Verdict, status: int | None, code: str | None, inner_code: str | None
) -> tuple[type[GraphError], str]:
    if verdict is Verdict.RETRY:
        return Transient, _FIX_TRANSIENT
    if verdict is Verdict.REFRESH_AUTH:
        return Unauthorized, _FIX_UNAUTHORIZED
    if verdict is Verdict.RESTART_FILE:
        return RestartFile, "nothing: the file is uploaded again from the start"
    if verdict is Verdict.FATAL:
        if status == 507 or {code, inner_code} & QUOTA_CODES:
            return QuotaFull, _FIX_QUOTA
        return Fatal, _FIX_PERMISSION
    fix = _FIX_BY_CODE.get(inner_code or "") or _FIX_BY_CODE.get(code or "") or _FIX_FILE
    return FileFailure, fix


def from_response(
    response: httpx.Response, *, now: datetime, upload_session: bool = False
) -> GraphError:
    """Translate a failed raw httpx RESPONSE (e.g. an upload-session chunk)."""
    error = _error_object(response.content)
    request = response.request
    # The query of an upload URL carries its token: never repeat it in a message.
    url = request.url.copy_with(query=None)
    return graph_error(
        response.status_code,
        error.get("code"),
        innermost_code(error.get("innerError")),
        error.get("message") or response.reason_phrase,
        response.headers,
        now=now,
        where=f"{request.method} {url}",
        request_id=_request_id(error, response.headers),
        upload_session=upload_session,
    )


def from_api_error(exc: APIError, *, now: datetime) -> GraphError:
    """Translate the SDK's APIError, or its ODataError subclass carrying Graph's error body."""
    headers = exc.response_headers or {}
    main = getattr(exc, "error", None)
    inner = getattr(main, "inner_error", None)
    return graph_error(
        exc.response_status_code,
        getattr(main, "code", None),
        # Graph's innerError.code, and any deeper innerError, land in additional_data.
        innermost_code(getattr(inner, "additional_data", None)),
        getattr(main, "message", None) or exc.message or type(exc).__name__,
        headers,
        now=now,
        request_id=getattr(inner, "request_id", None) or _header(headers, "request-id"),
    )


def from_transport_error(exc: httpx.TransportError) -> GraphError:
    """Translate an httpx failure that produced no HTTP answer."""
    url = _request_url(exc)
    if isinstance(exc, httpx.TimeoutException):
        what = f"no answer from {url} in time ({type(exc).__name__})"
    elif isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        what = f"cannot reach {url}: {str(exc) or type(exc).__name__}"
    else:  # UnsupportedProtocol, ProxyError, LocalProtocolError: retrying cannot help
        return Fatal(
            f"cannot send a request to {url}: {str(exc) or type(exc).__name__}",
            fix="check [graph] url and any proxy settings (HTTPS_PROXY, NO_PROXY)",
        )
    return Transient(what, fix="check [graph] url, the network and any proxy")


@contextmanager
def translated(*, clock: Clock = SYSTEM_CLOCK) -> Iterator[None]:
    """Run the body with SDK, httpx and azure-identity exceptions turned into GraphError."""
    try:
        yield
    except APIError as exc:
        raise from_api_error(exc, now=clock.now()) from exc
    except httpx.TransportError as exc:
        raise from_transport_error(exc) from exc
    except ClientAuthenticationError as exc:
        raise Unauthorized(
            f"cannot get a token: {_first_line(exc.message)}",
            fix="check [graph] tenant_id, client_id and the certificate or HDRIVE_CLIENT_SECRET",
        ) from exc


def _error_object(content: bytes) -> dict:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _request_id(error: dict, headers: Mapping[str, str]) -> str | None:
    inner = error.get("innerError")
    found = inner.get("request-id") if isinstance(inner, dict) else None
    return found or _header(headers, "request-id")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _request_url(exc: httpx.TransportError) -> str:
    try:
        return str(exc.request.url.copy_with(query=None))
    except RuntimeError:  # raised by httpx when the error carries no request
        return "the Graph service"


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no detail"
