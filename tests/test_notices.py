"""`hdrive-migrate notices`: a workspace made through the command line (real home folders,
scanned with hashes, planned with the shipped policy and a hold register) against a real local
tenant; each reason a file stays behind counted in the notice as the plan has it, no file name
in any notice, a display name holding markup shown as text, `--send` read back from the
tenant's Sent Items and sent once however often it runs, and a broken template in one line."""

import os
import re
import shutil
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from migrate_setup import cli

from hdrive_migrate.notices.facts import FAILED, NOT_MOVING, failure_kind, reason_kind
from hdrive_migrate.plan.names import path_length_problem
from hdrive_migrate.plan.reference import LINK_REASON

from conftest import require_binary

SHIPPED = Path(__file__).resolve().parents[1] / "policies" / "personal-files.yaml"
ALICE, DAVE, ERIN = "alice@contoso.test", "dave@contoso.test", "erin@contoso.test"
MAILBOX = "it-migration@contoso.test"
LABELS = {"People records", "Personal working files"}  # the shipped policy's
SCRIPT_NAME = "<script>alert('x')</script> Alice"
USERS = (
    (ALICE, SCRIPT_NAME, "alice", True),
    (DAVE, "Dave Example", "dave", True),
    (ERIN, "Erin Example", "erin", True),  # imported, never scanned: no plan, no notice
    (MAILBOX, "IT Migration", "itmig", False),
)
RECENT = 1_700_000_000  # 2023-11-14
OLD = 1_300_000_000  # 2011-03-13: more than six years before any plan
DEEP = "/".join(["Deep", *["d" * 100] * 4, "buried.docx"])  # its OneDrive path passes 400
# Alice's H: drive: for each reason a file stays behind, a different number of files.
ALICE_FILES = {
    "Documents/report.docx": (b"the report", RECENT),
    "Documents/plan.xlsx": (b"the plan", RECENT),
    "Documents/copy.txt": (b"same bytes", RECENT - 100),
    "Documents/Copies/copy.txt": (b"same bytes", RECENT),  # a duplicate
    "Documents/Q1: results.docx": (b"colon", RECENT),  # renamed: OneDrive refuses ':'
    "Documents/what?.txt": (b"question", RECENT),  # renamed
    "~$report.docx": (b"lock", RECENT),
    "Thumbs.db": (b"thumbs", RECENT),
    "Tools/setup.exe": (b"MZ", RECENT),
    "Mail/archive.pst": (b"pst one", RECENT),
    "Mail/old archive.pst": (b"pst two", RECENT),
    "Pictures/holiday.jpg": (b"jpeg", RECENT),
    "Old/2010 minutes.doc": (b"minutes", OLD),
    "Old/2011 budget.xls": (b"budget", OLD),
    "Old/2009 notes.txt": (b"notes", OLD),
    "Old/2008 rota.doc": (b"rota", OLD),
    "Exhibits/EX1 photo.docx": (b"exhibit", RECENT),
    "Cases/MG11 statement.docx": (b"statement", RECENT),
    "Legal/contract.docx": (b"held one", RECENT),
    "Legal/letter.docx": (b"held two", RECENT),
    "Legal/notes.docx": (b"held three", RECENT),
    DEEP: (b"deep", RECENT),
}
LINK = "Documents/to the report"
EXPECTED = {
    "clutter": 3,
    "duplicates": 1,
    "mail_archives": 2,
    "review": 1,
    "old_files": 4,
    "evidence": 2,
    "held": 3,
    "too_long": 1,
    "links": 1,
}
MOVING, RENAMED = 5, 2  # report, plan, the kept copy and the two renamed files
# How the default text templates start each reason's line.
PHRASES = {
    "clutter": "temporary files",
    "duplicates": "extra copies",
    "mail_archives": "mail archives",
    "review": "files a records manager will look at first",
    "old_files": "files nobody has changed",
    "evidence": "what looks like evidence",
    "held": "files on hold",
    "too_long": "files whose folder path is too long",
    "links": "links and shortcuts",
}
AFTER_PHRASES = {
    **PHRASES,
    "review": "files with a records manager for review",
    "old_files": "files nobody had changed",
    "duplicates": "extra copies",
}
_COUNT_LINE = re.compile(r"^- ([\d,]+): (.*)$")


