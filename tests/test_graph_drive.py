"""DriveClient against the real local tenant: folders, upload sessions, small files, labels,
listing; and the pure pieces (ranges, path encoding) as properties."""

import asyncio
import io
import os
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest
from graph_support import graph, run
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.graph.drive import (
    DriveClient,
    DriveItem,
    encode_path,
    next_offset,
    split_path,
)
from hdrive_migrate.graph.errors import FileFailure, NoDrive, QuotaFull, RestartFile
from hdrive_migrate.hashing import hash_stream

UPN = "alice@contoso.test"
CREATED = datetime(2019, 5, 4, 8, 15, 30, tzinfo=UTC)
MODIFIED = datetime(2023, 11, 20, 17, 45, 10, tzinfo=UTC)
CHUNK = 327_680  # 320 KiB, the unit every non-final chunk is a multiple of
ODD_NAMES = [
    "hash # sign.txt",
    "100% sure.txt",
    "%20 literal.txt",
    "two  spaces and+plus.txt",
    "unicode é ü ß 日本語.txt",
    "full-width ＜ｔａｇ＞：＂ｑ＂.txt",  # noqa: RUF001 (rclone maps forbidden characters so)
    "emoji 😀.txt",
    "semi;colon,comma=eq&amp'quote'.txt",
    "[brackets] (parens) {braces} !@$^.txt",
]


def quick_xor(data: bytes) -> str:
    return hash_stream(io.BytesIO(data))[1]


def requests_since(tenant, count: int) -> list[dict]:
    return tenant.requests()[count:]


async def root_of(drive: DriveClient) -> tuple[str, str]:
    drive_id = await drive.drive_id(UPN)
    return drive_id, await drive.ensure_folder(drive_id, "")


# Pure pieces


