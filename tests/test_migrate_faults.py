"""Issue 8's fault rehearsals: `hdrive-migrate migrate` against a real local tenant injecting one
fault at a time, then all of them together. Each ends the same way (migrate_checks.py): every
file the plan migrates is in OneDrive with the source's size, QuickXorHash and modified time,
read back through the tenant's Graph API, and every other planned file has one recorded outcome
with its reason; nothing else is in the target folders.

Chunks are `[migrate] chunk_mib = 1` (960 KiB once rounded down to a multiple of 320 KiB), so
the large files here go in several chunks; files above 64 KiB let the tenant drop a connection
part-way through a body.
"""

import asyncio
import itertools
import os
import random
import threading
import time

import httpx
import pytest
from migrate_checks import (
    assert_accounted,
    content,
    quick_xor,
    set_chunk_mib,
    states,
    tenant_item,
    tenant_put,
    transfers,
)
from migrate_setup import CHUNK, LABEL, MTIME, TARGET, Setup, cli, prepare

from hdrive_migrate.migrate.progress import Observer
from hdrive_migrate.migrate.run import Engine, MigrateOptions
from hdrive_migrate.migrate.transfer import RESTARTS
from hdrive_migrate.workspace import open_workspace

ALICE = "alice@contoso.test"
BOB = "bob@contoso.test"  # provisioned=false in conftest's DEFAULT_USERS: no OneDrive
CAROL = "carol@contoso.test"
KIB = 1024
CHUNK_BYTES = 3 * CHUNK  # chunk_mib = 1, rounded down to a multiple of 320 KiB
# The tenant sends Retry-After in whole seconds (delta-seconds), so this is answered as 1 s.
RETRY_AFTER = 0.1
CONCURRENCY = 4
SEED = 8


def home(seed: int) -> dict[str, bytes]:
    """One user's H: drive: empty, small, one-chunk files above 64 KiB and multi-chunk ones."""
    sizes = {
        "empty.txt": 0,
        "top.txt": 3,
        "Documents/letter.docx": 5 * KIB,
        "Documents/notes #1 100%.txt": 40 * KIB,
        "Documents/Deep/er/sheet.xlsx": 64 * KIB + 1,
        "Documents/Deep/report.pdf": 300 * KIB,
        "Pictures/photo.jpg": 700 * KIB,
        "Pictures/video.mp4": 2 * CHUNK_BYTES + 12_345,
        "Archive/backup.zip": 3 * CHUNK_BYTES,
    }
    return {path: content(seed * 100 + n, size) for n, (path, size) in enumerate(sizes.items())}


def small_home(seed: int) -> dict[str, bytes]:
    """Fewer files, one of each kind, where every request may cost a second of Retry-After."""
    files = home(seed)
    kept = ("empty.txt", "top.txt", "Documents/Deep/er/sheet.xlsx", "Pictures/video.mp4")
    return {path: files[path] for path in kept}


def wave(
    tmp_path,
    tenant_factory,
    users: dict[str, str] | None = None,
    make=home,
    seed: int = SEED,
    **faults,
) -> Setup:
    """A planned workspace for USERS (folder -> upn; alice by default), each user's files
    from MAKE, against a tenant injecting FAULTS drawn from SEED, with one-MiB chunks."""
    users = users or {"alice": ALICE}
    tenant = tenant_factory(retention_labels={LABEL}, seed=seed, **faults)
    files = {folder: make(n + 1) for n, folder in enumerate(users)}
    setup = prepare(tmp_path, tenant, files, users)
    set_chunk_mib(setup.ws, 1)
    return setup


