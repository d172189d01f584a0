"""`dispose approve`: the certificate of an approved batch, its records, batches that do not
repeat, and a source nobody touched."""

import csv
import hashlib
import io
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hdrive_migrate.cli import main
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.hashing import hash_stream
from hdrive_migrate.plan.dispose import approve_disposal
from hdrive_migrate.workspace import open_workspace

from plan_rows import PEOPLE, cli, make_workspace, policy_sha256, query, write_csv

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
DAY = 86400
NO_BATCH = (
    "no file of the chosen users awaits disposal approval. Fix: files wait here once the plan or"
    " a review decides dispose_after_approval; files already in a disposal certificate are not"
    " approved again\n"
)


@pytest.fixture
def workspace(tmp_path) -> tuple[Path, Path]:
    return make_workspace(tmp_path)


def review_to_disposal(ws_dir: Path, tmp_path: Path, reviewer: str = "Jo Bloggs") -> None:
    """A records manager decides alice's Mail/old.ost goes for disposal."""
    row = f"upn,path,decision\n{ALICE},Mail/old.ost,dispose_after_approval\n"
    decided = write_csv(tmp_path / "decided.csv", row)
    result = cli(ws_dir, "review", "import", str(decided), "--reviewer", reviewer)
    assert result.exit_code == 0, result.output


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def manifest_row(ws_dir: Path, upn: str, path: str, rule: str, reviewer: str = "") -> list[str]:
    content = PEOPLE[upn][2][path][0]
    sha256, quick_xor = hash_stream(io.BytesIO(content))
    sql = "SELECT modified FROM files WHERE upn = ? AND path = ?"
    ((modified,),) = query(ws_dir, sql, upn, path)
    when = datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds")
    return [upn, path, str(len(content)), when, sha256, quick_xor, "1", rule, reviewer]


def test_a_certificate_names_approvers_policy_rules_counts_bytes_and_hashes(workspace, tmp_path):
    ws_dir, _ = workspace
    review_to_disposal(ws_dir, tmp_path)
    now = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)
    with open_workspace(ws_dir) as ws:
        approval = approve_disposal(
            ws.db,
            [ALICE, BOB],
            approvers=["Jo Bloggs", " Sam Patel ", "jo bloggs"],
            out_dir=tmp_path / "certificates",
            workspace=ws_dir,
            now=now,
        )
    assert (approval.files, approval.bytes, approval.users) == (4, 59, 2)
    assert approval.approvers == ["Jo Bloggs", "Sam Patel"]
    manifest = approval.manifest.read_bytes()
    assert manifest.startswith(b"\xef\xbb\xbfupn,path,")  # for Excel, as review export
    with approval.manifest.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["upn", "path", "size", "modified", "sha256", "quick_xor", "plan_run", "rule",
             "reviewer"],
            manifest_row(ws_dir, ALICE, "Finance/2015 budget.xls", "R7"),
            manifest_row(ws_dir, ALICE, "Finance/2016 budget.xls", "R7"),
            manifest_row(ws_dir, ALICE, "Mail/old.ost", "review", "Jo Bloggs"),
            manifest_row(ws_dir, BOB, "Old/minutes.doc", "R7"),
        ]  # fmt: skip
    certificate = approval.certificate.read_bytes()
    assert approval.sha256 == hashlib.sha256(certificate).hexdigest()
    assert json.loads(certificate) == {
        "certificate": approval.certificate_id,
        "statement": "Metadata only. The files listed in the manifest were approved for disposal"
        " by the approvers named here, under the policies and rules named here. hdrive-migrate"
        " did not open, move or delete any of them.",
        "approved_by": ["Jo Bloggs", "Sam Patel"],
        "approved_at": "2025-07-01T10:30:00+00:00",
        "tool_version": query(ws_dir, "SELECT value FROM meta WHERE key = 'tool_version'")[0][0],
        "plan_runs": [
            {
                "plan_run": 1,
                "policy_id": "personal-files",
                "policy_version": "1.0.0",
                "policy_sha256": policy_sha256("1.0.0"),
                "policy_file": "policies/personal.yaml",
                "policy_approved_by": ["R. Manager"],
                "holds_sha256": None,
                "as_of": "2025-06-01",
            }
        ],
        "decided_by": [
            {
                "plan_run": 1,
                "rule": "R7",
                "description": "Not modified for more than six years",
                "reviewers": [],
                "files": 3,
                "bytes": 38,
            },
            {
                "plan_run": 1,
                "rule": "review",
                "description": None,
                "reviewers": ["Jo Bloggs"],
                "files": 1,
                "bytes": 21,
            },
        ],
        "users": [
            {"upn": ALICE, "files": 3, "bytes": 44},
            {"upn": BOB, "files": 1, "bytes": 15},
        ],
        "total": {"files": 4, "bytes": 59},
        "manifest": {
            "file": f"disposal-{approval.certificate_id}.csv",
            "sha256": hashlib.sha256(manifest).hexdigest(),
        },
    }
    assert approval.certificate.name == f"disposal-{approval.certificate_id}.json"
    assert approval.manifest.parent == approval.certificate.parent
    assert query(ws_dir, "SELECT * FROM disposals") == [
        (
            1,
            approval.certificate_id,
            approval.sha256,
            '["Jo Bloggs", "Sam Patel"]',
            "2025-07-01T10:30:00+00:00",
            4,
            59,
        )
    ]
    assert query(ws_dir, "SELECT * FROM disposal_items ORDER BY upn, path") == [
        (1, ALICE, "Finance/2015 budget.xls"),
        (1, ALICE, "Finance/2016 budget.xls"),
        (1, ALICE, "Mail/old.ost"),
        (1, BOB, "Old/minutes.doc"),
    ]
    ((at, subject, detail),) = query(
        ws_dir, "SELECT at, subject, detail FROM events WHERE action = 'disposal.approved'"
    )
    assert (at, subject) == ("2025-07-01T10:30:00.000+00:00", approval.certificate_id)
    assert json.loads(detail) == {
        "approved_by": ["Jo Bloggs", "Sam Patel"],
        "plan_runs": [1],
        "users": 2,
        "files": 4,
        "bytes": 59,
        "certificate_file": str(approval.certificate.resolve()),
        "certificate_sha256": approval.sha256,
    }