@given(
    st.lists(st.integers(0, 10**12), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_next_offset_is_the_first_missing_byte_of_open_or_closed_ranges(starts, closed):
    ranges = [
        f"{start}-{start + 99}" if shut else f"{start}-"
        for start, shut in zip(starts, closed, strict=False)
    ]
    assert next_offset(ranges, 10**13) == min(starts)


def test_no_range_left_means_every_byte_arrived():
    assert next_offset([], 1234) == 1234
    assert next_offset(["26-"], None) == 26
    assert next_offset(["5242880-8255205"], 8255206) == 5242880


@given(st.lists(st.text(min_size=1).filter(lambda name: "/" not in name), max_size=6))
def test_encoded_paths_decode_to_the_same_names(names):
    encoded = encode_path("/".join(names))
    assert [unquote(part) for part in encoded.split("/") if part] == names
    assert not set(encoded) & set("#?% ") - {"%"}
    assert split_path("/" + "//".join(names) + "/") == names


# Drives and items


def test_drive_id_for_a_user_and_no_drive_for_others(tenant):
    async def go():
        async with graph(tenant.url) as g:
            found = await g.drive.drive_id(UPN)
            errors = []
            for upn in ("bob@contoso.test", "nobody@contoso.test"):  # unprovisioned, unknown
                with pytest.raises(NoDrive) as raised:
                    await g.drive.drive_id(upn)
                errors.append(raised.value)
            return found, errors

    found, errors = run(go())
    assert found == tenant.drive_id(UPN)
    assert all(error.status == 404 and "Request-SPOPersonalSite" in str(error) for error in errors)


def test_item_at_finds_files_and_folders_and_none_when_missing(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, _ = await root_of(g.drive)
            folder = await g.drive.ensure_folder(drive_id, "item-at/inner")
            await g.drive.upload_small(
                drive_id, folder, "a.txt", b"abc", created=CREATED, modified=MODIFIED
            )
            return (
                await g.drive.item_at(drive_id, "item-at/inner/a.txt"),
                await g.drive.item_at(drive_id, "item-at/inner"),
                await g.drive.item_at(drive_id, "item-at/missing.txt"),
                await g.drive.item_at(drive_id, ""),
                folder,
            )

    file, folder, missing, root, folder_id = run(go())
    assert (file.name, file.size, file.is_folder, file.quick_xor) == (
        "a.txt",
        3,
        False,
        quick_xor(b"abc"),
    )
    assert (folder.id, folder.is_folder, file.parent_id) == (folder_id, True, folder_id)
    assert missing is None
    assert root.is_folder


# Folders


def test_ensure_folder_creates_parents_once_and_caches(tenant):
    learnt = []

    async def go():
        async with graph(tenant.url) as g:
            drive = DriveClient(g.caller, on_folder=lambda *row: learnt.append(row))
            drive_id, _ = await root_of(drive)
            before = len(tenant.requests())
            deep = await drive.ensure_folder(drive_id, "Migrated/H drive/Docs/2024")
            again = await drive.ensure_folder(drive_id, "/migrated/h DRIVE/docs/2024/")
            return drive_id, deep, again, requests_since(tenant, before)

    drive_id, deep, again, sent = run(go())
    assert deep == again
    assert [(r["method"], r["status"]) for r in sent] == [("POST", 201)] * 4
    assert [path for _, path, _ in learnt] == [
        "Migrated",
        "Migrated/H drive",
        "Migrated/H drive/Docs",
        "Migrated/H drive/Docs/2024",
    ]
    with tenant.client() as client:
        found = client.get(f"/drives/{drive_id}/root:/Migrated/H drive/Docs/2024").json()
    assert found["id"] == deep and "folder" in found


def test_concurrent_ensure_folder_calls_share_one_creation(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, _ = await root_of(g.drive)
            before = len(tenant.requests())
            ids = await asyncio.gather(
                *(g.drive.ensure_folder(drive_id, "race/one/two") for _ in range(10))
            )
            return ids, requests_since(tenant, before)

    ids, sent = run(go())
    assert len(set(ids)) == 1
    assert [r["method"] for r in sent] == ["POST"] * 3


def test_folder_made_by_another_process_is_taken_as_ours(tenant):
    """Two clients (two engines) race for the same folders: one gets 201, the other 409
    nameAlreadyExists, and both end with the same id."""

    async def go():
        async with graph(tenant.url) as first, graph(tenant.url) as second:
            drive_id, _ = await root_of(first.drive)
            await second.drive.ensure_folder(drive_id, "")
            return await asyncio.gather(
                *(
                    client.drive.ensure_folder(drive_id, f"shared/{n}")
                    for n in range(5)
                    for client in (first, second)
                )
            )

    ids = run(go())
    assert [ids[i] for i in range(0, 10, 2)] == [ids[i] for i in range(1, 10, 2)]
    assert len(set(ids)) == 5
    statuses = {r["status"] for r in tenant.requests() if r["method"] == "POST"}
    assert 409 in statuses


def test_a_file_in_the_way_of_a_folder_is_a_file_failure(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            await g.drive.upload_small(
                drive_id, root, "in-the-way", b"x", created=CREATED, modified=MODIFIED
            )
            with pytest.raises(FileFailure) as raised:
                await g.drive.ensure_folder(drive_id, "in-the-way/below")
            return raised.value

    error = run(go())
    assert "file of that name is in the way" in str(error)


def test_seeded_folder_ids_cost_no_request(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, _ = await root_of(g.drive)
            made = await g.drive.ensure_folder(drive_id, "seeded/folder")
            fresh = DriveClient(g.caller, seed={(drive_id, "seeded/folder"): made})
            before = len(tenant.requests())
            found = await fresh.ensure_folder(drive_id, "Seeded/Folder")
            return made, found, requests_since(tenant, before)

    made, found, sent = run(go())
    assert found == made and sent == []


def test_odd_names_round_trip(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, _ = await root_of(g.drive)
            for name in ODD_NAMES:
                folder = await g.drive.ensure_folder(drive_id, f"odd/{name} dir")
                await g.drive.upload_small(
                    drive_id, folder, name, name.encode(), created=CREATED, modified=MODIFIED
                )
            found = [await g.drive.item_at(drive_id, f"odd/{n} dir/{n}") for n in ODD_NAMES]
            walked = {path: item async for path, item in g.drive.walk(drive_id, "odd")}
            return found, walked

    found, walked = run(go())
    assert [item.name for item in found] == ODD_NAMES
    assert [item.size for item in found] == [len(name.encode()) for name in ODD_NAMES]
    assert set(walked) == {f"{n} dir" for n in ODD_NAMES} | {f"{n} dir/{n}" for n in ODD_NAMES}


# Upload sessions


def test_chunked_upload_keeps_times_and_hash_and_reports_each_offset(tenant):
    data = os.urandom(3 * CHUNK + 1234)

    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            session = await g.drive.create_session(
                drive_id, root, "chunked.bin", size=len(data), created=CREATED, modified=MODIFIED
            )
            offsets = [session.next_offset]
            for start in range(0, len(data), CHUNK):
                answer = await g.drive.put_chunk(
                    session.url, data[start : start + CHUNK], start, len(data)
                )
                offsets.append(answer)
                if start == CHUNK:
                    # A status query answers closed ranges ("655360-1004873"): same offset.
                    offsets.append(await g.drive.session_offset(session.url))
            return offsets

    offsets = run(go())
    *progress, item = offsets
    assert progress == [0, CHUNK, 2 * CHUNK, 2 * CHUNK, 3 * CHUNK]
    assert isinstance(item, DriveItem)
    assert (item.size, item.quick_xor) == (len(data), quick_xor(data))
    assert (item.created, item.modified) == (CREATED, MODIFIED)


def test_a_dropped_connection_mid_chunk_is_sent_again(tenant_factory):
    running = tenant_factory(drop_rate=0.5, seed=2)
    data = os.urandom(6 * CHUNK)

    async def go():
        async with graph(running.url) as g:
            drive_id, root = await root_of(g.drive)
            session = await g.drive.create_session(
                drive_id, root, "dropped.bin", size=len(data), created=CREATED, modified=MODIFIED
            )
            answer = None
            for start in range(0, len(data), CHUNK):
                answer = await g.drive.put_chunk(
                    session.url, data[start : start + CHUNK], start, len(data)
                )
            return answer, [r.status for r in g.wire.sent if r.url.path.startswith("/_upload/")]

    item, statuses = run(go())
    assert item.quick_xor == quick_xor(data)
    assert None in statuses  # some chunks got no answer: the tenant cut them off
    assert [status for status in statuses if status] == [202] * 5 + [201]


def test_a_repeated_chunk_gets_the_offset_the_session_expects(tenant):
    data = os.urandom(2 * CHUNK)

    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            session = await g.drive.create_session(
                drive_id, root, "repeat.bin", size=len(data), created=CREATED, modified=MODIFIED
            )
            first = await g.drive.put_chunk(session.url, data[:CHUNK], 0, len(data))
            again = await g.drive.put_chunk(session.url, data[:CHUNK], 0, len(data))
            last = await g.drive.put_chunk(session.url, data[CHUNK:], CHUNK, len(data))
            return first, again, last

    first, again, last = run(go())
    assert first == again == CHUNK
    assert last.quick_xor == quick_xor(data)


def test_gone_sessions_answer_none_and_cancel_is_idempotent(tenant_factory):
    running = tenant_factory(session_ttl=0.5)

    async def go():
        async with graph(running.url) as g:
            drive_id, root = await root_of(g.drive)
            kept = await g.drive.create_session(
                drive_id, root, "cancelled.bin", size=10, created=CREATED, modified=MODIFIED
            )
            expiring = await g.drive.create_session(
                drive_id, root, "expired.bin", size=10, created=CREATED, modified=MODIFIED
            )
            open_offset = await g.drive.session_offset(kept.url)
            await g.drive.cancel(kept.url)
            await g.drive.cancel(kept.url)
            await asyncio.sleep(0.6)  # the tenant's own clock ends the second session
            with pytest.raises(RestartFile):
                await g.drive.put_chunk(expiring.url, b"0123456789", 0, 10)
            return (
                open_offset,
                await g.drive.session_offset(kept.url),
                await g.drive.session_offset(expiring.url),
            )

    assert run(go()) == (0, None, None)


def test_deferred_commit_waits_for_the_commit(tenant):
    data = os.urandom(CHUNK + 10)

    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            session = await g.drive.create_session(
                drive_id,
                root,
                "deferred.bin",
                size=len(data),
                created=CREATED,
                modified=MODIFIED,
                defer_commit=True,
            )
            await g.drive.put_chunk(session.url, data[:CHUNK], 0, len(data))
            last = await g.drive.put_chunk(session.url, data[CHUNK:], CHUNK, len(data))
            waiting = await g.drive.session_offset(session.url, total=len(data))
            before = await g.drive.item_at(drive_id, "deferred.bin")
            item = await g.drive.commit(session.url)
            return last, waiting, before, item

    last, waiting, before, item = run(go())
    assert last == waiting == len(data)
    assert before is None
    assert item.quick_xor == quick_xor(data) and item.modified == MODIFIED


def test_a_full_drive_refuses_the_session_as_quota_full(tenant_factory):
    running = tenant_factory(drive_quota=1000)

    async def go():
        async with graph(running.url) as g:
            drive_id, root = await root_of(g.drive)
            with pytest.raises(QuotaFull) as raised:
                await g.drive.create_session(
                    drive_id, root, "big.bin", size=5000, created=CREATED, modified=MODIFIED
                )
            return raised.value

    assert run(go()).status == 507


# Small files


@pytest.mark.parametrize("data", [b"", b"small file body"], ids=["zero-byte", "small"])
def test_small_files_keep_times_in_two_requests(tenant, data):
    name = f"small-{len(data)}.txt"

    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            before = len(tenant.requests())
            item = await g.drive.upload_small(
                drive_id, root, name, data, created=CREATED, modified=MODIFIED
            )
            return item, requests_since(tenant, before)

    item, sent = run(go())
    assert (item.name, item.size, item.quick_xor) == (name, len(data), quick_xor(data))
    assert (item.created, item.modified) == (CREATED, MODIFIED)
    assert len(sent) == 2
    with tenant.client() as client:
        stored = client.get(f"/drives/{tenant.drive_id(UPN)}/root:/{name}").json()
    assert stored["fileSystemInfo"]["lastModifiedDateTime"] == "2023-11-20T17:45:10Z"


@pytest.mark.parametrize("data", [b"", b"new"], ids=["zero-byte", "small"])
def test_conflict_behaviours(tenant, data):
    name = f"conflict-{len(data)}.txt"

    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            first = await g.drive.upload_small(
                drive_id, root, name, b"old!", created=CREATED, modified=MODIFIED
            )
            with pytest.raises(FileFailure) as refused:
                await g.drive.upload_small(
                    drive_id, root, name, data, created=CREATED, modified=MODIFIED
                )
            beside = await g.drive.upload_small(
                drive_id, root, name, data, created=CREATED, modified=MODIFIED, conflict="rename"
            )
            replaced = await g.drive.upload_small(
                drive_id, root, name, data, created=CREATED, modified=MODIFIED, conflict="replace"
            )
            return first, refused.value, beside, replaced

    first, refused, beside, replaced = run(go())
    assert (refused.status, refused.code) == (409, "nameAlreadyExists")
    assert not isinstance(refused, RestartFile)
    assert beside.name == f"conflict-{len(data)} 1.txt" and beside.id != first.id
    assert replaced.id == first.id and replaced.size == len(data)


def test_a_second_session_for_an_open_name_is_refused(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            await g.drive.create_session(
                drive_id, root, "open.bin", size=1, created=CREATED, modified=MODIFIED
            )
            with pytest.raises(FileFailure) as raised:
                await g.drive.upload_small(
                    drive_id, root, "open.bin", b"x", created=CREATED, modified=MODIFIED
                )
            return raised.value

    assert run(go()).code == "nameAlreadyExists"


# Labels, listing, deleting


def test_set_label_applies_a_retention_label(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            item = await g.drive.upload_small(
                drive_id, root, "labelled.txt", b"x", created=CREATED, modified=MODIFIED
            )
            await g.drive.set_label(drive_id, item.id, "People records")
            return drive_id, item.id

    drive_id, item_id = run(go())
    with tenant.client() as client:
        label = client.get(f"/drives/{drive_id}/items/{item_id}/retentionLabel").json()
    assert label["name"] == "People records"


def test_rename_keeps_the_item_and_never_replaces_another(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            item = await g.drive.upload_small(
                drive_id, root, ".partial draft.txt", b"mine", created=CREATED, modified=MODIFIED
            )
            other = await g.drive.upload_small(
                drive_id, root, "taken.txt", b"theirs", created=CREATED, modified=MODIFIED
            )
            renamed = await g.drive.rename(drive_id, item.id, "draft.txt")
            with pytest.raises(FileFailure) as refused:
                await g.drive.rename(drive_id, item.id, "taken.txt")
            kept = await g.drive.item_at(drive_id, "taken.txt")
            return item, renamed, refused.value, other, kept

    item, renamed, refused, other, kept = run(go())
    assert (renamed.id, renamed.name, renamed.quick_xor) == (item.id, "draft.txt", item.quick_xor)
    assert (renamed.created, renamed.modified) == (CREATED, MODIFIED)
    assert (refused.status, refused.code) == (409, "nameAlreadyExists")
    assert (kept.id, kept.quick_xor) == (other.id, other.quick_xor)


def test_walk_follows_next_links_through_every_level(tenant):
    files = ["w/a.txt", "w/b.txt", "w/c.txt", "w/d/e.txt", "w/d/f.txt", "w/d/g/h.txt"]

    async def go():
        async with graph(tenant.url) as g:
            drive_id, _ = await root_of(g.drive)
            for path in files:
                folder, _, name = path.rpartition("/")
                parent = await g.drive.ensure_folder(drive_id, f"walk/{folder}")
                await g.drive.upload_small(
                    drive_id, parent, name, path.encode(), created=CREATED, modified=MODIFIED
                )
            before = len(tenant.requests())
            walked = {p: item async for p, item in g.drive.walk(drive_id, "walk", page=2)}
            missing = [p async for p, _ in g.drive.walk(drive_id, "no-such-folder")]
            return walked, requests_since(tenant, before), missing

    walked, sent, missing = run(go())
    assert {p for p, item in walked.items() if not item.is_folder} == set(files)
    assert {p for p, item in walked.items() if item.is_folder} == {"w", "w/d", "w/d/g"}
    assert walked["w/d/g/h.txt"].quick_xor == quick_xor(b"w/d/g/h.txt")
    assert len(sent) > 4  # pages of two: the next links were followed
    assert missing == []


def test_delete_moves_to_the_recycle_bin_and_tolerates_gone_items(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            item = await g.drive.upload_small(
                drive_id, root, "deleted.txt", b"x", created=CREATED, modified=MODIFIED
            )
            await g.drive.delete(drive_id, item.id)
            await g.drive.delete(drive_id, item.id)
            return await g.drive.item_at(drive_id, "deleted.txt")

    assert run(go()) is None


def test_upload_session_repr_hides_the_url(tenant):
    async def go():
        async with graph(tenant.url) as g:
            drive_id, root = await root_of(g.drive)
            return await g.drive.create_session(
                drive_id, root, "repr.bin", size=1, created=CREATED, modified=MODIFIED
            )

    session = run(go())
    assert httpx.URL(session.url).params["tempauth"] not in repr(session)