def migrate(setup: Setup, *args: str, concurrency: int = CONCURRENCY):
    result = cli(setup.ws, "migrate", "--concurrency", str(concurrency), *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def assert_chunked(setup: Setup) -> None:
    """The run used the configured chunk, so the large files went in several."""
    with open_workspace(setup.ws) as ws:
        sizes = {row[0] for row in ws.db.execute("SELECT chunk_bytes FROM migrate_runs")}
    assert sizes == {CHUNK_BYTES}, f"runs used chunks of {sizes}, not chunk_mib = 1"


def faults_seen(setup: Setup, statuses: set[int]) -> list[int]:
    """The statuses among STATUSES the tenant answered the engine (not these checks) with."""
    return [
        r["status"]
        for r in setup.tenant.requests()
        if r["status"] in statuses and "hdrive-migrate" in r["user_agent"]
    ]


def assert_all_migrated(setup: Setup) -> dict:
    rows = assert_accounted(setup)
    assert states(rows) == {"migrated": len(rows)}, {k: v["reason"] for k, v in rows.items()}
    return rows


# One fault at a time


def test_thirty_percent_throttling(tmp_path, tenant_factory):
    setup = wave(
        tmp_path, tenant_factory, make=small_home, throttle_rate=0.3, retry_after=RETRY_AFTER
    )
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_migrated(setup)
    assert faults_seen(setup, {429})
    assert_chunked(setup)


def test_five_percent_server_errors(tmp_path, tenant_factory):
    # A seed whose draws give 503 (with Retry-After), 502 and 504 among the first requests.
    setup = wave(tmp_path, tenant_factory, seed=16, error_rate=0.05, retry_after=RETRY_AFTER)
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_migrated(setup)
    assert len(set(faults_seen(setup, {500, 502, 503, 504}))) >= 2
    assert_chunked(setup)


def seed_dropping(rate: float, among: range, drops: int) -> int:
    """A tenant seed under which at least DROPS of the requests with a body numbered AMONG are
    dropped at RATE: with only --drop-rate set, the tenant draws one number per such request
    (tenant/faults.py FaultPlan), so the drops come where the requests are chunks whatever the
    order the workers send in, while the rate stays the one asked for."""
    for seed in itertools.count():
        draw = random.Random(seed).random
        dropped = [n for n in range(among.stop) if draw() < rate]
        if sum(n in among for n in dropped) >= drops:
            return seed
    raise AssertionError("unreachable: itertools.count() never ends")


def test_two_percent_dropped_connections_mid_chunk(tmp_path, tenant_factory):
    """Three files of 15 chunks each: after the folder and the three sessions (the first few
    requests with a body), the next forty are chunks until the files end."""
    home = {f"Video/take{n}.mov": content(n, 15 * CHUNK_BYTES) for n in range(3)}
    seed = seed_dropping(0.02, among=range(8, 40), drops=2)
    tenant = tenant_factory(retention_labels={LABEL}, seed=seed, drop_rate=0.02)
    setup = prepare(tmp_path, tenant, {"alice": home}, {"alice": ALICE})
    set_chunk_mib(setup.ws, 1)
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_migrated(setup)
    # The request log marks a dropped request with status 0 (or 499), and the bytes the
    # tenant took before it closed the connection: 64 KiB of a chunk's body.
    dropped = [r for r in tenant.requests() if r["status"] in (0, 499)]
    assert len(dropped) >= 2
    assert any(r["path"].startswith("/_upload/") and r["bytes"] >= 64 * KIB for r in dropped)
    assert_chunked(setup)


class AfterFullChunks(Observer):
    """Calls ACTION once CHUNKS full chunks (parts of large files, mid-file) were sent."""

    def __init__(self, chunks: int, action) -> None:
        self.left = chunks
        self.action = action

    def sent(self, size: int) -> None:
        if size == CHUNK_BYTES:
            self.left -= 1
            if self.left == 0:
                self.action()


def stop_part_way(setup: Setup, chunks: int, *, cancel: bool = False) -> None:
    """Run in this process until CHUNKS full chunks were sent, then stop cleanly (as Ctrl-C
    does) or, with CANCEL, abandon the run at once, mid-request (as a kill leaves it)."""

    async def main() -> None:
        with open_workspace(setup.ws) as ws:
            options = MigrateOptions(concurrency=CONCURRENCY, chunk_bytes=CHUNK_BYTES)
            engine = Engine(ws, options, Observer())
            task = asyncio.create_task(engine.run("test"))
            engine.observer = AfterFullChunks(
                chunks, task.cancel if cancel else lambda: engine.stop("SIGINT")
            )
            if cancel:
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                assert (await task).status == "stopped"

    asyncio.run(main())


EXPIRING = {
    # Idle: no fragment for longer than the session's life.
    "idle": {"session_ttl": 2.5},
    # The URL's own token ends first (it is never extended), then the session.
    "url-token": {"upload_url_ttl": 2.0, "session_ttl": 3.0},
}


@pytest.mark.parametrize("lifetimes", EXPIRING.values(), ids=EXPIRING.keys())
def test_sessions_expiring(tmp_path, tenant_factory, lifetimes):
    """Upload sessions left open by a stopped run expire before the next run: it asks each
    where to go on, hears it is gone, starts that file anew, and each arrives once."""
    setup = wave(tmp_path, tenant_factory, **lifetimes)
    stop_part_way(setup, chunks=1)
    open_sessions = [row for row in transfers(setup.ws).values() if row["state"] == "sending"]
    assert open_sessions, "the stopped run left no upload session open to expire"
    time.sleep(3.5)
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_migrated(setup)
    # The resumed run asked each session where to go on, and heard it was gone.
    answers = [r["status"] for r in setup.tenant.requests() if r["path"].startswith("/_upload/")]
    assert {404, 401} & set(answers)


class Stall(httpx.AsyncHTTPTransport):
    """A network stall longer than an upload session's life: holds back the second chunk of
    each of the first STALLS sessions for SECONDS before it leaves."""

    def __init__(self, stalls: int, seconds: float) -> None:
        super().__init__()
        self.left = stalls
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chunk = request.method == "PUT" and request.url.path.startswith("/_upload/")
        if chunk and self.left and not request.headers["Content-Range"].startswith("bytes 0-"):
            self.left -= 1
            await asyncio.sleep(self.seconds)
        return await super().handle_async_request(request)


@pytest.mark.parametrize(
    ("stalls", "outcome"),
    [
        (1, ("migrated", None)),
        (RESTARTS, ("migrated", None)),
        (RESTARTS + 1, ("failed", "upload-session-lost")),
    ],
    ids=["once", "as-often-as-allowed", "once-too-often"],
)
def test_a_session_lost_while_held_starts_the_file_anew(tmp_path, tenant_factory, stalls, outcome):
    """Sessions live 1 s; a stall of 1.5 s mid-file lets the one in use expire (404): the file
    starts anew in a new session, up to RESTARTS times in a run, and arrives whole; one loss
    more fails it `upload-session-lost`, with nothing of it left in OneDrive."""
    files = {"video.mp4": content(1, 3 * CHUNK_BYTES + 7), "note.txt": content(2, KIB)}
    tenant = tenant_factory(retention_labels={LABEL}, session_ttl=1)
    setup = prepare(tmp_path, tenant, {"alice": files}, {"alice": ALICE})

    async def main() -> None:
        with open_workspace(setup.ws) as ws:
            options = MigrateOptions(concurrency=1, chunk_bytes=CHUNK_BYTES)
            engine = Engine(ws, options, Observer(), transport=Stall(stalls, 1.5))
            assert (await engine.run("test")).status == "finished"

    asyncio.run(main())
    rows = assert_accounted(setup)
    video = rows[(ALICE, "video.mp4")]
    assert (video["state"], video["reason"]) == outcome, video
    assert rows[(ALICE, "note.txt")]["state"] == "migrated"
    lost = [
        r
        for r in tenant.requests()
        if r["path"].startswith("/_upload/") and r["method"] == "PUT" and r["status"] == 404
    ]
    assert len(lost) == stalls


def test_an_unprovisioned_onedrive(tmp_path, tenant_factory):
    setup = wave(tmp_path, tenant_factory, users={"alice": ALICE, "bob": BOB})
    result = migrate(setup)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"✗ {BOB}: blocked, no-onedrive" in result.stdout
    rows = assert_accounted(setup)
    assert {row["state"] for (upn, _), row in rows.items() if upn == ALICE} == {"migrated"}
    bobs = [row for (upn, _), row in rows.items() if upn == BOB]
    assert {(row["state"], row["reason"]) for row in bobs} == {("blocked", "no-onedrive")}


def test_a_full_quota(tmp_path, tenant_factory):
    """The drive's quota fills while a large file is on its way: another file committed
    meanwhile took the room its last chunks needed. The user is blocked `quota-full` and every
    file is accounted for: the large one too, never left half-sent without an outcome."""
    files = {
        "a/big.bin": content(1, 5 * CHUNK_BYTES),
        "b/small.bin": content(2, 300 * KIB),
        "c/later.txt": content(3, KIB),
    }
    quota = len(files["a/big.bin"]) + 100 * KIB
    tenant = tenant_factory(retention_labels={LABEL}, seed=SEED, drive_quota=quota)
    setup = prepare(tmp_path, tenant, {"alice": files}, {"alice": ALICE})
    set_chunk_mib(setup.ws, 1)
    result = migrate(setup, concurrency=2)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"✗ {ALICE}: blocked, quota-full" in result.stdout
    rows = assert_accounted(setup)
    assert rows[(ALICE, "b/small.bin")]["state"] == "migrated"
    big = rows[(ALICE, "a/big.bin")]
    assert (big["state"], big["reason"]) == ("blocked", "quota-full"), big
    with open_workspace(setup.ws) as ws:
        assert ws.db.execute("SELECT reason FROM user_blocks").fetchall() == [("quota-full",)]
    arrived = sum(row["source_size"] for row in rows.values() if row["state"] == "migrated")
    assert arrived <= quota
    assert_chunked(setup)


class Rewriter(threading.Thread):
    """Rewrites PATH over and over, as a user saving a document: new bytes each time, the size
    kept and, every other time, the modified time put back as it was (as some editors and
    copy tools do), until stopped; then puts the original back exactly."""

    def __init__(self, path, original: bytes) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.original = original
        self.halt = threading.Event()
        self.writes = 0

    def run(self) -> None:
        while not self.halt.wait(0.01):
            data = os.urandom(len(self.original))
            with open(self.path, "r+b") as stream:
                for offset in range(0, len(data), 256 * KIB):
                    stream.write(data[offset : offset + 256 * KIB])
                    stream.flush()
            if self.writes % 2:
                os.utime(self.path, (MTIME, MTIME))
            self.writes += 1
        self.path.write_bytes(self.original)
        os.utime(self.path, (MTIME, MTIME))


def test_a_file_changing_during_upload(tmp_path, tenant_factory):
    """A large file rewritten while the run reads it is never committed with bytes other than
    the source's: it ends `changed-during-migration` (or, had a read caught it whole, migrated
    with exactly those bytes); the other files arrive."""
    setup = wave(tmp_path, tenant_factory, users={"alice": ALICE})
    changing = "Archive/backup.zip"
    path = setup.homes / "alice" / changing
    writer = Rewriter(path, path.read_bytes())
    writer.start()
    try:
        # Reads slowed to about 2 MB/s, so the rewrites land while the file is being read.
        result = migrate(setup, "--max-mbps", "16")
    finally:
        writer.halt.set()
        writer.join()
    assert writer.writes > 0
    rows = assert_accounted(setup)
    row = rows[(ALICE, changing)]
    assert row["state"] in ("failed", "migrated"), row
    if row["state"] == "failed":
        assert row["reason"] == "changed-during-migration", row
        assert tenant_item(setup.tenant, ALICE, f"{TARGET}/{changing}") is None
        assert result.returncode == 1
    others = {key: row for key, row in rows.items() if key != (ALICE, changing)}
    assert {row["state"] for row in others.values()} == {"migrated"}


def their(path: str) -> bytes:
    return b"their version of " + path.encode()


def test_a_clashing_file_already_in_onedrive(tmp_path, tenant_factory):
    """Someone else's files at the target paths, with other content, are kept as they were;
    ours go beside them as `renamed`. One with the same content is `skipped-identical`."""
    setup = wave(tmp_path, tenant_factory, users={"alice": ALICE})
    files = home(1)
    theirs = {
        path: tenant_put(setup.tenant, ALICE, f"{TARGET}/{path}", their(path))
        for path in ("Documents/letter.docx", "Pictures/video.mp4")
    }
    same = tenant_put(setup.tenant, ALICE, f"{TARGET}/top.txt", files["top.txt"])
    result = migrate(setup)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = assert_accounted(setup, others={(ALICE, f"{TARGET}/{path}") for path in theirs})
    for path, before in theirs.items():
        kept = tenant_item(setup.tenant, ALICE, f"{TARGET}/{path}")
        assert (kept["id"], kept["file"]["hashes"]["quickXorHash"]) == (
            before["id"],
            quick_xor(their(path)),
        )
        row = rows[(ALICE, path)]
        assert row["state"] == "renamed", row
        stem, dot, extension = path.rpartition(".")
        assert row["target_path"] == f"{TARGET}/{stem} (2){dot}{extension}"
    found = rows[(ALICE, "top.txt")]
    assert (found["state"], found["item_id"], found["ours"]) == ("skipped-identical", same["id"], 0)


# All together


def test_all_faults_together(tmp_path, tenant_factory):
    """Throttling, server errors, dropped connections and short-lived sessions, in one wave
    with an unprovisioned OneDrive (bob), a quota too small for one user's home (carol), a
    file rewritten during the run and someone else's file at a target path (alice's);
    abandoned mid-file and run again after the sessions it left open have expired.

    Sessions live 3 s here (far longer than one chunk takes to send), so they also expire
    during the run whenever throttling holds a file longer: the engine starts that file anew
    (up to transfer.RESTARTS times), and every file still arrives, none half-sent."""
    alice = {**small_home(1), "Documents/letter.docx": content(11, 5 * KIB)}
    alice["Archive/backup.zip"] = content(12, 2 * CHUNK_BYTES + 1)
    quota = 5 * CHUNK_BYTES  # all of alice's home fits; carol's huge file does not
    assert sum(map(len, alice.values())) <= quota
    carol = {"Big/huge.bin": content(30, quota + 1), "notes.txt": content(31, 2 * KIB)}
    tenant = tenant_factory(
        retention_labels={LABEL},
        seed=SEED,
        throttle_rate=0.3,
        retry_after=RETRY_AFTER,
        error_rate=0.05,
        drop_rate=0.02,
        session_ttl=3,
        drive_quota=quota,
    )
    files = {"alice": alice, "bob": {"b.txt": b"b", "c/d.bin": content(20, 100 * KIB)}}
    setup = prepare(
        tmp_path, tenant, {**files, "carol": carol}, {"alice": ALICE, "bob": BOB, "carol": CAROL}
    )
    set_chunk_mib(setup.ws, 1)
    clash = f"{TARGET}/Documents/letter.docx"
    tenant_put(tenant, ALICE, clash, b"their letter")

    stop_part_way(setup, chunks=1, cancel=True)
    time.sleep(3.5)  # the sessions the abandoned run left open expire
    path = setup.homes / "alice" / "Archive/backup.zip"
    writer = Rewriter(path, path.read_bytes())
    writer.start()
    try:
        result = migrate(setup)
    finally:
        writer.halt.set()
        writer.join()
    assert result.returncode == 1, result.stdout + result.stderr
    rows = assert_accounted(setup, others={(ALICE, clash)})
    assert {row["reason"] for (upn, _), row in rows.items() if upn == BOB} == {"no-onedrive"}
    assert rows[(CAROL, "Big/huge.bin")]["reason"] == "quota-full"
    assert rows[(ALICE, "Documents/letter.docx")]["state"] == "renamed"
    changing = rows[(ALICE, "Archive/backup.zip")]
    assert (changing["state"], changing["reason"]) in (
        ("failed", "changed-during-migration"),
        ("migrated", None),
    )
    rest = [row for (upn, path), row in rows.items() if upn == ALICE and path in small_home(1)]
    assert {(row["state"], row["reason"]) for row in rest} == {("migrated", None)}, rest
    expired = [r for r in tenant.requests() if r["path"].startswith("/_upload/")]
    assert 404 in {r["status"] for r in expired}, "no upload session expired"
    assert_chunked(setup)
