"""Who may use the service-desk page, and who the audit log says looked someone up.

Two ways, chosen when the page starts (`access_for`):

- Local (the default): the page listens on loopback only, and the operator is the person who
  started it (their OS user, or --operator). A request whose Host header is not this machine
  is refused, so a web page elsewhere cannot reach it by pointing a name at 127.0.0.1 (DNS
  rebinding).
- Behind a reverse proxy (--trusted-user-header NAME): the proxy authenticates the analyst
  (Kerberos, Entra ID) and passes their name in header NAME. A request without it gets 401,
  and the header is believed only from the proxy's addresses (--trusted-proxy, default
  loopback), since anyone else could set it. Only then may the page listen beyond loopback
  (--allow-remote).

Pure: the HTTP server asks `Access.analyst` about each request.
"""

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import person_name

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_NETWORKS: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
FIX_NAME = "have the proxy send the analyst's name as plain text"
FIX_REMOTE = (
    "keep the default --host 127.0.0.1, or put the page behind a reverse proxy that "
    "authenticates analysts and start it with --allow-remote --trusted-user-header "
    "X-Remote-User --trusted-proxy PROXY_ADDRESS"
)


class Refused(Exception):
    """A request the page does not answer: the HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Access:
    """How requests are authenticated. OPERATOR names the analyst in local mode; with
    USER_HEADER set, the header names them and only PROXIES may send it."""

    operator: str | None = None
    user_header: str | None = None
    proxies: tuple[Network, ...] = LOOPBACK_NETWORKS

    @property
    def behind_proxy(self) -> bool:
        return self.user_header is not None

    def analyst(self, client: str, headers: Mapping[str, str], listening: set[str]) -> str:
        """The operator the audit log records for a request from address CLIENT with
        HEADERS, sent to this page which answers as any of LISTENING (host:port forms);
        Refused when the request may not be answered."""
        if not self.behind_proxy:
            host = (headers.get("Host") or "").lower()
            if host not in listening:
                raise Refused(400, "this page answers only requests addressed to this machine")
            assert self.operator is not None
            return self.operator
        if not _within(client, self.proxies):
            raise Refused(403, "this page answers only through the authenticating proxy")
        assert self.user_header is not None
        value = headers.get(self.user_header)
        if not value or not value.strip():
            raise Refused(401, f"sign in through the proxy: no {self.user_header} header")
        try:
            return person_name(value, option=self.user_header, role="an analyst", fix=FIX_NAME)
        except HdriveError as exc:
            raise Refused(400, f"{exc.where} header: {exc.what}. Fix: {exc.fix}") from None


def access_for(
    host: str,
    *,
    allow_remote: bool,
    user_header: str | None,
    proxies: Iterable[str],
    operator: str,
) -> Access:
    """The Access for a page on HOST with these options, or HdriveError saying which option
    is refused and why: a non-loopback HOST needs ALLOW_REMOTE and USER_HEADER; PROXIES (IP
    addresses or networks) only make sense with USER_HEADER."""
    proxies = tuple(proxies)
    if not is_loopback(host):
        if not allow_remote:
            raise HdriveError(
                f"{host} is not a loopback address, and the page shows people's migration "
                "status to whoever reaches it",
                fix=FIX_REMOTE,
                where=f"--host {host}",
            )
        if user_header is None:
            raise HdriveError(
                "--allow-remote needs a way to authenticate the analysts",
                fix=FIX_REMOTE,
                where=f"--host {host}",
            )
    if user_header is None:
        if proxies:
            raise HdriveError(
                "--trusted-proxy names who may send --trusted-user-header, which is not given",
                fix="add --trusted-user-header NAME, or drop --trusted-proxy",
                where="--trusted-proxy",
            )
        return Access(operator=operator)
    return Access(user_header=_header_name(user_header), proxies=_networks(proxies))


def is_loopback(host: str) -> bool:
    """Whether every address HOST names is a loopback address (an unknown name is not)."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in found)


def listening_names(host: str, port: int) -> set[str]:
    """The Host header values a browser on this machine sends to a page on HOST:PORT."""
    names = {host.lower(), *LOCAL_NAMES}
    return {f"{name}:{port}" for name in names} | ({*names} if port == 80 else set())


def _within(client: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _networks(texts: tuple[str, ...]) -> tuple[Network, ...]:
    if not texts:
        return LOOPBACK_NETWORKS
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise HdriveError(
                f"{text!r} is not an IP address or network",
                fix="give the reverse proxy's address, e.g. --trusted-proxy 10.0.4.20 "
                "(or a network, 10.0.4.0/24)",
                where="--trusted-proxy",
            ) from None
    return tuple(networks)


def _header_name(name: str) -> str:
    """NAME if it can be an HTTP header's name (RFC 9110 token characters)."""
    allowed = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if not name or not set(name) <= allowed:
        raise HdriveError(
            f"{name!r} cannot be an HTTP header's name",
            fix="give the header your proxy sets, e.g. --trusted-user-header X-Remote-User",
            where="--trusted-user-header",
        )
    return name
