"""`hdrive-migrate tenant serve` refuses a start it cannot make with one line, leaves nothing of
it behind, and never lets two tenants share one data directory."""

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import DEFAULT_USERS, require_binary, write_users

REFUSAL_TIMEOUT = 20
# sysfs refuses new entries even to root, so these stay unwritable however the tests are run.
UNWRITABLE_DIR = Path("/sys")
UNCREATABLE_DIR = UNWRITABLE_DIR / "hdrive-migrate-test" / "data"


def serve(*args: str | Path) -> subprocess.CompletedProcess:
    command = [require_binary("hdrive-migrate"), "tenant", "serve", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=REFUSAL_TIMEOUT)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below ROOT with its content (None for a directory)."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


def assert_one_line_refusal(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert " Fix: " in lines[0]
    assert "listening" not in result.stdout
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def bad_csv(folder: Path) -> Path:
    path = folder / "bad.csv"
    path.write_text(
        "upn,display_name,sam_account_name,provisioned\nalice@contoso.test,Alice,alice,maybe\n"
    )
    return path


# Each case: extra arguments (built from the test folder) and text the one line must hold.
CASES = {
    "port out of range": (lambda tmp: ["--port", "99999"], ["--port 99999", "65535"]),
    "negative port": (lambda tmp: ["--port", "-1"], ["--port -1"]),
    "data is a file": (lambda tmp: ["--data", tmp / "afile"], ["afile: is a file"]),
    "data below a file": (lambda tmp: ["--data", tmp / "afile" / "sub"], ["cannot create"]),
    "data cannot be created": (lambda tmp: ["--data", UNCREATABLE_DIR], [str(UNCREATABLE_DIR)]),
    "data is not writable": (
        lambda tmp: ["--data", UNWRITABLE_DIR],
        [f"{UNWRITABLE_DIR}: cannot write"],
    ),
    "users file missing": (lambda tmp: ["--users", tmp / "none.csv"], ["none.csv: cannot be read"]),
    "bad users row": (lambda tmp: ["--users", bad_csv(tmp)], ["bad.csv:2:", "maybe"]),
    "throttle rate above one": (lambda tmp: ["--throttle-rate", "2"], ["--throttle-rate 2:"]),
    "negative error rate": (lambda tmp: ["--error-rate", "-0.1"], ["--error-rate -0.1:"]),
    "drop rate not a number": (lambda tmp: ["--drop-rate", "nan"], ["--drop-rate nan:"]),
    "negative session ttl": (lambda tmp: ["--session-ttl", "-5"], ["--session-ttl -5:"]),
    "zero session ttl": (lambda tmp: ["--session-ttl", "0"], ["--session-ttl 0:"]),
    "endless retry-after": (lambda tmp: ["--retry-after", "inf"], ["--retry-after inf:"]),
    "negative resource units": (
        lambda tmp: ["--quota-ru-per-minute", "-1"],
        ["--quota-ru-per-minute -1:"],
    ),
    "host not loopback": (lambda tmp: ["--host", "192.0.2.1"], ["--host 192.0.2.1:"]),
    # Fails after the data directory was made: the directory must go again.
    "request log not writable": (
        lambda tmp: ["--request-log", UNWRITABLE_DIR / "requests.jsonl"],
        ["cannot write the request log"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_start_is_one_line_and_leaves_nothing_behind(tmp_path, case):
    arguments, expected = CASES[case]
    (tmp_path / "afile").write_text("not a directory\n")
    extra = arguments(tmp_path)
    data = [] if "--data" in extra else ["--data", tmp_path / "new" / "data"]
    port = [] if "--port" in extra else ["--port", "0"]
    before = snapshot(tmp_path)
    assert_one_line_refusal(serve(*data, *port, *extra), *expected)
    assert snapshot(tmp_path) == before


def test_a_taken_port_is_one_line_and_creates_no_data_directory(tmp_path, taken_port):
    result = serve("--data", tmp_path / "data", "--port", taken_port)
    assert_one_line_refusal(result, f"--port {taken_port}", "already listening")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_start_in_an_existing_directory_removes_only_what_it_created(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "tenant.db").write_text("not a database\n")
    (data / "notes.txt").write_text("kept\n")
    before = snapshot(tmp_path)
    assert_one_line_refusal(serve("--data", data, "--port", "0"), "tenant.db: cannot be used")
    assert snapshot(tmp_path) == before


def test_a_second_tenant_on_the_same_data_is_refused_while_the_first_serves(
    tenant_factory, tmp_path
):
    data = tmp_path / "shared"
    first = tenant_factory(data=data)
    before = snapshot(data)
    users = write_users(tmp_path / "second.csv", DEFAULT_USERS[:1])
    result = serve("--data", data, "--port", "0", "--users", users)
    line = assert_one_line_refusal(result, str(data), "another tenant is serving")
    assert f"process {first.process.pid}" in line
    assert snapshot(data) == before
    with first.client() as client:
        assert client.get("/users").status_code == 200


def test_the_lock_goes_with_the_process_even_when_it_is_killed(tenant_factory, tmp_path):
    data = tmp_path / "shared"
    first = tenant_factory(data=data)
    first.process.kill()
    first.process.wait()
    second = tenant_factory(data=data)
    with second.client() as client:
        assert client.get("/users/alice@contoso.test/drive").status_code == 200
