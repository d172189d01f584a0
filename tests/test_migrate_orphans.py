"""Upload sessions nobody can reach: a run SIGKILLed right after the tenant opened a session for
a file and before the engine saved its URL (tests/migrate_killer.py lands the kill exactly
there). The session holds the name for 15 minutes, as OneDrive's does; the next run must still
migrate the file, once, under its planned name, by sending it under a temporary name and
renaming it into place. A session that is someone else's makes the file fail `target-busy`
until it is gone.
"""

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from migrate_checks import (
    assert_accounted,
    content,
    drive_of,
    quick_xor,
    set_chunk_mib,
    states,
    tenant_item,
    tenant_put,
)
from migrate_setup import CHUNK, LABEL, TARGET, Setup, cli, prepare, upload_bytes

from hdrive_migrate.migrate.transfer import PARTIAL_PREFIX

ALICE = "alice@contoso.test"
CHUNK_BYTES = 3 * CHUNK  # chunk_mib = 1, rounded down to a multiple of 320 KiB
SMALL = "Docs/a.txt"
LARGE = "Docs/big.bin"
KILLER = Path(__file__).with_name("migrate_killer.py")


@pytest.fixture
def setup(tmp_path, tenant_factory) -> Setup:
    """A small file (one request) and a large one (four chunks, deferred commit), taken in
    that order by one worker; sessions live 15 minutes, as in the service."""
    files = {SMALL: content(1, 10_000), LARGE: content(2, 3 * CHUNK_BYTES + 5)}
    tenant = tenant_factory(retention_labels={LABEL})
    ready = prepare(tmp_path, tenant, {"alice": files}, {"alice": ALICE})
    set_chunk_mib(ready.ws, 1)
    return ready


def kill_at(setup: Setup, when: str, method: str, pattern: str) -> None:
    """One run of the engine, SIGKILLed at the request METHOD whose path matches PATTERN."""
    command = [sys.executable, str(KILLER), str(setup.ws), str(CHUNK_BYTES), when, method, pattern]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, f"not killed ({done.returncode}): {done.stderr}"


def created_session(name: str) -> str:
    """The path pattern of createUploadSession for NAME (not under a temporary name)."""
    return f"/{name}:/createUploadSession$"


def migrate(setup: Setup) -> subprocess.CompletedProcess:
    result = cli(setup.ws, "migrate", "--concurrency", "1")
    assert "Traceback" not in result.stderr, result.stderr
    return result


def requests_since(setup: Setup, count: int) -> list[tuple[str, str, int]]:
    return [(r["method"], unquote(r["path"]), r["status"]) for r in setup.tenant.requests()[count:]]


def sessions_for(requests: list, name: str) -> list[tuple[str, int]]:
    """(path, status) of each createUploadSession for NAME, under its own or a temporary name."""
    return [
        (path, status)
        for method, path, status in requests
        if method == "POST" and path.endswith(f"{name}:/createUploadSession")
    ]


@pytest.mark.parametrize("path", [SMALL, LARGE], ids=["small", "large"])
def test_a_kill_right_after_the_session_opened_leaves_the_file_to_a_temporary_name(setup, path):
    name = path.rpartition("/")[2]
    kill_at(setup, "after", "POST", created_session(name))
    before = len(setup.tenant.requests())
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = assert_accounted(setup)
    assert states(rows) == {"migrated": 2}
    asked = sessions_for(requests_since(setup, before), name)
    # The orphan still holds the name: refused, then the file went under a temporary name.
    assert [status for _, status in asked] == [409, 200], asked
    assert f"/{PARTIAL_PREFIX}" not in asked[0][0] and f"/{PARTIAL_PREFIX}" in asked[1][0]
    renames = [r for r in requests_since(setup, before) if r[0] == "PATCH" and r[2] == 200]
    assert len(renames) == 1, renames
    item = tenant_item(setup.tenant, ALICE, f"{TARGET}/{path}")
    assert item["name"] == name and rows[(ALICE, path)]["item_id"] == item["id"]


def test_a_kill_in_the_temporary_upload_too_still_ends_with_one_file(setup):
    kill_at(setup, "after", "POST", created_session("big.bin"))
    # The next run is killed as well, once its session under a temporary name is open.
    kill_at(setup, "after", "POST", f"/{PARTIAL_PREFIX}[0-9a-f]{{8}} big.bin:/createUploadSession$")
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert states(assert_accounted(setup)) == {"migrated": 2}


def test_a_kill_before_the_rename_sends_nothing_again(setup):
    kill_at(setup, "after", "POST", created_session("a.txt"))
    kill_at(setup, "before", "PATCH", r"/items/[^/]+$")  # the temporary copy is whole
    before = len(setup.tenant.requests())
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert states(assert_accounted(setup)) == {"migrated": 2}
    assert not sessions_for(requests_since(setup, before), "a.txt")
    assert upload_bytes(setup.tenant, before) == len(content(2, 3 * CHUNK_BYTES + 5))


@pytest.mark.parametrize("same", [False, True], ids=["other-content", "same-content"])
def test_a_file_put_at_the_name_before_the_rename_is_kept(setup, same):
    kill_at(setup, "after", "POST", created_session("a.txt"))
    kill_at(setup, "before", "PATCH", r"/items/[^/]+$")
    mine = (setup.homes / "alice" / SMALL).read_bytes()
    theirs = mine if same else b"their a.txt"
    put = tenant_put(setup.tenant, ALICE, f"{TARGET}/{SMALL}", theirs)
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = assert_accounted(setup, others=set() if same else {(ALICE, f"{TARGET}/{SMALL}")})
    kept = tenant_item(setup.tenant, ALICE, f"{TARGET}/{SMALL}")
    assert (kept["id"], kept["file"]["hashes"]["quickXorHash"]) == (put["id"], quick_xor(theirs))
    row = rows[(ALICE, SMALL)]
    if same:
        assert (row["state"], row["item_id"], row["ours"]) == ("skipped-identical", put["id"], 0)
    else:
        assert (row["state"], row["target_path"]) == ("renamed", f"{TARGET}/Docs/a (2).txt")


def test_someone_elses_open_session_fails_the_file_target_busy_until_it_is_gone(setup):
    url = f"/drives/{drive_of(setup.tenant, ALICE)}/root:/{quote(f'{TARGET}/{SMALL}')}"
    with setup.tenant.client() as client:
        opened = client.post(f"{url}:/createUploadSession", json={"item": {}})
    assert opened.status_code == 200, opened.text
    result = migrate(setup)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "target-busy: 1 file" in result.stdout
    rows = assert_accounted(setup)
    assert (rows[(ALICE, SMALL)]["state"], rows[(ALICE, SMALL)]["reason"]) == (
        "failed",
        "target-busy",
    )
    assert rows[(ALICE, LARGE)]["state"] == "migrated"
    assert not any(PARTIAL_PREFIX in path for _, path, _ in requests_since(setup, 0))

    with setup.tenant.client() as client:
        assert client.delete(opened.json()["uploadUrl"]).status_code == 204
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert states(assert_accounted(setup)) == {"migrated": 2}