def write_home(folder: Path, files: dict) -> None:
    for path, (data, mtime) in files.items():
        full = folder / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
        os.utime(full, (mtime, mtime))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The workspace (scanned and planned, not migrated) and the running tenant."""
    from conftest import start_tenant, write_users

    folder = tmp_path_factory.mktemp("notices")
    users = write_users(folder / "users.csv", USERS)
    tenant = start_tenant(folder / "tenant", users, retention_labels=LABELS)
    homes = folder / "homes"
    write_home(homes / "alice", ALICE_FILES)
    (homes / "alice" / LINK).symlink_to("../Documents/report.docx")
    write_home(homes / "dave", {"Work/notes.txt": (b"dave's notes", RECENT)})
    (homes / "erin").mkdir()
    ws = folder / "ws"
    init = [str(require_binary("hdrive-migrate")), "init", str(ws), "--source", str(homes)]
    init += ["--graph-url", tenant.url, "--auth", "local"]
    subprocess.run(init, check=True, capture_output=True)
    settings = (ws / "hdrive.toml").read_text()
    for written, wanted in (
        ('# mailbox = ""', f'mailbox = "{MAILBOX}"'),
        ("service_desk = 'the IT service desk'", 'service_desk = "Service desk, 01234 567890"'),
        ("messages_per_minute = 30", "messages_per_minute = 600"),
    ):
        assert written in settings
        settings = settings.replace(written, wanted)
    (ws / "hdrive.toml").write_text(settings)
    (folder / "roster.csv").write_text(
        f"folder,upn,wave\nalice,{ALICE},W1\ndave,{DAVE},W1\nerin,{ERIN},W1\n"
    )
    (folder / "holds.csv").write_text(f"upn,path\n{ALICE},Legal/**\n")
    for args in (
        ("users", "import", str(folder / "roster.csv")),
        ("scan", "--hash", "--user", ALICE),
        ("scan", "--hash", "--user", DAVE),
        ("plan", "--policy", str(SHIPPED), "--holds", str(folder / "holds.csv"), "--wave", "W1"),
    ):
        result = cli(ws, *args)
        # plan exits 1 for erin, imported and never scanned, and plans the others.
        assert result.returncode == (1 if args[0] == "plan" else 0), (args, result.stdout)
    yield ws, tenant
    tenant.stop()


@pytest.fixture
def ws(made, tmp_path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(made[0], copy)
    return copy


@pytest.fixture
def tenant(made):
    return made[1]


def notices(ws: Path, *args: str):
    return cli(ws, "notices", *args)


def counts_in(text: str, phrases: dict[str, str]) -> dict[str, int]:
    """The count each reason's line of a text notice gives (reasons without a line: absent)."""
    found = {}
    for line in text.splitlines():
        match = _COUNT_LINE.match(line)
        if match:
            kind = next(k for k, phrase in phrases.items() if match[2].startswith(phrase))
            found[kind] = int(match[1].replace(",", ""))
    return found


def planned_actions(ws: Path, upn: str) -> Counter:
    with sqlite3.connect(ws / "state.db") as db:
        rows = db.execute(
            "SELECT d.action FROM decisions AS d JOIN plan_users AS u"
            " ON u.run_id = d.run_id AND u.upn = d.upn WHERE d.upn = ?",
            [upn],
        )
        return Counter(action for (action,) in rows)


def sent_items(tenant) -> list[dict]:
    messages, url = [], f"/users/{MAILBOX}/mailFolders/sentitems/messages?$top=2"
    with tenant.client() as client:
        while url:
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            messages += body["value"]
            url = body.get("@odata.nextLink")
    return messages