def test_approve_writes_to_the_workspace_reports_and_a_second_approve_finds_nothing_new(
    workspace, capsys
):
    ws_dir, _ = workspace
    args = ["dispose", "approve", "--approver", "Jo Bloggs", "-w", str(ws_dir)]
    code, out, err = run_main([*args, "--wave", "Wave 2"], capsys)
    (certificate_id,) = query(ws_dir, "SELECT certificate FROM disposals")[0]
    folder = ws_dir / "reports" / "disposals"
    sha256 = hashlib.sha256((folder / f"disposal-{certificate_id}.json").read_bytes()).hexdigest()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"disposal certificate {certificate_id}: 1 files, 15 bytes of 1 users, approved by"
        " Jo Bloggs",
        f"certificate {folder / f'disposal-{certificate_id}.json'} (SHA-256 {sha256})",
        f"manifest {folder / f'disposal-{certificate_id}.csv'}",
        "Nothing was deleted; the files stay on the source until disposed of.",
    ]
    code, out, _ = run_main(args, capsys)
    assert code == 0 and ": 2 files, 23 bytes of 1 users," in out
    assert query(ws_dir, "SELECT upn, count(*) FROM disposal_items GROUP BY upn") == [
        (ALICE, 2),
        (BOB, 1),
    ]
    assert run_main(args, capsys) == (2, "", NO_BATCH)
    assert len(list(folder.iterdir())) == 4
    assert query(ws_dir, "SELECT count(*) FROM disposals") == [(2,)]


def test_a_certified_file_cannot_be_reviewed_again(workspace, tmp_path):
    ws_dir, _ = workspace
    review_to_disposal(ws_dir, tmp_path)
    assert cli(ws_dir, "dispose", "approve", "--approver", "Sam Patel").exit_code == 0
    (certificate_id,) = query(ws_dir, "SELECT certificate FROM disposals")[0]
    again = write_csv(tmp_path / "again.csv", f"upn,path,decision\n{ALICE},Mail/old.ost,migrate\n")
    result = cli(ws_dir, "review", "import", str(again), "--reviewer", "Jo Bloggs")
    assert result.exit_code == 1
    assert result.stderr == (
        f"{again}:2: already approved for disposal in certificate {certificate_id}. Fix: remove"
        " the row: a certified disposal cannot be changed by review\n"
    )


def test_a_file_without_a_hash_is_refused_and_nothing_is_written(workspace, tmp_path, capsys):
    ws_dir, _ = workspace
    with open_workspace(ws_dir) as ws:
        ws.db.execute("UPDATE files SET sha256 = NULL WHERE path = 'Old/minutes.doc'")
    out = tmp_path / "certificates"
    args = ["dispose", "approve", "--approver", "Jo", "--out", str(out), "-w", str(ws_dir)]
    assert run_main(args, capsys) == (
        2,
        "",
        f"1 files of the batch have no SHA-256, e.g. Old/minutes.doc of {BOB}. Fix: hash them"
        f" with `hdrive-migrate scan --hash --user {BOB}` (and likewise for other users), then"
        " approve again: a certificate must identify the content\n",
    )
    assert not out.exists()
    assert query(ws_dir, "SELECT count(*) FROM disposals") == [(0,)]


