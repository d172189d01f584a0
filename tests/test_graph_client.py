"""The Graph connection against scripted responses: an httpx.MockTransport stands in for the
network, the SDK and its middleware run for real."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.identity.aio import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from kiota_abstractions.api_error import APIError

from hdrive_migrate import __version__
from hdrive_migrate.config import CLIENT_SECRET_ENV, Auth, GraphSettings
from hdrive_migrate.errors import ConfigError
from hdrive_migrate.graph.client import (
    LOCAL_TOKEN,
    GraphConnection,
    LocalTokenCredential,
    make_credential,
)
from hdrive_migrate.graph.errors import Fatal, RetryAfter, Transient, Unauthorized, translated

URL = "http://127.0.0.1:8080/v1.0"
SETTINGS = GraphSettings(URL, Auth.LOCAL, organisation="Contoso Ltd")
GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class Script:
    """A transport answering each request with the next scripted response, recording them."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def run_with(script: Script, call):
    """Open a connection on SCRIPT and await CALL(connection) with errors translated."""

    async def go():
        async with GraphConnection(SETTINGS, transport=script.transport()) as connection:
            with translated():
                return await call(connection)

    return asyncio.run(go())


def graph_error(status, code, headers=None, inner=None):
    inner_error = {"request-id": "rid-7", "date": "2025-06-02T12:00:00"}
    if inner:
        inner_error["code"] = inner
    body = {"error": {"code": code, "message": f"{code} happened", "innerError": inner_error}}
    return httpx.Response(status, json=body, headers=headers)


def list_users(connection):
    return connection.sdk.users.get()


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.microsoft.com/v1.0",
        "http://10.0.0.5:8080/v1.0",
        "http://localhost.contoso.com/v1.0",
        "http://127.0.0.1.nip.io/v1.0",
        "not a url",
    ],
)
def test_local_credential_refuses_hosts_off_this_machine(url):
    with pytest.raises(ConfigError, match='auth = "local" is only for a local tenant'):
        LocalTokenCredential(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/v1.0", "http://127.4.5.6/v1.0", "http://[::1]:80", "http://localhost"],
)
def test_local_credential_gives_the_placeholder_on_loopback(url):
    token = asyncio.run(LocalTokenCredential(url).get_token("https://graph.microsoft.com/.default"))
    assert token.token == LOCAL_TOKEN


def test_sdk_requests_carry_our_user_agent_and_the_token():
    script = Script(httpx.Response(200, json={"value": []}))
    run_with(script, list_users)
    (request,) = script.requests
    assert str(request.url) == "http://127.0.0.1:8080/v1.0/users"
    assert request.headers["User-Agent"] == f"NONISV|Contoso Ltd|hdrive-migrate/{__version__}"
    assert request.headers["Authorization"] == f"Bearer {LOCAL_TOKEN}"


def test_raw_requests_carry_our_user_agent_and_no_authorization():
    script = Script(httpx.Response(202, json={"nextExpectedRanges": ["327680-"]}))

    async def put_chunk(connection):
        return await connection.http.put("http://127.0.0.1:8080/up/1?tempauth=x", content=b"a")

    assert run_with(script, put_chunk).status_code == 202
    (request,) = script.requests
    assert request.headers["User-Agent"] == f"NONISV|Contoso Ltd|hdrive-migrate/{__version__}"
    assert "Authorization" not in request.headers


def test_tokens_go_only_to_the_configured_host():
    script = Script(httpx.Response(200, json={"value": []}))

    def elsewhere(connection):
        return connection.sdk.users.with_url("http://127.0.0.2:8080/v1.0/users").get()

    run_with(script, elsewhere)
    assert "Authorization" not in script.requests[0].headers


def test_sdk_does_not_retry_throttling_itself():
    script = Script(
        graph_error(429, "activityLimitReached", {"Retry-After": "4"}),
        *[httpx.Response(200, json={"value": []}) for _ in range(3)],
    )
    with pytest.raises(RetryAfter) as caught:
        run_with(script, list_users)
    assert caught.value.seconds == 4.0
    assert len(script.requests) == 1


def test_odata_error_is_translated_with_its_fields():
    script = Script(graph_error(403, "accessDenied", inner="appPermissionMissing"))
    with pytest.raises(Fatal) as caught:
        run_with(script, list_users)
    error = caught.value
    assert (error.status, error.code, error.inner_code, error.request_id) == (
        403,
        "accessDenied",
        "appPermissionMissing",
        "rid-7",
    )
    assert "accessDenied happened" in str(error)
    assert isinstance(error.__cause__, APIError)


def test_unauthorized_is_translated():
    script = Script(graph_error(401, "InvalidAuthenticationToken"))
    with pytest.raises(Unauthorized):
        run_with(script, list_users)


def test_unparseable_error_body_is_translated_by_status():
    script = Script(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(Transient) as caught:
        run_with(script, list_users)
    assert caught.value.status == 502
    assert isinstance(caught.value.__cause__, APIError)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_connection_failures_are_translated(exc):
    script = Script(exc)
    with pytest.raises(Transient) as caught:
        run_with(script, list_users)
    assert caught.value.status is None
    assert "http://127.0.0.1:8080/v1.0/users" in str(caught.value)
    assert caught.value.__cause__ is exc


def test_secret_auth_needs_the_secret_in_the_environment(monkeypatch):
    monkeypatch.delenv(CLIENT_SECRET_ENV, raising=False)
    settings = GraphSettings("https://graph.microsoft.com/v1.0", Auth.SECRET, GUID, GUID)
    with pytest.raises(ConfigError, match=CLIENT_SECRET_ENV):
        make_credential(settings)
    monkeypatch.setenv(CLIENT_SECRET_ENV, "from-the-vault")
    assert isinstance(make_credential(settings), ClientSecretCredential)


def test_certificate_that_cannot_be_loaded_is_a_config_error(tmp_path):
    path = tmp_path / "app.pem"
    path.write_text("not a certificate")
    settings = GraphSettings(
        "https://graph.microsoft.com/v1.0", Auth.CERTIFICATE, GUID, GUID, certificate_path=path
    )
    with pytest.raises(ConfigError, match="cannot load the certificate") as caught:
        make_credential(settings)
    assert str(caught.value).startswith(f"{path}: ")


def test_certificate_with_its_key_loads(tmp_path):
    path = tmp_path / "app.pem"
    path.write_bytes(self_signed_pem())
    settings = GraphSettings(
        "https://graph.microsoft.com/v1.0", Auth.CERTIFICATE, GUID, GUID, certificate_path=path
    )
    assert isinstance(make_credential(settings), CertificateCredential)


def self_signed_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hdrive-migrate test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)
