"""What `tenant serve` is told: where state lives, who the users are, and which faults to inject."""

from dataclasses import dataclass
from pathlib import Path

ONE_TIB = 1024**4


@dataclass(frozen=True)
class TenantOptions:
    """Settings of one local tenant process; defaults match the real service's documented ones."""

    data: Path
    users_csv: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    drive_quota: int = ONE_TIB
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    session_ttl: float = 900.0
    quota_ru_per_minute: int = 0  # 0: no resource-unit ledger
    app_permissions: frozenset[str] | None = None  # None: every permission granted
    retention_labels: frozenset[str] = frozenset()
    request_log: Path | None = None  # None: DATA/requests.jsonl
    seed: int | None = None
