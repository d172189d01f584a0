"""Fixtures that start real components: the local tenant as its own process, on a free port."""

import json
import select
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent
AUTH = {"Authorization": "Bearer test-token"}
DEFAULT_USERS = (
    ("alice@contoso.test", "Alice Example", "alice", True),
    ("bob@contoso.test", "Bob Example", "bob", False),
    ("carol@contoso.test", "Carol Example", "CAROL", True),
)
FLAGS = {
    "drive_quota": "--drive-quota",
    "throttle_rate": "--throttle-rate",
    "retry_after": "--retry-after",
    "error_rate": "--error-rate",
    "drop_rate": "--drop-rate",
    "session_ttl": "--session-ttl",
    "quota_ru_per_minute": "--quota-ru-per-minute",
    "quota_ru_per_day": "--quota-ru-per-day",
    "upload_url_ttl": "--upload-url-ttl",
    "app_permissions": "--app-permissions",
    "retention_labels": "--retention-labels",
    "seed": "--seed",
}
START_TIMEOUT = 30


def require_binary(name: str) -> Path:
    """A tool the tests need; its absence is a failure, never a skip."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed beside {sys.executable}: run `make test`")
    return path


@dataclass
class RunningTenant:
    root: str
    data: Path
    process: subprocess.Popen
    stderr_path: Path
    _drives: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.root + "/v1.0"

    @property
    def log_path(self) -> Path:
        return self.data / "requests.jsonl"

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def client(self, headers: dict | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={**AUTH, **(headers or {})}, timeout=30)

    def drive_id(self, upn: str) -> str:
        if upn not in self._drives:
            with self.client() as client:
                self._drives[upn] = client.get(f"/users/{upn}/drive").json()["id"]
        return self._drives[upn]

    def stop(self) -> None:
        stop_process(self.process)


def write_users(path: Path, users) -> Path:
    lines = ["upn,display_name,sam_account_name,provisioned"]
    lines += [
        f"{upn},{name},{sam},{str(provisioned).lower()}" for upn, name, sam, provisioned in users
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def option_args(options: dict) -> list[str]:
    args = []
    for name, value in options.items():
        if isinstance(value, (set, frozenset, list, tuple)):
            value = ",".join(sorted(value))
        args += [FLAGS[name], str(value)]
    return args


def start_tenant(data: Path, users_csv: Path | None, **options) -> RunningTenant:
    binary = str(require_binary("hdrive-migrate"))
    command = [binary, "tenant", "serve", "--data", str(data), "--port", "0", *option_args(options)]
    if users_csv is not None:
        command += ["--users", str(users_csv)]
    data.mkdir(parents=True, exist_ok=True)
    stderr_path = data.parent / f"{data.name}.stderr"
    with stderr_path.open("ab") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if "listening on " not in line:
        process.kill()
        pytest.fail(f"tenant did not start: {line!r} {stderr_path.read_text()}")
    return RunningTenant(line.split("listening on ")[1].strip(), data, process, stderr_path)


@pytest.fixture
def tenant_factory(tmp_path):
    """Start tenants with chosen users and `tenant serve` options; all stop after the test."""
    started: list[RunningTenant] = []

    def start(users=DEFAULT_USERS, data: Path | None = None, **options) -> RunningTenant:
        data = data or tmp_path / f"tenant{len(started)}"
        users_csv = write_users(tmp_path / f"users{len(started)}.csv", users)
        running = start_tenant(data, users_csv, **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def tenant(tmp_path_factory):
    """One tenant with default behaviour shared by the tests that only need a faithful service."""
    folder = tmp_path_factory.mktemp("tenant")
    running = start_tenant(
        folder / "data",
        write_users(folder / "users.csv", DEFAULT_USERS),
        retention_labels={"Personal working files", "People records"},
    )
    yield running
    running.stop()


@dataclass
class DemoRun:
    folder: Path
    result: subprocess.CompletedProcess

    @property
    def workspace(self) -> Path:
        return self.folder / "workspace"


DEMO_TIMEOUT = 300  # the demo takes seconds; this only keeps a hung run from hanging the suite


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """`hdrive-migrate demo` with three people, run once through the console script; the
    tests read what it printed and left behind."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    command = [str(require_binary("hdrive-migrate")), "demo", "--dir", str(folder), "--users", "3"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=DEMO_TIMEOUT, check=False
    )
    return DemoRun(folder, result)


def stop_process(process: subprocess.Popen) -> None:
    """Ask PROCESS to stop (SIGTERM), and kill it when it has not within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