def test_before_notice_counts_each_reason_as_the_plan_has_it(ws, tmp_path):
    out = tmp_path / "before"
    result = notices(
        ws, "--stage", "before", "--wave", "W1", "--date", "2026-03-14", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert f"not planned yet (run plan first): {ERIN}" in result.stdout
    text = (out / f"{ALICE}.txt").read_text()
    assert text.startswith(
        "Subject: Your H: drive is moving to OneDrive on Saturday 14 March 2026\n"
    )
    assert counts_in(text, PHRASES) == EXPECTED
    assert f"What will move: {MOVING} files." in text
    assert f"{RENAMED} of them will move under a slightly different name" in text
    assert "Service desk, 01234 567890" in text
    # The same counts as the plan's decisions, action by action.
    actions = planned_actions(ws, ALICE)
    assert actions["migrate"] == MOVING
    assert actions["exclude"] == EXPECTED["clutter"] + EXPECTED["duplicates"]
    assert actions["review"] == sum(
        EXPECTED[k] for k in ("mail_archives", "review", "too_long", "links")
    )
    assert actions["dispose_after_approval"] == EXPECTED["old_files"]
    assert actions["divert_evidence"] == EXPECTED["evidence"]
    assert actions["hold"] == EXPECTED["held"]
    html = (out / f"{ALICE}.html").read_text()
    for kind, count in EXPECTED.items():
        assert f"<li>{count}: " in html, kind
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{ALICE}.txt", f"{ALICE}.html", f"{DAVE}.txt", f"{DAVE}.html", "notices.txt"]
    )


def test_a_wave_without_a_date_is_named(ws, tmp_path):
    out = tmp_path / "before"
    assert notices(ws, "--stage", "before", "--user", DAVE, "--out", str(out)).returncode == 0
    text = (out / f"{DAVE}.txt").read_text()
    assert text.startswith("Subject: Your H: drive is moving to OneDrive during wave W1\n")
    assert "What will move: 1 file." in text and "What will not move" not in text


def test_a_display_name_holding_markup_shows_as_text(ws, tmp_path):
    out = tmp_path / "before"
    assert notices(ws, "--stage", "before", "--user", ALICE, "--out", str(out)).returncode == 0
    html = (out / f"{ALICE}.html").read_text()
    assert "<script>" not in html
    assert "Dear &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Alice," in html
    assert f"Dear {SCRIPT_NAME}," in (out / f"{ALICE}.txt").read_text()


def file_names(ws: Path) -> set[str]:
    """Every name (file or folder) on the users' H: drives."""
    with sqlite3.connect(ws / "state.db") as db:
        paths = [path for (path,) in db.execute("SELECT path FROM files")]
    # Names of four characters or more: "Old" could be any word of a sentence.
    return {part for path in paths for part in path.split("/") if len(part) >= 4}


