"""Planning a scanned workspace: a decision for every file, explanations, history, diffs,
holds, and target names OneDrive accepts."""

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.workspace import create_workspace, open_workspace

from conftest import require_binary

YEAR = 365 * 86400
POLICY = """\
policy: {id: test-policy, version: 1.0.0, approved_by: [Records Manager],
         effective: 2026-01-01, labels: [Personal working files]}
guards:
  - {id: G1, description: Held material, when: {on_hold: true}, action: hold}
  - {id: G2, description: Evidence, when: {path: ["**/Exhibits/**"]}, action: divert_evidence}
rules:
  - {id: R1, description: Clutter, when: {name: ["*.tmp"]}, action: exclude}
  - {id: R4, description: Duplicates, when: {duplicate: true}, action: exclude}
  - {id: R7, description: Old, when: {modified: {older_than: OLD}}, action: dispose_after_approval}
  - {id: R8, description: Everything else, when: {}, action: migrate,
     label: Personal working files}
default: review
"""


def write_policy(folder: Path, old: str = "6y", name: str = "policy.yaml") -> Path:
    path = folder / name
    path.write_text(POLICY.replace("OLD", old))
    return path


def make_homes(root: Path) -> None:
    docs = root / "alice" / "Documents"
    (docs / "Exhibits").mkdir(parents=True)
    (docs / "report.docx").write_bytes(b"report")
    (docs / "copy of report.docx").write_bytes(b"report")
    (docs / "scratch.tmp").write_bytes(b"t")
    (docs / "Exhibits" / "photo.jpg").write_bytes(b"jpg")
    (docs / "bad: name?.txt").write_bytes(b"odd")
    (docs / "held").mkdir()
    (docs / "held" / "case.docx").write_bytes(b"case")
    old = docs / "old budget.xlsx"
    old.write_bytes(b"old")
    os.utime(old, (time.time() - 8 * YEAR, time.time() - 8 * YEAR))
    os.utime(docs / "report.docx", (time.time() - 3 * YEAR, time.time() - 3 * YEAR))
    deep = docs
    for level in range(8):
        deep = deep / (f"{level}" * 48)
    deep.mkdir(parents=True)
    (deep / "far.txt").write_bytes(b"far")
    (root / "bob").mkdir()


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(require_binary("hdrive-migrate")), *args, "-w", str(ws)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture
def scanned(tmp_path) -> tuple[Path, Path]:
    """A workspace whose users are imported, alice scanned with hashes, bob never scanned."""
    make_homes(tmp_path / "homes")
    ws = tmp_path / "ws"
    settings = Config(
        source_root=str(tmp_path / "homes"),
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
    )
    create_workspace(ws, settings).close()
    users = tmp_path / "users.csv"
    users.write_text("folder,upn,wave\nalice,alice@contoso.test,W1\nbob,bob@contoso.test,W1\n")
    assert cli(ws, "users", "import", str(users)).returncode == 0
    assert cli(ws, "scan", "--user", "alice@contoso.test", "--hash").returncode == 0
    holds = tmp_path / "holds.csv"
    holds.write_text("upn,path\nalice@contoso.test,Documents/held/**\n")
    return ws, tmp_path


