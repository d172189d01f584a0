"""Connections to Microsoft Graph: credential, HTTP client and SDK client, built from settings.

Retrying happens in one place, our pacer, so the SDK's RetryHandler is left out of the
middleware; so is its UserAgentHandler, which would append to our User-Agent. Tokens and
secrets are never logged or stored.
"""

import os
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    CertificateCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
)
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware import BaseMiddleware, ParametersNameDecodingHandler, RedirectHandler
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler

from hdrive_migrate import __version__
from hdrive_migrate.clock import SYSTEM_CLOCK
from hdrive_migrate.config import (
    CERTIFICATE_PASSWORD_ENV,
    CLIENT_SECRET_ENV,
    Auth,
    GraphSettings,
    is_loopback_host,
)
from hdrive_migrate.errors import ConfigError

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
LOCAL_TOKEN = "local-tenant-placeholder"
# Graph's own client defaults (kiota): long enough for a 60 MiB chunk on a slow line.
TIMEOUT = httpx.Timeout(100.0, connect=30.0)
DEFAULT_CONNECTIONS = 10  # enough for the few requests at a time of a command other than migrate


class LocalTokenCredential(AsyncTokenCredential):
    """The credential for `auth = "local"`: a fixed placeholder token for a local tenant.

    Refuses (ConfigError) to be made for a URL whose host is not loopback, so the placeholder
    can never be offered to a real service.
    """

    def __init__(self, url: str) -> None:
        host = urlsplit(url).hostname
        if not host or not is_loopback_host(host):
            raise ConfigError(
                f'auth = "local" is only for a local tenant, but {url} is not on this machine',
                fix="point [graph] url at http://127.0.0.1:PORT/v1.0, or choose certificate, "
                "secret or managed-identity auth for a real tenant",
                setting="graph.auth",
            )

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: object,
    ) -> AccessToken:
        return AccessToken(LOCAL_TOKEN, int(SYSTEM_CLOCK.now().timestamp()) + 3600)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.close()


# Only a local tenant may be reached without naming an organisation (config enforces it).
LOCAL_ORGANISATION = "local"


def user_agent(organisation: str | None) -> str:
    """Microsoft's decoration for throttling priority: NONISV|{organisation}|{app}/{version}."""
    return f"NONISV|{organisation or LOCAL_ORGANISATION}|hdrive-migrate/{__version__}"


def make_credential(settings: GraphSettings) -> AsyncTokenCredential:
    """The async credential SETTINGS.auth names; secrets come only from the environment."""
    if settings.auth is Auth.LOCAL:
        return LocalTokenCredential(settings.url)
    if settings.auth is Auth.MANAGED_IDENTITY:
        return ManagedIdentityCredential(client_id=settings.client_id)
    if settings.auth is Auth.SECRET:
        return ClientSecretCredential(settings.tenant_id, settings.client_id, _client_secret())
    return _certificate_credential(settings)


def _client_secret() -> str:
    secret = os.environ.get(CLIENT_SECRET_ENV, "")
    if not secret:
        raise ConfigError(
            f'auth = "secret" needs the client secret in {CLIENT_SECRET_ENV}, which is not set',
            fix=f"export {CLIENT_SECRET_ENV} from your secret store before running; "
            'certificate auth (auth = "certificate") is preferred',
            where=CLIENT_SECRET_ENV,
        )
    return secret


def _certificate_credential(settings: GraphSettings) -> CertificateCredential:
    try:
        return CertificateCredential(
            settings.tenant_id,
            settings.client_id,
            certificate_path=str(settings.certificate_path),
            password=os.environ.get(CERTIFICATE_PASSWORD_ENV) or None,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the certificate: {exc}",
            fix="give [graph] certificate_path a PEM or PKCS#12 file holding the certificate and "
            f"its private key; set {CERTIFICATE_PASSWORD_ENV} if the key is password-protected",
            where=str(settings.certificate_path),
            setting="graph.certificate_path",
        ) from exc


def graph_middleware() -> list[BaseMiddleware]:
    """The SDK middleware we keep: redirects, `$`-parameter names, Graph telemetry headers."""
    return [RedirectHandler(), ParametersNameDecodingHandler(), GraphTelemetryHandler()]


def make_http_client(
    settings: GraphSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    connections: int = DEFAULT_CONNECTIONS,
) -> httpx.AsyncClient:
    """The httpx client for SETTINGS.url with our User-Agent and the SDK middleware, keeping at
    most CONNECTIONS open (when no TRANSPORT is given).

    Every request passes through the middleware (redirects, `$`-parameter names, telemetry);
    upload chunks, sent on it directly, carry no Authorization header.
    """
    client = httpx.AsyncClient(
        base_url=settings.url,
        headers={"User-Agent": user_agent(settings.organisation)},
        timeout=TIMEOUT,
        transport=transport,
        # httpcore looks at every pooled connection for each request it places, so a pool
        # larger than the requests in flight costs CPU on every request (about a quarter of
        # the engine's on small files with httpx's default of 100).
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
    return GraphClientFactory.create_with_custom_middleware(graph_middleware(), client=client)


def make_sdk_client(
    settings: GraphSettings, credential: AsyncTokenCredential, http: httpx.AsyncClient
) -> GraphServiceClient:
    """The SDK client on HTTP, sending tokens from CREDENTIAL to SETTINGS.url's host only."""
    host = urlsplit(settings.url).hostname or ""
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=GRAPH_SCOPES, allowed_hosts=[host.lower()]
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = settings.url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)


class GraphConnection:
    """One open connection to a Graph service, as an async context manager.

    `sdk` is the msgraph client for metadata calls; `http` the same httpx client used raw, for
    upload-session chunks (whose URL carries its own token); `url` the service root.
    """

    def __init__(
        self,
        settings: GraphSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self.settings = settings
        self.url = settings.url
        self._transport = transport
        self._connections = connections

    async def __aenter__(self) -> "GraphConnection":
        self.credential = make_credential(self.settings)
        self.http = make_http_client(self.settings, self._transport, self._connections)
        self.sdk = make_sdk_client(self.settings, self.credential, self.http)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        await self.credential.close()