def test_no_notice_names_a_file_or_folder(ws, tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    assert notices(ws, "--stage", "before", "--out", str(before)).returncode == 0
    migrated = cli(ws, "migrate", "--wave", "W1")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    written = notices(ws, "--stage", "after", "--out", str(after))
    assert written.returncode == 0 and "wrote 2 notices" in written.stdout, written.stdout
    names = file_names(ws)
    notices_written = [*before.glob("*@*"), *after.glob("*@*")]
    assert len(notices_written) == 8
    for notice in notices_written:
        text = notice.read_text()
        assert not [name for name in names if name in text], notice.name


def test_after_notice_says_where_the_files_are_and_what_stayed(ws, tmp_path):
    migrated = cli(ws, "migrate", "--wave", "W1")
    assert migrated.returncode == 0, migrated.stderr
    out = tmp_path / "after"
    result = notices(ws, "--stage", "after", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = (out / f"{ALICE}.txt").read_text()
    assert text.startswith("Subject: Your H: drive files are now in OneDrive\n")
    assert f'{MOVING} files are now in the "H Drive" folder of your OneDrive' in text
    assert counts_in(text, AFTER_PHRASES) == EXPECTED
    assert "What did not move yet" not in text
    assert "Contact Service desk, 01234 567890." in text
    # One file failing afterwards: counted by its plain reason, and no longer as moved.
    with sqlite3.connect(ws / "state.db") as db:
        db.execute(
            "UPDATE transfers SET state = 'failed', reason = 'source-unreadable'"
            " WHERE upn = ? AND path = 'Documents/plan.xlsx'",
            [ALICE],
        )
    again = tmp_path / "again"
    assert notices(ws, "--stage", "after", "--user", ALICE, "--out", str(again)).returncode == 0
    text = (again / f"{ALICE}.txt").read_text()
    assert f"{MOVING - 1} files are now in" in text
    assert "- 1: files that could not be read from your H: drive." in text


def test_after_notices_wait_for_the_migration(ws, tmp_path):
    result = notices(ws, "--stage", "after", "--out", str(tmp_path / "after"))
    assert result.returncode == 0, result.stderr
    assert "not migrated yet (state planned)" in result.stdout
    assert "wrote 0 notices" in result.stdout


def test_send_goes_once_and_is_read_back_from_sent_items(ws, tenant, tmp_path):
    already = len(sent_items(tenant))
    out = tmp_path / "before"
    first = notices(ws, "--stage", "before", "--out", str(out), "--send")
    assert first.returncode == 0, first.stderr
    assert f"sent 2 from {MAILBOX}; 0 already sent before; 0 failed" in first.stdout
    second = notices(ws, "--stage", "before", "--out", str(out), "--send")
    assert second.returncode == 0, second.stderr
    assert f"sent 0 from {MAILBOX}; 2 already sent before; 0 failed" in second.stdout
    messages = sent_items(tenant)[: len(sent_items(tenant)) - already]
    recipients = sorted(m["toRecipients"][0]["emailAddress"]["address"] for m in messages)
    assert recipients == [ALICE, DAVE]
    alice = next(m for m in messages if m["toRecipients"][0]["emailAddress"]["address"] == ALICE)
    assert alice["subject"] == "Your H: drive is moving to OneDrive during wave W1"
    assert alice["body"]["contentType"] == "html"
    assert alice["body"]["content"] == (out / f"{ALICE}.html").read_text()
    assert alice["from"]["emailAddress"]["address"] == MAILBOX
    with sqlite3.connect(ws / "state.db") as db:
        rows = db.execute("SELECT upn, stage, status, attempts FROM notices ORDER BY upn")
        assert rows.fetchall() == [(ALICE, "before", "sent", 1), (DAVE, "before", "sent", 1)]
        events = db.execute(
            "SELECT action, subject, detail FROM events WHERE action LIKE 'notice.%'"
        )
        events = events.fetchall()
    assert sorted((action, subject) for action, subject, _ in events) == [
        ("notice.sent", ALICE),
        ("notice.sent", DAVE),
    ]
    assert all("Dear" not in detail and "<p>" not in detail for _, _, detail in events)


def test_a_refused_send_is_recorded_and_the_others_still_go(ws, tenant, tmp_path):
    # Alice's notice made larger than the 4 MB a JSON sendMail request may be: refused (413).
    out = tmp_path / "before"
    assert notices(ws, "--stage", "before", "--user", DAVE, "--out", str(out)).returncode == 0
    template = ws / "templates" / "notices" / "before.html.j2"
    original = template.read_text()
    padding = f'{{% if upn == "{ALICE}" %}}{{{{ "x" * 5000000 }}}}{{% endif %}}\n'
    template.write_text(original.replace("</body>", padding + "</body>"))
    result = notices(ws, "--stage", "before", "--out", str(out), "--send")
    assert result.returncode == 1, result.stderr
    assert f"sent 1 from {MAILBOX}; 0 already sent before; 1 failed" in result.stdout
    assert result.stderr.startswith(f"  {ALICE}: ") and "413" in result.stderr
    with sqlite3.connect(ws / "state.db") as db:
        rows = db.execute("SELECT upn, status, attempts FROM notices ORDER BY upn").fetchall()
        failed = db.execute("SELECT detail FROM events WHERE action = 'notice.failed'").fetchall()
    assert rows == [(ALICE, "failed", 1), (DAVE, "sent", 1)]
    assert len(failed) == 1 and "413" in failed[0][0]
    # Put right, the next run sends what failed and nothing twice.
    template.write_text(original)
    again = notices(ws, "--stage", "before", "--out", str(out), "--send")
    assert again.returncode == 0, again.stderr
    assert f"sent 1 from {MAILBOX}; 1 already sent before; 0 failed" in again.stdout
    with sqlite3.connect(ws / "state.db") as db:
        rows = db.execute("SELECT upn, status, attempts FROM notices ORDER BY upn").fetchall()
    assert rows == [(ALICE, "sent", 2), (DAVE, "sent", 1)]


def test_sending_needs_the_mailbox_and_mail_send(ws, tenant_factory, tmp_path):
    toml = (ws / "hdrive.toml").read_text()
    (ws / "hdrive.toml").write_text(toml.replace(f'mailbox = "{MAILBOX}"\n', ""))
    result = notices(ws, "--stage", "before", "--out", str(tmp_path / "a"), "--send")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "[notices]" in result.stderr
    # A tenant that has not granted Mail.Send: one line naming it, nothing recorded as sent.
    denied = tenant_factory(USERS, app_permissions={"User.Read.All", "Files.ReadWrite.All"})
    (ws / "hdrive.toml").write_text(
        toml.replace(re.search(r"url = '[^']*'", toml)[0], f"url = '{denied.url}'")
    )
    result = notices(ws, "--stage", "before", "--out", str(tmp_path / "b"), "--send")
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Mail.Send" in result.stderr
    with sqlite3.connect(ws / "state.db") as db:
        assert db.execute("SELECT status FROM notices").fetchall() == [("failed",)]


def test_a_broken_template_is_one_line_with_file_line_and_fix(ws, tmp_path):
    out = tmp_path / "first"
    first = notices(ws, "--stage", "before", "--user", DAVE, "--out", str(out))
    assert "copied the default templates" in first.stdout
    template = ws / "templates" / "notices" / "before.html.j2"
    lines = template.read_text().splitlines()
    lines[6] = "<p>Dear {{ display_name }, </p>"
    template.write_text("\n".join(lines) + "\n")
    result = notices(ws, "--stage", "before", "--user", DAVE, "--out", str(tmp_path / "broken"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{template}:7: ") and ". Fix: " in result.stderr
    lines[6] = "<p>Dear {{ dispaly_name }}</p>"
    template.write_text("\n".join(lines) + "\n")
    result = notices(ws, "--stage", "before", "--user", DAVE, "--out", str(tmp_path / "undefined"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{template}:7: ") and "dispaly_name" in result.stderr
    assert not (tmp_path / "broken").exists() and not (tmp_path / "undefined").exists()


def test_an_edited_template_is_used_and_kept(ws, tmp_path):
    assert (
        notices(ws, "--stage", "before", "--user", DAVE, "--out", str(tmp_path / "a")).returncode
        == 0
    )
    template = ws / "templates" / "notices" / "before.txt.j2"
    template.write_text("Subject: Moving day\n\nHello {{ display_name }}: {{ moving }} to go.\n")
    result = notices(ws, "--stage", "before", "--user", DAVE, "--out", str(tmp_path / "b"))
    assert result.returncode == 0 and "copied" not in result.stdout
    assert (
        tmp_path / "b" / f"{DAVE}.txt"
    ).read_text() == "Subject: Moving day\n\nHello Dave Example: 1 to go.\n"


def test_a_rerun_replaces_its_own_notices_but_no_other_file(ws, tmp_path):
    out = tmp_path / "out"
    assert notices(ws, "--stage", "before", "--user", DAVE, "--out", str(out)).returncode == 0
    assert notices(ws, "--stage", "before", "--user", DAVE, "--out", str(out)).returncode == 0
    (out / f"{ALICE}.txt").write_text("someone else's file")
    written = (out / f"{DAVE}.txt").stat().st_mtime_ns
    result = notices(ws, "--stage", "before", "--out", str(out))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (out / f"{ALICE}.txt").read_text() == "someone else's file"
    assert (out / f"{DAVE}.txt").stat().st_mtime_ns == written  # nothing written at all
    assert notices(ws, "--stage", "before", "--out", str(out), "--force").returncode == 0
    assert (out / f"{ALICE}.txt").read_text().startswith("Subject: ")


@pytest.mark.parametrize(
    ("action", "path", "reason", "kind"),
    [
        ("migrate", "a.docx", None, None),
        ("exclude", "~$a.docx", None, "clutter"),
        ("exclude", "b.txt", "duplicate of a.txt", "duplicates"),
        ("review", "Mail/A.PST", None, "mail_archives"),
        ("review", "Mail/a.ost", None, "mail_archives"),
        ("review", "photo.jpg", None, "review"),
        ("review", "x.docx", path_length_problem("x" * 401), "too_long"),
        ("review", "link", LINK_REASON, "links"),
        ("dispose_after_approval", "old.doc", None, "old_files"),
        ("divert_evidence", "Exhibits/a", None, "evidence"),
        ("hold", "a", None, "held"),
    ],
)
def test_reason_kinds(action, path, reason, kind):
    assert reason_kind(action, path, reason) == kind
    assert kind is None or kind in NOT_MOVING


def test_failure_kinds_are_plain():
    assert failure_kind("changed-during-migration") == "changed"
    assert failure_kind("source-unreadable") == "unreadable"
    assert failure_kind(None) == failure_kind("graph-refused") == "other"
    assert set(FAILED) >= {failure_kind(code) for code in ("too-large", "name-refused")}


def test_tenant_refuses_a_message_without_recipients_and_an_unknown_mailbox(tenant):
    with tenant.client() as client:
        empty = client.post(f"/users/{MAILBOX}/sendMail", json={"message": {"subject": "x"}})
        unknown = client.post(
            "/users/nobody@contoso.test/sendMail",
            json={"message": {"toRecipients": [{"emailAddress": {"address": ALICE}}]}},
        )
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "ErrorInvalidRecipients"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"


def test_tenant_accepts_a_message_with_202_and_an_empty_body(tenant):
    body = {
        "message": {
            "subject": "Hello",
            "body": {"contentType": "Text", "content": "hi"},
            "toRecipients": [{"emailAddress": {"address": DAVE}}],
        }
    }
    with tenant.client() as client:
        answer = client.post(f"/users/{MAILBOX}/sendMail", json=body)
        unsaved = client.post(f"/users/{MAILBOX}/sendMail", json={**body, "saveToSentItems": False})
    assert (answer.status_code, answer.content) == (202, b"")
    assert unsaved.status_code == 202
    newest = sent_items(tenant)[0]
    assert newest["subject"] == "Hello" and newest["body"] == {
        "contentType": "text",
        "content": "hi",
    }
    assert [m["subject"] for m in sent_items(tenant)].count("Hello") == 1


def test_tenant_needs_mail_send(tenant_factory):
    denied = tenant_factory(USERS, app_permissions={"User.Read.All"})
    body = {"message": {"toRecipients": [{"emailAddress": {"address": DAVE}}]}}
    with httpx.Client(base_url=denied.url, headers={"Authorization": "Bearer t"}) as client:
        answer = client.post(f"/users/{MAILBOX}/sendMail", json=body)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "ErrorAccessDenied"
