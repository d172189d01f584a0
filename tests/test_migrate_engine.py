"""The migration engine end to end against the real local tenant: a wave arrives intact and
verified, a re-run sends nothing, clashes keep the other file, an unprovisioned OneDrive
blocks its user, and a dry run sends nothing."""

import base64
import json
import os
from datetime import UTC, datetime

import pytest
import quickxorhash
from migrate_setup import (
    CHUNK,
    LABEL,
    MIB,
    MTIME,
    TARGET,
    cli,
    prepare,
    put_file,
    run_engine,
    tenant_item,
    tenant_label,
    transfers,
)

from hdrive_migrate.workspace import open_workspace

ALICE = "alice@contoso.test"
BOB = "bob@contoso.test"  # the conftest tenant's user whose OneDrive is not provisioned
CAROL = "carol@contoso.test"


def quick_xor(data: bytes) -> str:
    hasher = quickxorhash.quickxorhash()
    hasher.update(data)
    return base64.b64encode(hasher.digest()).decode()


def alice_files() -> dict[str, bytes]:
    return {
        "Documents/report.docx": b"report " * 100,
        "Documents/empty.txt": b"",
        "Documents/Deep/er/notes #1 100%.txt": "naïve café".encode(),
        "Pictures/big.bin": os.urandom(int(1.3 * MIB)),
        "top.txt": b"top",
    }


