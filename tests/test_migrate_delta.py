"""Delta passes and refusals against the real local tenant: a re-scan's changes are sent as new
versions of our own files, source deletions are listed (and recycled only when asked), a file
changed since the scan is not migrated, and a reviewer's `migrate` for a link or an over-long
path is refused without a request."""

import os

import pytest
from migrate_setup import (
    LABEL,
    MTIME,
    TARGET,
    cli,
    prepare,
    rescan_and_plan,
    tenant_item,
    transfers,
    upload_bytes,
)
from test_migrate_engine import ALICE, quick_xor

FILES = {"keep.txt": b"keep", "change.txt": b"before", "drop.txt": b"drop", "Sub/x.txt": b"x"}


@pytest.fixture
def migrated(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    setup = prepare(tmp_path, tenant, {"alice": FILES}, {"alice": ALICE})
    first = cli(setup.ws, "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    return setup


def touch(path, data: bytes, mtime: int = MTIME + 3600) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_a_delta_pass_sends_only_what_changed_as_a_new_version(migrated):
    setup = migrated
    old = tenant_item(setup.tenant, ALICE, f"{TARGET}/change.txt")
    touch(setup.homes / "alice" / "change.txt", b"after, and longer")
    touch(setup.homes / "alice" / "new.txt", b"new")
    rescan_and_plan(setup)
    before = len(setup.tenant.requests())
    result = cli(setup.ws, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrated           2 files" in result.stdout
    assert "unchanged          3 files" in result.stdout
    assert upload_bytes(setup.tenant, before) == len(b"after, and longer") + len(b"new")
    new = tenant_item(setup.tenant, ALICE, f"{TARGET}/change.txt")
    assert new["id"] == old["id"]  # the same item, a new version: ours, so replaced
    assert new["file"]["hashes"]["quickXorHash"] == quick_xor(b"after, and longer")
    assert transfers(setup.ws)["change.txt"]["state"] == "migrated"


def test_source_deletions_are_listed_and_recycled_only_when_asked(migrated):
    setup = migrated
    (setup.homes / "alice" / "drop.txt").unlink()
    rescan_and_plan(setup)
    listed = cli(setup.ws, "migrate")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"{ALICE}: 1 file deleted at the source since migrated:" in listed.stdout
    assert f"  {TARGET}/drop.txt" in listed.stdout
    assert tenant_item(setup.tenant, ALICE, f"{TARGET}/drop.txt") is not None

    applied = cli(setup.ws, "migrate", "--apply-source-deletions")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "moved to the recycle bin 1" in applied.stdout
    assert tenant_item(setup.tenant, ALICE, f"{TARGET}/drop.txt") is None
    assert transfers(setup.ws)["drop.txt"]["state"] == "removed"
    again = cli(setup.ws, "migrate", "--apply-source-deletions")
    assert "deleted at the source" not in again.stdout


def test_a_file_changed_since_the_scan_is_not_migrated(migrated):
    setup = migrated
    touch(setup.homes / "alice" / "new.txt", b"new")
    rescan_and_plan(setup)
    touch(setup.homes / "alice" / "new.txt", b"newer, since the scan", MTIME + 7200)
    result = cli(setup.ws, "migrate")
    assert result.returncode == 1
    row = transfers(setup.ws)["new.txt"]
    assert (row["state"], row["reason"]) == ("failed", "changed-during-migration")
    assert "changed since the scan" in row["detail"]
    assert "changed-during-migration: 1 file:" in result.stdout
    assert tenant_item(setup.tenant, ALICE, f"{TARGET}/new.txt") is None


def test_a_reviewers_migrate_for_a_link_or_a_long_path_is_refused(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})
    long_folder = "/".join(["f" * 90] * 5)
    files = {"alice": {"real.txt": b"real", f"{long_folder}/far.txt": b"far"}}
    setup = prepare(tmp_path, tenant, files, {"alice": ALICE})
    os.symlink(setup.homes / "alice" / "real.txt", setup.homes / "alice" / "link.txt")
    rescan_and_plan(setup)
    decided = tmp_path / "decided.csv"
    decided.write_text(
        "upn,path,decision,label\n"
        f"{ALICE},link.txt,migrate,{LABEL}\n"
        f"{ALICE},{long_folder}/far.txt,migrate,{LABEL}\n"
    )
    imported = cli(setup.ws, "review", "import", str(decided), "--reviewer", "Jo Bloggs")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    before = len(setup.tenant.requests())
    result = cli(setup.ws, "migrate")
    assert result.returncode == 1
    rows = transfers(setup.ws)
    assert (rows["link.txt"]["state"], rows["link.txt"]["reason"]) == (
        "failed",
        "link-not-migrated",
    )
    far = rows[f"{long_folder}/far.txt"]
    assert (far["state"], far["reason"]) == ("failed", "path-too-long")
    assert rows["real.txt"]["state"] == "migrated"
    paths = " ".join(r["path"] for r in setup.tenant.requests()[before:])
    assert "link.txt" not in paths and "far.txt" not in paths


def test_a_folder_removed_in_onedrive_since_is_made_again(migrated):
    setup = migrated
    folder = tenant_item(setup.tenant, ALICE, f"{TARGET}/Sub")
    with setup.tenant.client() as client:
        drive = setup.tenant.drive_id(ALICE)
        assert client.delete(f"/drives/{drive}/items/{folder['id']}").status_code == 204
    touch(setup.homes / "alice" / "Sub" / "y.txt", b"y")
    rescan_and_plan(setup)
    result = cli(setup.ws, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tenant_item(setup.tenant, ALICE, f"{TARGET}/Sub/y.txt")["size"] == 1
