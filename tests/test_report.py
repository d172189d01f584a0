"""`hdrive-migrate report` end to end: a wave imported, scanned, planned and migrated through
the command line against the real local tenant, one user blocked (no OneDrive), then reported;
every file of the report checked against the database and the tenant."""

import json
import shutil

import pytest
from markupsafe import escape
from migrate_setup import LABEL, TARGET, cli, prepare, tenant_item
from report_files import files_in, read_csv, sha256, sha256sum_checks, sums

from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.report.columns import ITEM_COLUMNS, MANIFEST_COLUMNS, REGISTERS
from hdrive_migrate.report.cutover import CUTOVER_COLUMNS
from hdrive_migrate.workspace import open_workspace

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"  # bob's OneDrive is not provisioned
FILES = {
    "alice": {"Documents/report.docx": b"report " * 50, "notes.txt": b"notes", "a/b.txt": b"b"},
    "bob": {"Documents/todo.txt": b"todo"},
}


@pytest.fixture
def migrated(tmp_path, tenant_factory):
    if shutil.which("sha256sum") is None:
        pytest.fail("sha256sum (coreutils) is needed")
    tenant = tenant_factory(retention_labels={LABEL})
    setup = prepare(tmp_path, tenant, FILES, {"alice": ALICE, "bob": BOB})
    result = cli(setup.ws, "migrate", "--wave", "W1")
    # Non-zero: a user was blocked, as planned.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "migrated           3 files" in result.stdout, result.stdout
    return setup


def test_a_migrated_wave_reports_every_file_as_the_database_and_tenant_have_it(migrated):
    setup = migrated
    result = cli(setup.ws, "report", "--wave", "W1")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = setup.ws / "reports" / "W1"
    assert str(folder) in result.stdout

    expected = {"SHA256SUMS", "summary.html", "summary.csv", "items.csv", "failures.csv"}
    expected |= {"cutover.csv"}
    expected |= set(REGISTERS) | {f"manifests/{ALICE}.csv", f"manifests/{BOB}.csv"}
    assert files_in(folder) == expected
    check = sha256sum_checks(folder)
    assert check.returncode == 0, check.stdout + check.stderr
    assert set(sums(folder)) == expected - {"SHA256SUMS"}

    header, items = read_csv(folder / "items.csv")
    assert tuple(header) == ITEM_COLUMNS
    by_path = {row["Source"].rpartition("/homes/")[2]: row for row in items}
    assert set(by_path) == {f"{folder}/{path}" for folder, paths in FILES.items() for path in paths}
    for path in FILES["alice"]:
        row = by_path[f"alice/{path}"]
        item = tenant_item(setup.tenant, ALICE, f"{TARGET}/{path}")
        assert (row["Status"], row["Result category"]) == ("Migrated", "Succeeded")
        assert row["Destination"] == f"{TARGET}/{path}"
        assert row["Destination item ID"] == item["id"]
        assert row["QuickXorHash"] == item["file"]["hashes"]["quickXorHash"]
        assert int(row["File size"]) == len(FILES["alice"][path])
        assert (row["decision"], row["rule"], row["policy version"]) == ("migrate", "R1", "1.0.0")
        assert row["Task ID"] == ALICE and row["Migration job ID"] == "1"
    bob_row = by_path["bob/Documents/todo.txt"]
    assert (bob_row["Status"], bob_row["Result category"]) == ("Blocked", "no-onedrive")
    assert bob_row["Destination item ID"] == ""

    _, summary = read_csv(folder / "summary.csv")
    states = {row["upn"]: row["state"] for row in summary}
    assert states == {ALICE: "migrated", BOB: "blocked"}
    alice = next(row for row in summary if row["upn"] == ALICE)
    assert alice["outcome_migrated_files"] == "3"
    assert int(alice["outcome_migrated_bytes"]) == sum(map(len, FILES["alice"].values()))

    _, manifest = read_csv(folder / "manifests" / f"{ALICE}.csv")
    with open_workspace(setup.ws) as ws:
        sent = {
            row["path"]: row
            for row in ws.db.query("SELECT * FROM transfers WHERE upn = ?", [ALICE])
        }
        policy = ws.db.execute("SELECT policy_id, policy_version, policy_sha256 FROM plan_runs")
        policy_id, version, policy_sha256 = policy.fetchone()
        events = list(ws.db.query("SELECT * FROM events WHERE action = 'report.exported'"))
    assert [row["target_item_id"] for row in manifest] == [
        sent[path]["item_id"] for path in sorted(FILES["alice"])
    ]
    assert all(
        (row["outcome"], row["policy_id"], row["policy_version"], row["policy_sha256"])
        == ("migrated", policy_id, version, policy_sha256)
        for row in manifest
    )
    assert [row["sha256"] for row in manifest] == [
        sent[path]["sha256"] for path in sorted(FILES["alice"])
    ]
    assert sums(folder)[f"manifests/{ALICE}.csv"] == sha256(folder / "manifests" / f"{ALICE}.csv")
    assert list(MANIFEST_COLUMNS) == list(manifest[0])

    page = (folder / "summary.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert BOB in page and escape(REASONS["no-onedrive"].explanation) in page

    assert len(events) == 1
    assert events[0]["subject"] == str(folder.resolve())
    detail = json.loads(events[0]["detail"])
    assert (detail["users"], detail["files"]) == (2, 4)
    assert detail["sha256sums_sha256"] == sha256(folder / "SHA256SUMS")


def _cutover(setup) -> tuple[list[str], dict[str, dict]]:
    result = cli(setup.ws, "report", "--wave", "W1", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = setup.ws / "reports" / "W1"
    _, ready = read_csv(folder / "cutover.csv")
    _, summary = read_csv(folder / "summary.csv")
    return [row["upn"] for row in ready], {row["upn"]: row for row in summary}


def test_the_cutover_list_holds_only_users_migrated_verified_and_unchanged_since(migrated):
    setup = migrated
    ready, summary = _cutover(setup)
    assert ready == []  # nobody verified yet
    assert summary[ALICE]["cutover"] == "no"
    assert "not verified" in summary[ALICE]["cutover_blocked_by"]
    assert summary[BOB]["cutover_blocked_by"].startswith("not migrated yet (state blocked)")

    assert cli(setup.ws, "verify", "--wave", "W1").returncode == 0
    ready, summary = _cutover(setup)
    assert ready == [ALICE]
    assert (summary[ALICE]["cutover"], summary[ALICE]["cutover_blocked_by"]) == ("yes", "")
    header, rows = read_csv(setup.ws / "reports" / "W1" / "cutover.csv")
    (row,) = rows
    assert tuple(header) == CUTOVER_COLUMNS
    assert (row["verify_result"], row["verified_files"], row["migrated_files"]) == (
        "complete",
        "3",
        "3",
    )
    assert row["last_pass_at"] and row["verified_at"][:19] >= row["last_pass_at"][:19]

    (setup.homes / "alice" / "new.txt").write_bytes(b"written after the pass")
    assert cli(setup.ws, "scan", "--wave", "W1").returncode == 0
    ready, summary = _cutover(setup)
    assert ready == []
    assert "changed after the last migrate pass (1 file new" in summary[ALICE]["cutover_blocked_by"]