@pytest.fixture
def wave(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    files = {"alice": alice_files(), "carol": {"todo.txt": b"carol's todo"}}
    return prepare(tmp_path, tenant, files, {"alice": ALICE, "carol": CAROL}), files


def assert_arrived(setup, upn: str, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        item = tenant_item(setup.tenant, upn, f"{TARGET}/{path}")
        assert item is not None, path
        assert item["size"] == len(data), path
        assert item["file"]["hashes"]["quickXorHash"] == quick_xor(data), path
        modified = datetime.fromisoformat(item["fileSystemInfo"]["lastModifiedDateTime"])
        assert modified == datetime.fromtimestamp(MTIME, UTC), path
        assert tenant_label(setup.tenant, upn, item["id"]) == LABEL, path


def test_a_wave_arrives_verified_and_a_rerun_sends_nothing(wave):
    setup, files = wave
    result = cli(setup.ws, "migrate", "--wave", "W1", "--concurrency", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_arrived(setup, ALICE, files["alice"])
    assert_arrived(setup, CAROL, files["carol"])
    rows = transfers(setup.ws)
    assert {row["state"] for row in rows.values()} == {"migrated"}
    assert all(row["ours"] == 1 and row["item_id"] for row in rows.values())
    assert "migrated           6 files" in result.stdout

    # Without --concurrency, the workspace's [migrate] concurrency applies.
    config = setup.ws / "hdrive.toml"
    assert "concurrency = 16\n" in config.read_text()
    config.write_text(config.read_text().replace("concurrency = 16\n", "concurrency = 3\n"))
    before = len(setup.tenant.requests())
    again = cli(setup.ws, "migrate", "--wave", "W1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "unchanged          6 files" in again.stdout
    sent = [r for r in setup.tenant.requests()[before:] if r["method"] in ("PUT", "POST", "PATCH")]
    assert sent == []
    with open_workspace(setup.ws) as ws:
        runs = ws.db.execute("SELECT concurrency FROM migrate_runs ORDER BY id").fetchall()
        disclosed = ws.db.execute(
            "SELECT subject, detail FROM events WHERE action = 'migrate.user_finished' ORDER BY id"
        ).fetchall()
    assert runs == [(4,), (3,)]
    # The audit log says what each run sent to the cloud, per person, without a file name.
    first = {upn: json.loads(detail) for upn, detail in disclosed[:2]}
    assert sorted(first) == sorted([ALICE, CAROL])
    assert first[ALICE]["uploaded_files"] == len(files["alice"])
    assert not any(name in detail for _, detail in disclosed for name in files["alice"])


def test_large_files_go_in_chunks_and_arrive_whole(wave):
    setup, files = wave
    result = run_engine(setup, wave="W1", chunk_bytes=CHUNK)
    assert result.status == "finished"
    assert result.outcomes["migrated"] == 6
    assert_arrived(setup, ALICE, files["alice"])
    chunks = [
        r
        for r in setup.tenant.requests()
        if r["path"].startswith("/_upload/") and r["method"] == "PUT"
    ]
    big = len(files["alice"]["Pictures/big.bin"])
    assert len(chunks) == -(-big // CHUNK) + 4  # the big file's chunks, one PUT per small file
    assert all(
        r["bytes"] % CHUNK == 0 or r["bytes"] < CHUNK or r["bytes"] == big % CHUNK for r in chunks
    )


def test_someone_elses_file_is_kept_and_ours_goes_beside_it(wave):
    setup, files = wave
    theirs = put_file(setup.tenant, ALICE, f"{TARGET}/Documents/report.docx", b"their report")
    same = put_file(setup.tenant, ALICE, f"{TARGET}/top.txt", files["alice"]["top.txt"])
    result = cli(setup.ws, "migrate", "--user", ALICE)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = tenant_item(setup.tenant, ALICE, f"{TARGET}/Documents/report.docx")
    assert (kept["id"], kept["size"]) == (theirs["id"], len(b"their report"))
    beside = tenant_item(setup.tenant, ALICE, f"{TARGET}/Documents/report (2).docx")
    assert beside["file"]["hashes"]["quickXorHash"] == quick_xor(
        files["alice"]["Documents/report.docx"]
    )
    rows = transfers(setup.ws)
    assert rows["Documents/report.docx"]["state"] == "renamed"
    assert rows["Documents/report.docx"]["target_path"] == f"{TARGET}/Documents/report (2).docx"
    assert rows["top.txt"]["state"] == "skipped-identical"
    assert (rows["top.txt"]["item_id"], rows["top.txt"]["ours"]) == (same["id"], 0)
    assert "renamed            1 file" in result.stdout
    assert "skipped-identical  1 file" in result.stdout

    again = cli(setup.ws, "migrate", "--user", ALICE)
    assert "unchanged          5 files" in again.stdout
    assert tenant_item(setup.tenant, ALICE, f"{TARGET}/Documents/report (3).docx") is None


def test_an_unprovisioned_onedrive_blocks_its_user_and_the_others_go_on(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    files = {"alice": {"a.txt": b"a"}, "bob": {"b.txt": b"b", "c/d.txt": b"d"}}
    setup = prepare(tmp_path, tenant, files, {"alice": ALICE, "bob": BOB})
    result = cli(setup.ws, "migrate")
    assert result.returncode == 1
    assert f"✗ {BOB}: blocked, no-onedrive" in result.stdout
    assert "Request-SPOPersonalSite" in result.stdout
    rows = transfers(setup.ws)
    assert rows["a.txt"]["state"] == "migrated"
    assert {rows[p]["state"] for p in ("b.txt", "c/d.txt")} == {"blocked"}
    assert {rows[p]["reason"] for p in ("b.txt", "c/d.txt")} == {"no-onedrive"}
    assert "blocked            2 files" in result.stdout


def test_a_dry_run_forecasts_and_sends_nothing(wave):
    setup, _ = wave
    before = len(setup.tenant.requests())
    result = cli(setup.ws, "migrate", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert len(setup.tenant.requests()) == before
    total = result.stdout.splitlines()[-2].split()
    assert total[0] == "total" and total[1] == "6"
    # The forecast is what the run then does, request for request.
    run = cli(setup.ws, "migrate", "--wave", "W1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert int(total[4].replace(",", "")) == len(setup.tenant.requests()) - before


def test_a_full_onedrive_blocks_its_user_with_the_fix(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL}, drive_quota=5000)
    files = {"alice": {"small.txt": b"s" * 100, "huge.bin": os.urandom(20_000)}}
    setup = prepare(tmp_path, tenant, files, {"alice": ALICE})
    result = cli(setup.ws, "migrate", "--concurrency", "1")
    assert result.returncode == 1
    assert f"✗ {ALICE}: blocked, quota-full" in result.stdout
    assert "storage limit" in result.stdout
    rows = transfers(setup.ws)
    assert rows["huge.bin"]["state"] == "blocked"
    assert rows["huge.bin"]["reason"] == "quota-full"
    with open_workspace(setup.ws) as ws:
        (block,) = ws.db.execute("SELECT upn, reason FROM user_blocks").fetchall()
    assert block == (ALICE, "quota-full")
