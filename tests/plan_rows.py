"""A workspace with users, an inventory of real files and a plan, its rows written directly, so
the review and disposal tests depend on neither a policy file nor the planner."""

import hashlib
import io
import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from hdrive_migrate.cli import app
from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.hashing import hash_stream
from hdrive_migrate.workspace import create_workspace, open_workspace

DAY = 86400
YEAR = 365 * DAY
LABELS = ["Personal working files", "People records"]
# (rule id, kind, action, label, description) in plan_rules order.
RULES = (
    ("G1", "guard", "hold", None, "On the hold register"),
    ("R3", "rule", "review", None, "Mail archives (.pst .ost)"),
    ("R7", "rule", "dispose_after_approval", None, "Not modified for more than six years"),
    ("R8", "rule", "migrate", "Personal working files", "Everything else"),
    ("default", "default", "review", None, "No rule matched"),
)
# upn -> (folder, wave, {path: (content, age in years, deciding rule or None if unplanned)}).
PEOPLE = {
    "alice@contoso.test": (
        "alice",
        "Wave 1",
        {
            "Mail/archive.pst": (b"pst" * 10, 1, "R3"),
            "Mail/old.ost": (b"ost" * 7, 1, "R3"),
            "-Archive/notes.txt": (b"notes", 2, "default"),
            "Finance/2015 budget.xls": (b"budget 2015", 9, "R7"),
            "Finance/2016 budget.xls": (b"budget 2016!", 8, "R7"),
            "Docs/report.docx": (b"report", 0, "R8"),
            "Docs/too long.docx": (b"long", 0, "R8"),
            "Legal/case.docx": (b"case", 3, "G1"),
            "New/later.txt": (b"later", 0, None),
        },
    ),
    "bob@contoso.test": (
        "bob",
        "Wave 2",
        {
            "Mail/bob.pst": (b"bob pst", 1, "R3"),
            "Old/minutes.doc": (b"minutes of 2012", 12, "R7"),
        },
    ),
    "carol@contoso.test": ("carol", "Wave 2", {"Desk/todo.txt": (b"todo", 0, None)}),
}
# Files the planner sends to review although their rule migrates them, as plan.run.place does.
DEMOTED = {"Docs/too long.docx": "target path is 401 characters; OneDrive allows 400"}
PLANNED = ("alice@contoso.test", "bob@contoso.test")
runner = CliRunner()


def make_workspace(tmp_path: Path) -> tuple[Path, Path]:
    """(workspace directory, source root): PEOPLE's files on disk and in the inventory, and
    alice and bob planned (run 1); carol is scanned but never planned."""
    source = tmp_path / "homes"
    settings = Config(
        source_root=str(source),
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
    )
    ws_dir = tmp_path / "ws"
    create_workspace(ws_dir, settings).close()
    now = time.time()
    with open_workspace(ws_dir) as ws, ws.db.conn:
        for upn, (folder, wave, files) in PEOPLE.items():
            ws.db.execute(
                "INSERT INTO users(upn, folder, wave, imported_at, updated_at)"
                " VALUES (?, ?, ?, '', '')",
                [upn, folder, wave],
            )
            for path, (content, years, _) in files.items():
                on_disk = source / folder / path
                on_disk.parent.mkdir(parents=True, exist_ok=True)
                on_disk.write_bytes(content)
                os.utime(on_disk, (now - years * YEAR, now - years * YEAR))
                add_file(ws.db, upn, path, content, now - years * YEAR)
    plan(ws_dir, PLANNED)
    return ws_dir, source


def add_file(db, upn: str, path: str, content: bytes, modified: float) -> None:
    sha256, quick_xor = hash_stream(io.BytesIO(content))
    db.execute(
        "INSERT INTO files(upn, path, is_dir, size, created, modified, accessed, attributes,"
        " link, sha256, quick_xor, seen_scan, change) VALUES (?, ?, 0, ?, ?, ?, ?, 0, 0, ?, ?,"
        " 1, 'new')",
        [upn, path, len(content), modified, modified, modified, sha256, quick_xor],
    )


def plan(ws_dir: Path, upns, version: str = "1.0.0") -> int:
    """A complete plan run over UPNS deciding as PEOPLE says; it becomes their current run."""
    with open_workspace(ws_dir) as ws, ws.db.conn:
        db = ws.db
        run_id = db.execute(
            "INSERT INTO plan_runs(policy_id, policy_version, policy_sha256, policy_file,"
            " policy_labels, policy_approved_by, target_folder, as_of, tool_version, started_at,"
            " finished_at, status) VALUES ('personal-files', ?, ?, 'policies/personal.yaml',"
            " ?, ?, 'H', '2025-06-01', '0.1.0', '2025-06-01T09:00:00+00:00',"
            " '2025-06-01T09:01:00+00:00', 'complete')",
            [version, policy_sha256(version), json.dumps(LABELS), json.dumps(["R. Manager"])],
        ).lastrowid
        for idx, rule in enumerate(RULES):
            db.execute("INSERT INTO plan_rules VALUES (?, ?, ?, ?, ?, ?, ?)", [run_id, idx, *rule])
        for upn in upns:
            _decide(db, run_id, upn)
            db.execute(
                "INSERT OR REPLACE INTO plan_users(upn, run_id) VALUES (?, ?)", [upn, run_id]
            )
    return run_id


def _decide(db, run_id: int, upn: str) -> None:
    index = {rule[0]: idx for idx, rule in enumerate(RULES)}
    for path, (_, _, rule_id) in PEOPLE[upn][2].items():
        if rule_id is not None:
            idx = index[rule_id]
            action = "review" if path in DEMOTED else RULES[idx][2]
            why = DEMOTED.get(path, reason(rule_id))
            db.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, upn, path, action, idx, 1 << idx, why, path],
            )


def reason(rule_id: str) -> str:
    return f"{rule_id} matched"


def policy_sha256(version: str) -> str:
    return hashlib.sha256(f"policy {version}".encode()).hexdigest()


def sha256_of(upn: str, path: str) -> str:
    return hashlib.sha256(PEOPLE[upn][2][path][0]).hexdigest()


def cli(ws_dir: Path, *args: str):
    return runner.invoke(app, [*args, "-w", str(ws_dir)], terminal_width=200)


def query(ws_dir: Path, sql: str, *params) -> list[tuple]:
    with open_workspace(ws_dir) as ws:
        return ws.db.execute(sql, params).fetchall()


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