def explain(ws: Path, path: str) -> dict:
    result = cli(ws, "plan", "explain", "alice@contoso.test", path, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_file_gets_one_decision_with_its_rule(scanned):
    ws, folder = scanned
    policy = write_policy(folder)
    result = cli(
        ws,
        "plan",
        "--policy",
        str(policy),
        "--holds",
        str(folder / "holds.csv"),
        "--as-of",
        "2026-11-01",
    )
    assert result.returncode == 1  # bob has no scan
    assert "bob@contoso.test: not planned" in result.stdout
    with open_workspace(ws) as workspace:
        files = workspace.db.execute(
            "SELECT count(*) FROM files WHERE upn = 'alice@contoso.test' AND is_dir = 0"
        ).fetchone()[0]
        decided = workspace.db.execute("SELECT count(*) FROM decisions").fetchone()[0]
        run = next(workspace.db.query("SELECT * FROM plan_runs"))
    assert decided == files == 8
    assert run["policy_sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    assert (run["policy_id"], run["policy_version"], run["as_of"]) == (
        "test-policy",
        "1.0.0",
        "2026-11-01",
    )
    expected = {
        "Documents/report.docx": ("migrate", "R8"),
        "Documents/copy of report.docx": ("exclude", "R4"),
        "Documents/scratch.tmp": ("exclude", "R1"),
        "Documents/Exhibits/photo.jpg": ("divert_evidence", "G2"),
        "Documents/held/case.docx": ("hold", "G1"),
        "Documents/old budget.xlsx": ("dispose_after_approval", "R7"),
    }
    for path, (action, rule) in expected.items():
        found = explain(ws, path)
        assert (found["action"], found["rule"]) == (action, rule), path


def test_explain_names_every_matched_rule_label_and_target(scanned):
    ws, folder = scanned
    cli(ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(folder / "holds.csv"))
    held = explain(ws, "Documents/held/case.docx")
    assert held["matched"] == ["G1", "R8"]
    assert held["label"] is None
    report = explain(ws, "Documents/report.docx")
    assert {"action", "rule", "matched", "label", "target_path"} <= report.keys()
    assert report["label"] == "Personal working files"
    assert report["target_path"] == "H Drive/Documents/report.docx"
    copy = explain(ws, "Documents/copy of report.docx")
    assert copy["reason"] == "duplicate of Documents/report.docx"
    text = cli(ws, "plan", "explain", "alice@contoso.test", "Documents/report.docx")
    assert "decided by  R8: Everything else" in text.stdout


def test_names_onedrive_refuses_are_mapped_and_long_paths_go_to_review(scanned):
    ws, folder = scanned
    cli(ws, "plan", "--policy", str(write_policy(folder)))
    odd = explain(ws, "Documents/bad: name?.txt")
    assert odd["action"] == "migrate"
    assert odd["target_path"].startswith("H Drive/Documents/bad")
    assert ":" not in odd["target_path"] and "?" not in odd["target_path"]
    deep = "/".join(["Documents", *(f"{level}" * 48 for level in range(8)), "far.txt"])
    far = explain(ws, deep)
    assert far["action"] == "review"
    assert far["reason"].startswith("target path is ")
    assert far["rule"] == "R8"


def test_replanning_replaces_the_plan_and_keeps_history(scanned):
    ws, folder = scanned
    cli(ws, "plan", "--policy", str(write_policy(folder)))
    cli(ws, "plan", "--policy", str(write_policy(folder, old="1y", name="v2.yaml")))
    assert explain(ws, "Documents/report.docx")["action"] == "dispose_after_approval"
    with open_workspace(ws) as workspace:
        runs = workspace.db.execute(
            "SELECT run_id, action FROM decisions WHERE path = 'Documents/report.docx'"
            " ORDER BY run_id"
        ).fetchall()
    assert [action for _, action in runs] == ["migrate", "dispose_after_approval"]


def test_the_audit_log_names_each_plans_policy_its_changes_and_each_consultation(scanned):
    ws, folder = scanned
    first, second = write_policy(folder), write_policy(folder, old="1y", name="v2.yaml")
    cli(ws, "plan", "--policy", str(first))
    cli(ws, "plan", "--policy", str(first))  # the same policy again: no change to record
    cli(ws, "plan", "--policy", str(second))
    explain(ws, "Documents/report.docx")
    cli(ws, "plan", "diff", "--policy", str(first))
    with open_workspace(ws) as workspace:
        events = workspace.db.execute(
            "SELECT action, subject, detail FROM events"
            " WHERE action IN ('plan', 'policy.changed', 'plan.explained', 'plan.diffed')"
            " ORDER BY id"
        ).fetchall()
    actions = [action for action, _, _ in events]
    assert actions == ["plan", "plan", "plan", "policy.changed", "plan.explained", "plan.diffed"]
    sha = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (first, second)]
    assert json.loads(events[0][2])["policy"]["sha256"] == sha[0]
    changed = json.loads(events[3][2])
    assert (changed["from"]["sha256"], changed["to"]["sha256"]) == (sha[0], sha[1])
    assert json.loads(events[4][2]) == {"path": "Documents/report.docx"}
    assert json.loads(events[5][2])["samples"] >= 1