def test_a_certificate_that_cannot_be_written_records_nothing(workspace, tmp_path, capsys):
    ws_dir, _ = workspace
    blocker = write_csv(tmp_path / "not-a-folder", "")
    out = blocker / "certificates"
    args = ["dispose", "approve", "--approver", "Jo", "--out", str(out), "-w", str(ws_dir)]
    code, _, err = run_main(args, capsys)
    assert code == 2
    assert err.startswith(f"{out / 'disposal-'}")
    assert ": cannot write the file: Not a directory. Fix: choose a folder" in err
    assert query(ws_dir, "SELECT count(*) FROM disposals") == [(0,)]
    assert query(ws_dir, "SELECT count(*) FROM events WHERE action = 'disposal.approved'") == [(0,)]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            ["--approver", " "],
            "--approver: '' cannot name an approver. Fix: give each approver's name, e.g."
            " --approver 'Jo Bloggs'\n",
        ),
        (
            ["--approver", "Jo Bloggs", "--approver", '=HYPERLINK("http://x")'],
            "--approver: '=HYPERLINK(\"http://x\")' cannot name an approver: spreadsheets take"
            " a cell starting with '=' for a formula. Fix: give each approver's name, e.g."
            " --approver 'Jo Bloggs'\n",
        ),
        (
            ["--approver", "Jo\x1b[2JBloggs"],
            "--approver: 'Jo\\x1b[2JBloggs' cannot name an approver: it holds the unprintable"
            " character '\\x1b'. Fix: give each approver's name, e.g. --approver 'Jo Bloggs'\n",
        ),
    ],
)
def test_approvers_and_scope_must_be_clear(workspace, capsys, extra, error):
    ws_dir, _ = workspace
    args = ["dispose", "approve", *extra, "-w", str(ws_dir)]
    assert run_main(args, capsys) == (2, "", error)
    assert query(ws_dir, "SELECT count(*) FROM disposals") == [(0,)]


def test_a_disposal_needs_an_approver(workspace, tmp_path):
    ws_dir, _ = workspace
    with open_workspace(ws_dir) as ws, pytest.raises(HdriveError) as caught:
        approve_disposal(
            ws.db, [ALICE], approvers=[], out_dir=tmp_path, workspace=ws_dir, now=datetime.now(UTC)
        )
    assert (
        str(caught.value)
        == "--approver: no approver. Fix: name who approved the disposal with --approver"
    )


def test_review_and_disposal_leave_the_source_untouched(workspace, tmp_path):
    ws_dir, source = workspace
    control = write_csv(tmp_path / "control.txt", "read me")
    entries = [source, *sorted(source.rglob("*"))]
    before = age([*entries, control])
    assert control.read_text() == "read me"
    assert times([control])[control] != before[control], "this filesystem does not show reads"

    export = tmp_path / "review.csv"
    assert cli(ws_dir, "review", "export", "--out", str(export)).exit_code == 0
    review_to_disposal(ws_dir, tmp_path)
    assert cli(ws_dir, "dispose", "approve", "--approver", "Jo Bloggs").exit_code == 0

    assert times(entries) == {path: before[path] for path in entries}
    assert [source, *sorted(source.rglob("*"))] == entries
    contents = {
        source / folder / path: content
        for folder, _, files in PEOPLE.values()
        for path, (content, _, _) in files.items()
    }
    assert {path: path.read_bytes() for path in entries if path.is_file()} == contents


def age(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    """Set each path's atime two days back (older than a day, so a relatime mount records the
    next read), keeping its mtime; return path -> (atime_ns, mtime_ns)."""
    two_days_ago = time.time() - 2 * DAY
    for path in paths:
        os.utime(path, (two_days_ago, path.lstat().st_mtime), follow_symlinks=False)
    return times(paths)


def times(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    # lstat only: listing a folder would itself count as reading it.
    return {path: (path.lstat().st_atime_ns, path.lstat().st_mtime_ns) for path in paths}


def test_the_manifest_quotes_names_a_spreadsheet_would_run_as_formulas(workspace, tmp_path):
    ws_dir, _ = workspace
    decided = f"upn,path,decision\n{ALICE},-Archive/notes.txt,dispose_after_approval\n"
    result = cli(
        ws_dir, "review", "import", str(write_csv(tmp_path / "d.csv", decided)), "--reviewer", "Jo"
    )
    assert result.exit_code == 0, result.output
    # A reviewer's name recorded before names were checked.
    with open_workspace(ws_dir) as ws:
        ws.db.execute('UPDATE reviews SET reviewer = \'=HYPERLINK("http://x","Jo")\'')
    result = cli(ws_dir, "dispose", "approve", "--approver", "Sam Patel", "--user", ALICE)
    assert result.exit_code == 0, result.output
    (manifest,) = (ws_dir / "reports" / "disposals").glob("*.csv")
    with manifest.open(encoding="utf-8-sig", newline="") as handle:
        rows = {row[1]: row for row in csv.reader(handle)}
    assert rows["'-Archive/notes.txt"][-2:] == ["review", '\'=HYPERLINK("http://x","Jo")']
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows.values() for cell in row)
