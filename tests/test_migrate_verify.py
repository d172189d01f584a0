"""`hdrive-migrate verify` against the real local tenant: files migrated by `hdrive-migrate
migrate`, then deleted, changed, moved and added through the tenant's own Graph API; verify
must find each, record it, and exit non-zero."""

import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from migrate_setup import LABEL, TARGET, cli, prepare
from typer.testing import CliRunner

from hdrive_migrate.cli import app
from hdrive_migrate.migrate.verify import CHANGED, MISSING, OK, Listed, Sent, judge

ALICE, CAROL = "alice@contoso.test", "carol@contoso.test"
FILES = {
    "alice": {
        "Documents/report.docx": b"quarterly report " * 40,
        "Documents/notes.txt": b"notes",
        "Documents/Cases/statement.docx": b"statement of facts",
        "Budget.xlsx": b"budget figures " * 10,
        "Photos/trip.txt": b"moved later",
    },
    "carol": {"todo.txt": b"todo"},
}
runner = CliRunner()


# --- the pure comparison ----------------------------------------------------------------

sizes = st.integers(min_value=0, max_value=10**9)
hashes = st.one_of(st.none(), st.sampled_from(["AAAA", "BBBB"]))


@given(sizes, hashes, sizes, hashes)
def test_a_file_is_ok_exactly_when_its_size_and_any_hash_both_sides_have_agree(
    sent_size, sent_hash, found_size, found_hash
):
    sent = Sent("H/a.txt", sent_size, sent_hash, "id1")
    result, detail = judge(sent, Listed("H/a.txt", "id1", found_size, found_hash))
    hashes_differ = sent_hash is not None and found_hash is not None and sent_hash != found_hash
    assert result == (CHANGED if sent_size != found_size or hashes_differ else OK)
    assert (detail == "") == (result == OK)


def test_nothing_at_the_path_is_missing_and_says_where_the_item_went_when_it_is_found():
    sent = Sent("H/a.txt", 3, "AAAA", "id1")
    assert judge(sent, None)[0] == MISSING
    assert judge(sent, None, Listed("H/b/a.txt", "id1", 3, "AAAA")) == (
        MISSING,
        "moved within OneDrive to H/b/a.txt",
    )


# --- through the command line, against the tenant ---------------------------------------


def verify(ws: Path, *args: str):
    return runner.invoke(app, ["verify", *args, "-w", str(ws)], terminal_width=200)


def query(ws: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as db:
        return db.execute(sql, params).fetchall()


def item_url(tenant, upn: str, path: str) -> str:
    return f"/drives/{tenant.drive_id(upn)}/root:/{quote(path)}"


@pytest.fixture
def migrated(tmp_path, tenant_factory):
    tenant = tenant_factory(retention_labels={LABEL})  # alice and carol have a OneDrive
    setup = prepare(tmp_path, tenant, FILES, {"alice": ALICE, "carol": CAROL})
    result = cli(setup.ws, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    return setup


def test_an_untouched_migration_verifies_clean(migrated):
    result = verify(migrated.ws)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"✓ {ALICE}: 5 checked, 5 intact, 0 missing, 0 changed, 0 unexpected",
        f"✓ {CAROL}: 1 checked, 1 intact, 0 missing, 0 changed, 0 unexpected",
        "2 intact, 0 not, of 2 users",
    ]
    assert query(migrated.ws, "SELECT DISTINCT verify_result FROM transfers") == [("ok",)]
    assert query(migrated.ws, "SELECT COUNT(*) FROM transfers WHERE verified_at IS NULL") == [(0,)]
    runs = query(migrated.ws, "SELECT upn, status, checked, ok FROM verify_runs ORDER BY upn")
    assert runs == [(ALICE, "complete", 5, 5), (CAROL, "complete", 1, 1)]
    assert query(migrated.ws, "SELECT COUNT(*) FROM verify_findings") == [(0,)]


def test_deleted_changed_moved_and_added_files_are_each_reported_and_recorded(migrated):
    tenant = migrated.tenant
    with tenant.client() as client:
        deleted = client.delete(item_url(tenant, ALICE, f"{TARGET}/Documents/notes.txt"))
        assert deleted.status_code == 204
        changed = client.put(
            item_url(tenant, ALICE, f"{TARGET}/Budget.xlsx") + ":/content",
            content=b"budget figures, edited in OneDrive",
        )
        assert changed.status_code in (200, 201)
        added = client.put(
            item_url(tenant, ALICE, f"{TARGET}/Documents/added by alice.txt") + ":/content",
            content=b"new",
        )
        assert added.status_code in (200, 201)
        folder = client.get(item_url(tenant, ALICE, f"{TARGET}/Documents")).json()
        moved = client.patch(
            item_url(tenant, ALICE, f"{TARGET}/Photos/trip.txt"),
            json={"parentReference": {"id": folder["id"]}},
        )
        assert moved.status_code == 200
    result = verify(migrated.ws, "--user", ALICE.upper())
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"✗ {ALICE}: 5 checked, 2 intact, 2 missing, 1 changed, 1 unexpected",
        "0 intact, 1 not, of 1 user",
    ]
    findings = query(
        migrated.ws, "SELECT kind, target_path, detail FROM verify_findings ORDER BY kind, 2"
    )
    assert findings == [
        ("changed", f"{TARGET}/Budget.xlsx", "size 34 bytes, 150 when sent"),
        (
            "missing",
            f"{TARGET}/Documents/notes.txt",
            "no file at the target path: deleted, moved or renamed in OneDrive",
        ),
        (
            "missing",
            f"{TARGET}/Photos/trip.txt",
            f"moved within OneDrive to {TARGET}/Documents/trip.txt",
        ),
        (
            "unexpected",
            f"{TARGET}/Documents/added by alice.txt",
            "3 bytes, not put there by hdrive-migrate",
        ),
    ]
    results = dict(
        query(migrated.ws, "SELECT path, verify_result FROM transfers WHERE upn = ?", ALICE)
    )
    assert results == {
        "Budget.xlsx": "changed",
        "Documents/Cases/statement.docx": "ok",
        "Documents/notes.txt": "missing",
        "Documents/report.docx": "ok",
        "Photos/trip.txt": "missing",
    }
    run = query(
        migrated.ws,
        "SELECT status, checked, ok, missing, changed, unexpected FROM verify_runs WHERE upn = ?",
        ALICE,
    )
    assert run == [("complete", 5, 2, 2, 1, 1)]
    status = runner.invoke(app, ["status", ALICE, "--json", "-w", str(migrated.ws)])
    body = json.loads(status.stdout)
    assert body["state"] == "migrated"
    assert body["verification"]["missing"] == 2 and body["verification"]["changed"] == 1
    assert "verify" in body["next_step"]


def test_verify_changes_nothing_in_onedrive(migrated):
    before = len(migrated.tenant.requests())
    assert verify(migrated.ws, "--user", CAROL).exit_code == 0
    methods = {request["method"] for request in migrated.tenant.requests()[before:]}
    assert methods == {"GET"}


def test_verify_has_help_with_an_example():
    result = runner.invoke(app, ["verify", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: hdrive-migrate verify" in result.stdout