def test_diff_shows_what_a_new_policy_would_change(scanned):
    ws, folder = scanned
    cli(ws, "plan", "--policy", str(write_policy(folder)))
    result = cli(
        ws, "plan", "diff", "--policy", str(write_policy(folder, "1y", "v2.yaml")), "--json"
    )
    changes = json.loads(result.stdout)["changes"]
    # The original goes for disposal under v2, so its copy becomes the one kept.
    assert changes == [
        {
            "from": "exclude",
            "to": "migrate",
            "files": 1,
            "samples": ["alice@contoso.test: Documents/copy of report.docx"],
        },
        {
            "from": "migrate",
            "to": "dispose_after_approval",
            "files": 1,
            "samples": ["alice@contoso.test: Documents/report.docx"],
        },
    ]
    assert explain(ws, "Documents/report.docx")["action"] == "migrate"  # nothing written


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user,path\n", "holds.csv:1: header is user,path. Fix: make the first line upn,path"),
        ("upn,path\nalice,Documents\n", "holds.csv:2: 'alice' is not a UPN"),
        ("upn,path\nalice@contoso.test,/abs/path\n", "holds.csv:2: path '/abs/path' is not"),
        ("upn,path\nalice@contoso.test,a,b\n", "holds.csv:2: 3 columns"),
        ("upn,path\nalice@contoso.test,caf\xe9\n", "holds.csv:2: not UTF-8 text"),
    ],
)
def test_a_bad_hold_register_is_one_line_naming_file_and_line(scanned, content, message):
    ws, folder = scanned
    holds = folder / "holds.csv"
    holds.write_bytes(content.encode("latin-1"))
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--holds", str(holds))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_user_whose_latest_scan_was_interrupted_is_not_planned(scanned):
    ws, folder = scanned
    with open_workspace(ws) as workspace, workspace.db.conn:
        workspace.db.conn.execute(
            "INSERT INTO scans(upn, status, hashed, atime_trusted, started_at)"
            " VALUES ('alice@contoso.test', 'running', 0, 0, '')"
        )
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--user", "alice@contoso.test")
    assert result.returncode == 1
    assert "alice@contoso.test: not planned: the latest scan has not completed" in result.stdout


def test_the_kept_copy_of_duplicates_is_the_oldest_one_that_migrates(scanned):
    ws, folder = scanned
    docs = folder / "homes" / "alice" / "Documents"
    for name, years in (("2015 budget.xlsx", 9), ("budget copy.xlsx", 4), ("budget 2.xlsx", 1)):
        (docs / name).write_bytes(b"same budget")
        os.utime(docs / name, (time.time() - years * YEAR, time.time() - years * YEAR))
    assert cli(ws, "scan", "--user", "alice@contoso.test", "--hash").returncode == 0
    cli(ws, "plan", "--policy", str(write_policy(folder)))
    assert explain(ws, "Documents/2015 budget.xlsx")["action"] == "dispose_after_approval"
    assert explain(ws, "Documents/budget copy.xlsx")["action"] == "migrate"
    newest = explain(ws, "Documents/budget 2.xlsx")
    assert (newest["action"], newest["rule"]) == ("exclude", "R4")
    assert newest["reason"] == "duplicate of Documents/budget copy.xlsx"
