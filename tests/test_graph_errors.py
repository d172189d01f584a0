"""The one error classifier, from tables, with properties for the Retry-After arithmetic."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.graph.errors import (
    Classification,
    Fatal,
    FileFailure,
    QuotaFull,
    RestartFile,
    RetryAfter,
    Transient,
    Unauthorized,
    Verdict,
    classify,
    from_response,
    from_transport_error,
    innermost_code,
    parse_retry_after,
)

NOW = datetime(2025, 6, 2, 12, 0, 0, tzinfo=UTC)
RETRY, REFRESH, RESTART, FILE, FATAL = (
    Verdict.RETRY,
    Verdict.REFRESH_AUTH,
    Verdict.RESTART_FILE,
    Verdict.FILE_FAILURE,
    Verdict.FATAL,
)


@pytest.mark.parametrize(
    ("status", "code", "inner", "headers", "upload", "expected"),
    [
        # No answer at all: connection refused, reset, timed out.
        (None, None, None, {}, False, Classification(RETRY)),
        # Throttling honours the service's delay, in seconds or as an HTTP date.
        (429, "activityLimitReached", "throttledRequest", {"Retry-After": "7"}, False,
         Classification(RETRY, 7.0)),
        (503, "serviceNotAvailable", None, {"retry-after": "Mon, 02 Jun 2025 12:00:30 GMT"},
         False, Classification(RETRY, 30.0)),
        (429, None, None, {"Retry-After": "2", "RateLimit-Reset": "40"}, False,
         Classification(RETRY, 40.0)),
        (429, None, None, {"Retry-After": "50", "RateLimit-Reset": "40"}, False,
         Classification(RETRY, 50.0)),
        (429, None, None, {}, False, Classification(RETRY)),
        (509, None, None, {}, False, Classification(RETRY)),
        # Server errors retry with the caller's backoff.
        (500, "generalException", None, {}, False, Classification(RETRY)),
        (502, None, None, {}, False, Classification(RETRY)),
        (504, None, None, {}, True, Classification(RETRY)),
        # 401: refresh the token once; on an upload URL (own token) the session is lost.
        (401, "InvalidAuthenticationToken", None, {}, False, Classification(REFRESH)),
        (401, "unauthenticated", "expiredToken", {}, True, Classification(RESTART)),
        # An unknown or expired upload session: start the file again.
        (404, "itemNotFound", None, {}, True, Classification(RESTART)),
        (404, "itemNotFound", "uploadSessionNotFound", {}, False, Classification(RESTART)),
        (400, "invalidRequest", "uploadSessionFailed", {}, True, Classification(RESTART)),
        # About this file only; retrying unchanged fails the same way.
        (400, "invalidRequest", "pathIsTooLong", {"Retry-After": "1"}, False,
         Classification(FILE)),
        (400, "invalidRequest", None, {}, False, Classification(FILE)),
        (409, "nameAlreadyExists", None, {}, True, Classification(FILE)),
        (404, "itemNotFound", None, {}, False, Classification(FILE)),
        (416, "invalidRange", "fragmentOverlap", {}, True, Classification(FILE)),
        # Fatal for the drive: permissions, quota.
        (403, "accessDenied", None, {}, False, Classification(FATAL)),
        (403, "Authorization_RequestDenied", None, {}, False, Classification(FATAL)),
        (507, "insufficientStorage", None, {}, True, Classification(FATAL)),
        (400, "quotaLimitReached", None, {}, False, Classification(FATAL)),
    ],
)  # fmt: skip
def test_classify(status, code, inner, headers, upload, expected):
    assert classify(status, code, inner, headers, NOW, upload_session=upload) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("1.5", 1.5),
        ("Mon, 02 Jun 2025 12:01:00 GMT", 60.0),
        ("Mon, 02 Jun 2025 11:00:00 GMT", 0.0),  # already passed: go now
        ("-1", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@given(st.integers(min_value=0, max_value=10**9))
def test_delta_seconds_are_taken_as_they_are(seconds):
    assert parse_retry_after(str(seconds), NOW) == seconds


@given(
    st.integers(min_value=0, max_value=10**7),
    st.datetimes(datetime(1970, 1, 1), datetime(9000, 1, 1), timezones=st.just(UTC)),
)
def test_http_date_gives_the_seconds_until_it(seconds, now):
    # HTTP dates have whole seconds; `now` may be part-way through one.
    when = (now + timedelta(seconds=seconds)).replace(microsecond=0)
    assert parse_retry_after(format_datetime(when, usegmt=True), now) == pytest.approx(
        max(0.0, (when - now).total_seconds())
    )


@given(st.text())
def test_any_text_gives_none_or_a_finite_non_negative_delay(value):
    delay = parse_retry_after(value, NOW)
    assert delay is None or 0 <= delay < float("inf")


@given(
    st.sampled_from([429, 503]),
    st.integers(min_value=0, max_value=3600),
    st.integers(min_value=0, max_value=3600),
    st.booleans(),
)
def test_throttling_waits_for_the_larger_of_retry_after_and_ratelimit_reset(
    status, retry_after, reset, upper
):
    names = ("RETRY-AFTER", "RATELIMIT-RESET") if upper else ("retry-after", "ratelimit-reset")
    headers = {names[0]: str(retry_after), names[1]: str(reset)}
    assert classify(status, None, None, headers, NOW) == Classification(
        RETRY, float(max(retry_after, reset))
    )


@given(
    st.integers(min_value=400, max_value=499).filter(lambda s: s != 429),
    st.booleans(),
    st.dictionaries(st.sampled_from(["Retry-After", "RateLimit-Reset"]), st.just("1")),
)
def test_client_errors_are_never_retried_as_they_stand(status, upload, headers):
    verdict = classify(status, "invalidRequest", "pathIsTooLong", headers, NOW).verdict
    assert verdict is not RETRY
    assert classify(status, None, None, headers, NOW, upload_session=upload).verdict is not RETRY


def test_innermost_code_follows_nested_inner_errors():
    inner = {"code": "invalidRequest", "innerError": {"code": "pathIsTooLong", "innerError": {}}}
    assert innermost_code(inner) == "pathIsTooLong"
    assert innermost_code({"date": "2025-06-02T12:00:00"}) is None
    assert innermost_code(None) is None


def graph_response(status, body=None, headers=None, url="https://graph.microsoft.com/v1.0/x"):
    request = httpx.Request("PUT", url)
    return httpx.Response(status, json=body, headers=headers, request=request)


def error_body(code, inner=None, message="msg", request_id="rid-1"):
    inner_error = {"date": "2025-06-02T12:00:00", "request-id": request_id}
    if inner:
        inner_error["code"] = inner
    return {"error": {"code": code, "message": message, "innerError": inner_error}}


@pytest.mark.parametrize(
    ("status", "body", "headers", "upload", "kind"),
    [
        (429, error_body("activityLimitReached"), {"Retry-After": "3"}, False, RetryAfter),
        (503, None, {}, False, Transient),
        (401, error_body("InvalidAuthenticationToken"), {}, False, Unauthorized),
        (404, error_body("itemNotFound"), {}, True, RestartFile),
        (400, error_body("invalidRequest", "pathIsTooLong"), {}, False, FileFailure),
        (409, error_body("nameAlreadyExists"), {}, True, FileFailure),
        (507, error_body("insufficientStorage"), {}, True, QuotaFull),
        (507, error_body("quotaLimitReached"), {}, False, QuotaFull),
        (403, error_body("accessDenied"), {}, False, Fatal),
    ],
)
def test_responses_become_our_exceptions(status, body, headers, upload, kind):
    error = from_response(graph_response(status, body, headers), now=NOW, upload_session=upload)
    assert type(error) is kind
    assert error.status == status
    assert "Fix: " in str(error)


def test_response_error_carries_the_graph_fields_in_one_line():
    body = error_body("invalidRequest", "pathIsTooLong", message="Path too\nlong.")
    error = from_response(graph_response(400, body), now=NOW)
    assert (error.code, error.inner_code, error.request_id) == (
        "invalidRequest",
        "pathIsTooLong",
        "rid-1",
    )
    assert str(error) == (
        "PUT https://graph.microsoft.com/v1.0/x: Graph answered 400 invalidRequest "
        "(pathIsTooLong): Path too long. Fix: shorten folder or file names so the OneDrive "
        "path stays within 400 characters"
    )


def test_retry_after_error_carries_the_seconds():
    error = from_response(graph_response(429, None, {"Retry-After": "9"}), now=NOW)
    assert isinstance(error, RetryAfter)
    assert error.seconds == 9.0


def test_upload_url_token_never_appears_in_the_message():
    url = "https://contoso.sharepoint.com/_api/v2.0/drives/b!x/uploadSession?tempauth=SECRETTOKEN"
    error = from_response(graph_response(404, None, url=url), now=NOW, upload_session=True)
    assert "SECRETTOKEN" not in str(error)
    assert "uploadSession" in str(error)


def test_html_error_body_still_classifies_by_status():
    request = httpx.Request("GET", "https://graph.microsoft.com/v1.0/users")
    response = httpx.Response(502, text="<html>Bad Gateway</html>", request=request)
    error = from_response(response, now=NOW)
    assert type(error) is Transient
    assert "Bad Gateway" in str(error)


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (httpx.ConnectError("refused"), Transient, "cannot reach"),
        (httpx.ReadTimeout("slow"), Transient, "no answer"),
        (httpx.RemoteProtocolError("peer closed"), Transient, "cannot reach"),
        (httpx.UnsupportedProtocol("gopher"), Fatal, "cannot send"),
    ],
)
def test_transport_errors_become_our_exceptions(exc, kind, words):
    exc.request = httpx.Request("GET", "https://graph.microsoft.com/v1.0/users?$top=1")
    error = from_transport_error(exc)
    assert type(error) is kind
    assert error.status is None
    assert words in str(error)
    assert "https://graph.microsoft.com/v1.0/users" in str(error)
