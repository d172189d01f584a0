"""Durable resume against the real local tenant: a run stopped or cancelled mid-file goes on
from the session's own offset, a file completed before its outcome was written is not sent
again, an upload abandoned for good is cancelled, and upload URLs are stored only sealed."""

import asyncio
import os

import pytest
from migrate_setup import (
    CHUNK,
    LABEL,
    TARGET,
    cli,
    prepare,
    rescan_and_plan,
    run_engine,
    tenant_item,
    transfers,
    upload_bytes,
)
from test_migrate_engine import ALICE, quick_xor

from hdrive_migrate.migrate.progress import Observer
from hdrive_migrate.migrate.run import Engine, MigrateOptions
from hdrive_migrate.migrate.sealing import KEY_FILE, Sealer
from hdrive_migrate.workspace import open_workspace

BIG = os.urandom(7 * CHUNK + 1234)  # eight chunks


@pytest.fixture
def big(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    return prepare(tmp_path, tenant, {"alice": {"big.bin": BIG}}, {"alice": ALICE})


class AfterChunks(Observer):
    """Calls ACTION once CHUNKS chunks have been sent."""

    def __init__(self, chunks: int, action) -> None:
        self.left = chunks
        self.action = action

    def sent(self, size: int) -> None:
        self.left -= 1
        if self.left == 0:
            self.action()


def run_until(setup, chunks: int, *, cancel: bool) -> str:
    """Run with CHUNK-sized chunks and, after CHUNKS chunks, cancel the task (as a kill would
    leave it) or ask the engine to stop cleanly (as Ctrl-C does). Returns the row's state."""

    async def main() -> None:
        with open_workspace(setup.ws) as ws:
            engine = Engine(ws, MigrateOptions(chunk_bytes=CHUNK), Observer())
            task = asyncio.create_task(engine.run("test"))
            stop = task.cancel if cancel else lambda: engine.stop("SIGINT")
            engine.observer = AfterChunks(chunks, stop)
            if cancel:
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                assert (await task).status == "stopped"

    asyncio.run(main())
    return transfers(setup.ws)["big.bin"]["state"]


def assert_whole(setup) -> None:
    item = tenant_item(setup.tenant, ALICE, f"{TARGET}/big.bin")
    assert (item["size"], item["file"]["hashes"]["quickXorHash"]) == (len(BIG), quick_xor(BIG))
    assert transfers(setup.ws)["big.bin"]["state"] == "migrated"


@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "stopped"])
def test_a_run_stopped_mid_file_resumes_from_the_session(big, cancel):
    assert run_until(big, 3, cancel=cancel) == "sending"
    row = transfers(big.ws)["big.bin"]
    assert row["session_sealed"] and "_upload" not in row["session_sealed"]
    result = run_engine(big, chunk_bytes=CHUNK)
    assert result.outcomes["migrated"] == 1
    assert_whole(big)
    # Every byte once, plus at most the one chunk that was cut off.
    assert upload_bytes(big.tenant) <= len(BIG) + CHUNK
    assert transfers(big.ws)["big.bin"]["session_sealed"] is None


def test_a_run_stopped_after_the_last_chunk_commits_without_sending_again(big):
    assert run_until(big, 8, cancel=True) == "sending"
    sent = upload_bytes(big.tenant)
    run_engine(big, chunk_bytes=CHUNK)
    assert_whole(big)
    assert upload_bytes(big.tenant) == sent


def test_a_file_completed_before_its_outcome_was_written_is_not_sent_again(big):
    run_engine(big, chunk_bytes=CHUNK)
    item_id = tenant_item(big.tenant, ALICE, f"{TARGET}/big.bin")["id"]
    # As if killed between the service completing the upload and the outcome being written:
    # the row still says sending, and its session is gone.
    gone = f"{big.tenant.root}/_upload/finished?tempauth=spent"
    with open_workspace(big.ws) as ws:
        ws.db.execute(
            "UPDATE transfers SET state = 'sending', session_sealed = ?, next_offset = ?,"
            " item_id = NULL, ours = 0",
            [Sealer(big.ws).seal(gone), len(BIG)],
        )
        ws.db.conn.commit()
    before = len(big.tenant.requests())
    result = run_engine(big, chunk_bytes=CHUNK)
    assert result.outcomes["migrated"] == 1
    assert upload_bytes(big.tenant, before) == 0
    assert transfers(big.ws)["big.bin"]["item_id"] == item_id


def test_the_session_key_is_private_and_urls_are_never_stored_in_clear(big):
    run_until(big, 2, cancel=True)
    assert (big.ws / KEY_FILE).stat().st_mode & 0o777 == 0o600
    database = b"".join(path.read_bytes() for path in big.ws.glob("state.db*"))
    assert b"tempauth" not in database
    logs = b"".join(path.read_bytes() for path in (big.ws / "logs").glob("*"))
    assert b"tempauth" not in logs


def test_an_upload_abandoned_for_good_is_cancelled(big):
    assert run_until(big, 3, cancel=True) == "sending"
    (big.homes / "alice" / "big.bin").unlink()
    rescan_and_plan(big)
    before = len(big.tenant.requests())
    result = cli(big.ws, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    cancelled = [
        r
        for r in big.tenant.requests()[before:]
        if r["method"] == "DELETE" and r["path"].startswith("/_upload/")
    ]
    assert [r["status"] for r in cancelled] == [204]
    assert transfers(big.ws) == {}
