"""Issue 8's kill test: `hdrive-migrate migrate` in a subprocess, SIGKILLed at seeded random
moments at least five times (as a power loss or `kill -9` would end it), then run to the end.
Every file must be in OneDrive once, verified through the tenant's API, and the tenant must
have received no more bytes than the files hold plus, per kill, one chunk for each file in
flight (at most --concurrency of them).
"""

import os
import random
import signal
import subprocess
import time

from migrate_checks import assert_accounted, content, set_chunk_mib, states
from migrate_setup import CHUNK, LABEL, prepare

from hdrive_migrate.workspace import open_workspace

from conftest import require_binary

ALICE = "alice@contoso.test"
KIB = 1024
MIB = 1024 * KIB
CHUNK_BYTES = 3 * CHUNK  # [migrate] chunk_mib = 1, rounded down to a multiple of 320 KiB
CONCURRENCY = 4
KILLS = 6
# Reads capped at 20 MB/s, so that the ~40 MiB below take a few seconds to send and a kill
# lands while files are on their way.
MAX_MBPS = "160"
# Each kill comes once the run has sent a random number of chunks, then a random moment later.
KILL_AFTER_CHUNKS = (1, 6)
KILL_DELAY = (0.0, 0.08)
RUN_TIMEOUT = 30
# The kill moments are drawn from this seed; HDRIVE_KILL_SEED tries others (where the kills
# land also depends on timing: a kill between createUploadSession's answer and the saved URL
# is covered exactly by test_migrate_orphans.py).
SEED = int(os.environ.get("HDRIVE_KILL_SEED", "8"))


def kill_home() -> dict[str, bytes]:
    """Small files (1-64 KiB) and, every third file, one of 3-6 MiB (4-7 chunks), in the
    order the engine takes them, so kills land in both kinds."""
    files = {}
    for n in range(21):
        if n % 3 == 1:
            files[f"Files/{n:02d}.bin"] = content(n, (3 + n % 4) * MIB + n * 777)
        else:
            files[f"Files/{n:02d}.txt"] = content(n, (n * 4099) % (64 * KIB) + 1)
    return files


def puts_since(tenant, offset: int) -> int:
    """PUT requests (chunks) the tenant logged after byte OFFSET of its request log."""
    with tenant.log_path.open("rb") as log:
        log.seek(offset)
        return log.read().count(b'"method": "PUT"')


def migrate_command(ws, *args: str) -> list[str]:
    return [str(require_binary("hdrive-migrate")), "migrate", "-w", str(ws), *args]


def run_and_kill(setup, chunks: int, delay: float) -> bool:
    """Start a migration; once the tenant has taken CHUNKS more PUTs from it, wait DELAY
    seconds and SIGKILL it. False when it ended on its own before that."""
    command = migrate_command(setup.ws, "--concurrency", str(CONCURRENCY), "--max-mbps", MAX_MBPS)
    offset = setup.tenant.log_path.stat().st_size
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while puts_since(setup.tenant, offset) < chunks and process.poll() is None:
            assert time.monotonic() < deadline, "the run sent nothing"
            time.sleep(0.005)
        time.sleep(delay)
        if process.poll() is not None:
            return False
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        return True
    finally:
        if process.poll() is None:
            process.kill()
        stderr = process.communicate()[1].decode()
        assert "Traceback" not in stderr, stderr


def put_bytes(tenant) -> int:
    """Bytes of every PUT the tenant received: chunks, and simple uploads of empty files."""
    return sum(r["bytes"] for r in tenant.requests() if r["method"] == "PUT")


def test_killed_at_random_moments_then_run_to_the_end(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    files = kill_home()
    setup = prepare(tmp_path, tenant, {"alice": files}, {"alice": ALICE})
    set_chunk_mib(setup.ws, 1)
    moments = random.Random(SEED)
    kills = 0
    for _ in range(KILLS * 2):
        if kills == KILLS:
            break
        chunks = moments.randint(*KILL_AFTER_CHUNKS)
        kills += run_and_kill(setup, chunks, moments.uniform(*KILL_DELAY))
    assert kills == KILLS, f"only {kills} runs were still going when their kill came"

    final = subprocess.run(
        migrate_command(setup.ws),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert final.returncode == 0, final.stdout + final.stderr

    # Every file once, verified; nothing beside it (no clash copy of our own earlier upload).
    rows = assert_accounted(setup)
    assert states(rows) == {"migrated": len(files)}, {k: v["reason"] for k, v in rows.items()}

    with open_workspace(setup.ws) as ws:
        runs = ws.db.execute("SELECT status, chunk_bytes FROM migrate_runs").fetchall()
    assert len(runs) == KILLS + 1
    chunk = max(size for _, size in runs)
    total = sum(len(data) for data in files.values())
    assert put_bytes(tenant) <= total + CONCURRENCY * chunk * KILLS
    assert chunk == CHUNK_BYTES, f"the runs sent chunks of {chunk}, not chunk_mib = 1"
