"""What `tenant serve` is told: where state lives, who the users are, and which faults to inject."""

import ipaddress
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import SetupError

ONE_TIB = 1024**4
HIGHEST_PORT = 65535
RATE_FLAGS = {
    "throttle_rate": "--throttle-rate",
    "error_rate": "--error-rate",
    "drop_rate": "--drop-rate",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TenantOptions:
    """Settings of one local tenant process; defaults match the real service's documented ones.

    Construction refuses a value the tenant cannot serve with (SetupError naming the flag), so a
    tenant never starts half-way on a bad setting.
    """

    data: Path
    users_csv: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    drive_quota: int = ONE_TIB
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    session_ttl: float = 900.0  # an upload session's life, extended by each fragment
    upload_url_ttl: float = 86_400.0  # the life of an upload URL's token, never extended
    quota_ru_per_minute: int = 0  # 0: no per-minute resource-unit budget
    quota_ru_per_day: int = 0  # 0: no 24-hour budget (4.8 M for 15,001-50,000 licences)
    app_permissions: frozenset[str] | None = None  # None: every permission granted
    retention_labels: frozenset[str] = frozenset()
    request_log: Path | None = None  # None: DATA/requests.jsonl
    seed: int | None = None

    def __post_init__(self) -> None:
        if not is_loopback(self.host):
            raise SetupError(
                f"--host {self.host}: not a loopback address. Fix: the local tenant accepts any"
                " token, so it listens only on 127.0.0.1, ::1 or localhost"
            )
        if not 0 <= self.port <= HIGHEST_PORT:
            raise SetupError(
                f"--port {self.port}: out of range. Fix: give a port from 1024 to {HIGHEST_PORT},"
                " or 0 to let the system choose a free one"
            )
        for name, flag in RATE_FLAGS.items():
            _require_share(flag, getattr(self, name))
        _require_seconds("--retry-after", self.retry_after, allow_zero=True)
        _require_seconds("--session-ttl", self.session_ttl, allow_zero=False)
        _require_seconds("--upload-url-ttl", self.upload_url_ttl, allow_zero=False)
        for flag, budget in (
            ("--quota-ru-per-minute", self.quota_ru_per_minute),
            ("--quota-ru-per-day", self.quota_ru_per_day),
        ):
            if budget < 0:
                raise SetupError(
                    f"{flag} {budget}: negative."
                    " Fix: give a number of resource units, or 0 for no limit"
                )


def _require_share(flag: str, value: float) -> None:
    # `not 0 <= value <= 1` is also true for NaN.
    if not 0 <= value <= 1:
        raise SetupError(
            f"{flag} {value:g}: not a share of requests. Fix: give a number from 0 to 1,"
            " e.g. 0.05 for one request in twenty"
        )


def _require_seconds(flag: str, value: float, *, allow_zero: bool) -> None:
    # Infinity would overflow when turned into a Retry-After header or an expiry date.
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "more than 0"
        raise SetupError(
            f"{flag} {value:g}: not a usable number of seconds. Fix: give a number {least}"
        )
