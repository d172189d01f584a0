"""The service-desk page (`hdrive-migrate serve`), end to end: a workspace made through the
command line against a real local tenant (preflight records each person's names), the page
served by its own process on a free loopback port, and read by headless Chromium, as an
analyst's browser with JavaScript or without would read it."""

import csv
import json
import os
import select
import shutil
import sqlite3
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from hdrive_migrate.cli import app
from hdrive_migrate.desk.access import access_for
from hdrive_migrate.desk.card import KEEP_USING_H, TEAM_FIRST, USER_ACTIONS, moment_text
from hdrive_migrate.desk.lookup import MAX_MATCHES, find_users
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.report.audit import verify_chain
from hdrive_migrate.store import open_store, os_user
from hdrive_migrate.workspace import open_workspace

from conftest import require_binary, start_tenant, stop_process, write_users

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "personal-files.yaml"
SCREENSHOT = "service-desk.png"
ALICE, BOB, CAROL, DEE = (f"{n}@contoso.test" for n in ("alice", "bob", "carol", "dee"))
SCRIPT_NAME = "<script>alert('dee')</script> Dee Example"
PEOPLE = (
    (ALICE, "Alice Example", "alice", True),
    (BOB, "Bob Example", "bob", False),
    (CAROL, "Carol Example", "CAROL", True),
    (DEE, SCRIPT_NAME, "dee", True),
    ("sam.smith@contoso.test", "Sam Smith", "ssmith", True),
    ("sam.smith2@contoso.test", "Sam Smith", "ssmith2", True),
)
FOLDERS = {
    ALICE: "AliceHome",
    BOB: "BobHome",
    CAROL: "CarolHome",
    DEE: "DeeHome",
    "sam.smith@contoso.test": "SmithHome",
    "sam.smith2@contoso.test": "Smith2Home",
}
# Names no page may show: each user's folders and files, which a card only counts.
FILES = {
    "Operation Nightjar/informant-list.xlsx": b"secret " * 40,
    "Operation Nightjar/Exhibits/exhibit-kestrel.jpg": b"jpeg" * 30,
    "Personal/payslip-march.pdf": b"pdf" * 20,
    "Personal/letter-to-the-bank.docx": b"docx" * 20,
    "Personal/holiday-rota.xlsx": b"xlsx" * 20,
}
runner = CliRunner()


def invoke(ws: Path, *args: str) -> None:
    result = runner.invoke(app, [*args, "-w", str(ws)], terminal_width=200)
    assert result.exit_code in (0, 1), f"{args}: {result.output}"


def execute(ws: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(ws / "state.db") as db:
        return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """Six people imported, checked by preflight against the tenant (bob's OneDrive is not
    provisioned), scanned and planned; then alice's transfers written as the engine writes
    them: some migrated, one failed because its path is too long."""
    folder = tmp_path_factory.mktemp("desk")
    tenant = start_tenant(folder / "tenant", write_users(folder / "people.csv", PEOPLE))
    try:
        for home in FOLDERS.values():
            for path, content in FILES.items():
                (folder / "homes" / home / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / "homes" / home / path).write_bytes(content)
        ws = folder / "ws"
        roster = folder / "users.csv"
        rows = "".join(f"{home},{upn},W1\n" for upn, home in FOLDERS.items())
        roster.write_text("folder,upn,wave\n" + rows)
        source = ["--source", str(folder / "homes"), "--graph-url", tenant.url]
        assert runner.invoke(app, ["init", str(ws), *source, "--auth", "local"]).exit_code == 0
        invoke(ws, "users", "import", str(roster))
        invoke(ws, "preflight")
        invoke(ws, "scan", "--hash")
        invoke(ws, "plan", "--policy", str(POLICY))
    finally:
        tenant.stop()
    migrated_alice(ws)
    return ws


def migrated_alice(ws: Path) -> None:
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="seconds")
    execute(
        ws,
        "INSERT INTO migrate_runs(id, started_at, finished_at, status, selection, operator,"
        " concurrency, chunk_bytes) VALUES (1, ?, ?, 'complete', '{}', 'tester', 4, 10485760)",
        later,
        later,
    )
    planned = execute(
        ws, "SELECT path FROM decisions WHERE upn = ? AND action = 'migrate' ORDER BY path", ALICE
    )
    for index, (path,) in enumerate(planned):
        state, reason = ("failed", "path-too-long") if index == 0 else ("migrated", None)
        execute(
            ws,
            "INSERT INTO transfers(upn, path, state, target_path, source_size, reason, detail,"
            " run_id, started_at, finished_at) VALUES (?, ?, ?, ?, 10, ?, ?, 1, ?, ?)",
            ALICE,
            path,
            state,
            f"H Drive/{path}",
            reason,
            f"while sending {path}",
            later,
            later,
        )


def planned_to_migrate(ws: Path, upn: str) -> int:
    found = execute(ws, "SELECT COUNT(*) FROM decisions WHERE upn = ? AND action = 'migrate'", upn)
    return found[0][0]


class Page:
    """A running `hdrive-migrate serve`."""

    def __init__(self, process: subprocess.Popen, url: str, stderr: Path) -> None:
        self.process, self.url, self.stderr = process, url, stderr

    def get(self, query: str | None = None, **kwargs) -> httpx.Response:
        address = self.url + (f"?q={quote(query)}" if query is not None else "")
        return httpx.get(address, timeout=30, **kwargs)

    def stop(self) -> None:
        stop_process(self.process)


def start_page(ws: Path, *args: str, env: dict | None = None) -> Page:
    binary = str(require_binary("hdrive-migrate"))
    stderr = ws.parent / f"serve-{len(list(ws.parent.glob('serve-*')))}.stderr"
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            [binary, "serve", "--port", "0", *args, "-w", str(ws)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, **(env or {})},
        )
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    if "listening on " not in line:
        process.kill()
        pytest.fail(f"serve did not start: {line!r} {stderr.read_text()}")
    return Page(process, line.split("listening on ")[1].split()[0], stderr)


@pytest.fixture(scope="module")
def page(ws):
    running = start_page(ws)
    yield running
    running.stop()


def chromium() -> str:
    """The Chromium binary; its absence fails the test (scripts/install-deps.sh installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make test` (scripts/install-deps.sh test)")
    return found


def browse(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on URL with a fresh profile, never reaching beyond loopback."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def events(ws: Path, action: str) -> list[tuple]:
    return execute(ws, "SELECT actor, subject, detail FROM events WHERE action = ?", action)


def assert_no_file_or_folder_names(text: str) -> None:
    for path in FILES:
        for part in Path(path).parts:
            assert part not in text, part
            assert Path(part).stem not in text, part
    for home in FOLDERS.values():
        assert home not in text, home


# --- end to end in Chromium -------------------------------------------------------------


def test_typing_a_upn_shows_the_card_with_state_and_counts_and_no_file_name(ws, page, tmp_path):
    """The form is a GET: submitting ALICE is loading `/?q=ALICE`, with JavaScript or not."""
    form = browse(page.url, tmp_path / "profile", "--dump-dom").stdout
    assert '<form method="get" action="/"' in form and 'name="q"' in form and "autofocus" in form

    url = f"{page.url}?q={quote(ALICE)}"
    dom = browse(url, tmp_path / "profile", "--dump-dom").stdout
    html = page.get(ALICE).text
    to_migrate = planned_to_migrate(ws, ALICE)
    assert to_migrate >= 2
    for text in (dom, html):
        assert "Alice Example" in text and ALICE in text
        assert "migrated-with-exceptions" in text
        assert f"{to_migrate - 1:,} of {to_migrate:,} files" in text  # one failed
        assert f"Found on H:</dt><dd>{len(FILES)} files" in text
        assert "path-too-long" in text and REASONS["path-too-long"].explanation in text
        assert USER_ACTIONS["path-too-long"] in text
        assert "What the user must do" in text and "H Drive" in text
        assert_no_file_or_folder_names(text)

    shot = tmp_path / SCREENSHOT
    browse(url, tmp_path / "profile", f"--screenshot={shot}", "--window-size=900,1300")
    assert shot.stat().st_size > 10_000
    # Kept for the README: docs/service-desk.png is one such copy.
    shutil.copy(shot, ws.parent / SCREENSHOT)


def test_the_page_reads_at_200_percent_zoom(page, tmp_path):
    """Twice the pixels per CSS pixel: what 200% zoom does to a 900-pixel-wide window."""
    shot = tmp_path / "zoomed.png"
    url = f"{page.url}?q={quote(ALICE)}"
    args = ("--force-device-scale-factor=2", "--window-size=450,1400", f"--screenshot={shot}")
    browse(url, tmp_path / "profile", *args)
    assert shot.stat().st_size > 10_000
    style = page.get(ALICE).text.split("<style>")[1].split("</style>")[0]
    # Relative units only: no width in pixels for the zoom to overflow.
    assert "px" not in style


def test_a_display_name_holding_markup_renders_as_text(page, tmp_path):
    dom = browse(f"{page.url}?q=dee", tmp_path / "profile", "--dump-dom").stdout
    assert "&lt;script&gt;alert('dee')&lt;/script&gt; Dee Example" in dom
    assert "<script>" not in dom and "<script>" not in page.get("dee").text


def test_a_display_name_several_people_share_gives_a_pick_list(page, tmp_path):
    dom = browse(f"{page.url}?q=sam%20smith", tmp_path / "profile", "--dump-dom").stdout
    assert "2 people match" in dom
    for upn in ("sam.smith@contoso.test", "sam.smith2@contoso.test"):
        assert f'href="/?q={quote(upn)}"' in dom
    assert "Found on H:" not in dom  # no card until one is chosen
    assert_no_file_or_folder_names(dom)


def test_account_names_and_display_names_find_the_person(page):
    for query in ("CAROL", r"CONTOSO\carol", "carol example", "Carol Exa"):
        assert '<h2 id="who">Carol Example' in page.get(query).text, query
    bob = page.get("Bob Example").text
    assert "blocked" in bob and "Request-SPOPersonalSite -UserEmails bob@contoso.test" in bob
    assert "Nobody found" in page.get("nobody at all").text


# --- the audit log ----------------------------------------------------------------------


def test_every_look_up_is_recorded_as_a_consultation_with_the_operator(ws, page, tmp_path):
    before = len(events(ws, "status.viewed"))
    assert page.get("Alice Example").status_code == 200
    assert page.get("Sam Smith").status_code == 200
    viewed = events(ws, "status.viewed")[before:]
    assert viewed == [(os_user(), ALICE, json.dumps({"query": "Alice Example", "via": VIA}))]
    searched = events(ws, "status.searched")[-1]
    upns = sorted(["sam.smith@contoso.test", "sam.smith2@contoso.test"])
    assert searched == (os_user(), "Sam Smith", json.dumps({"matches": upns, "via": VIA}))

    out = tmp_path / "audit.csv"
    invoke(ws, "audit", "export", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = [row for row in csv.DictReader(handle) if row["action"] == "status.viewed"]
    assert rows[-1]["subject"] == ALICE and rows[-1]["actor"] == os_user()
    with open_workspace(ws) as opened:
        assert verify_chain(opened.db).broken is None


VIA = "service-desk page"


def test_a_look_up_the_log_cannot_take_is_not_shown_and_reading_never_waits(ws, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    running = start_page(copy, env={"HDRIVE_LOCK_TIMEOUT": "1"})
    try:
        writer = sqlite3.connect(copy / "state.db", isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a migration in the middle of a write
        answer = running.get(ALICE)
        assert answer.status_code == 503 and "Not shown" in answer.text
        assert "Found on H:" not in answer.text
        writer.execute("ROLLBACK")
        writer.close()
        assert "Found on H:" in running.get(ALICE).text
    finally:
        running.stop()


# --- who may use it ---------------------------------------------------------------------


def test_a_non_loopback_host_is_refused_in_one_line(ws):
    binary = str(require_binary("hdrive-migrate"))
    for extra in ((), ("--allow-remote",)):
        command = [binary, "serve", "--host", "0.0.0.0", *extra, "-w", str(ws)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("--host 0.0.0.0: ")
        assert "--trusted-user-header X-Remote-User" in result.stderr


def test_a_taken_port_or_an_operator_beside_the_header_is_one_line(ws, page):
    binary = str(require_binary("hdrive-migrate"))
    port = page.url.rsplit(":", 1)[1].strip("/")
    for args, words in (
        (["--port", port], f"--port {port}: another program is already listening"),
        (["--trusted-user-header", "X-User", "--operator", "Jo"], "drop --operator"),
    ):
        command = [binary, "serve", *args, "-w", str(ws)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.count("\n") == 1
        assert words in result.stderr


def test_behind_a_proxy_the_header_names_the_analyst_and_its_absence_is_401(ws):
    running = start_page(ws, "--trusted-user-header", "X-Remote-User")
    try:
        before = len(events(ws, "status.viewed"))
        refused = running.get(ALICE)
        assert refused.status_code == 401 and "X-Remote-User" in refused.text
        assert "Found on H:" not in refused.text
        assert running.get(ALICE, headers={"X-Remote-User": "=cmd|calc"}).status_code == 400
        answer = running.get(ALICE, headers={"X-Remote-User": "jo.bloggs@FORCE.EXAMPLE"})
        assert answer.status_code == 200 and "Found on H:" in answer.text
        viewed = events(ws, "status.viewed")[before:]
        assert [actor for actor, *_ in viewed] == ["jo.bloggs@FORCE.EXAMPLE"]
    finally:
        running.stop()


def test_the_header_is_believed_only_from_the_trusted_proxy(ws):
    args = ("--trusted-user-header", "X-Remote-User", "--trusted-proxy", "10.9.9.9")
    running = start_page(ws, *args)
    try:
        answer = running.get(ALICE, headers={"X-Remote-User": "mallory"})
        assert answer.status_code == 403 and "Found on H:" not in answer.text
    finally:
        running.stop()


def test_locally_a_request_for_another_host_name_is_refused(page):
    """A site elsewhere cannot read the page by pointing its own name at 127.0.0.1."""
    assert page.get(ALICE, headers={"Host": "evil.example:80"}).status_code == 400


def test_every_answer_carries_the_security_headers_and_only_get_is_answered(page):
    answer = page.get(ALICE)
    policy = answer.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in policy and "unsafe" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    post = httpx.post(page.url, data={"q": ALICE}, timeout=30)
    assert post.status_code == 405 and "Found on H:" not in post.text
    assert page.get().status_code == 200 and page.get().text.count("<form") == 1
    # The console log leaves the query out: it names the person looked up.
    assert ALICE not in page.stderr.read_text() and "GET /" in page.stderr.read_text()


@pytest.mark.parametrize(
    ("host", "options", "words"),
    [
        ("127.0.0.1", {"proxies": ["10.0.0.1"]}, "--trusted-proxy"),
        ("127.0.0.1", {"user_header": "X Remote"}, "--trusted-user-header"),
        ("0.0.0.0", {"allow_remote": True, "user_header": "X-User", "proxies": ["x"]}, "'x'"),
    ],
)
def test_access_options_that_cannot_work_are_refused(host, options, words):
    settings = {"allow_remote": False, "user_header": None, "proxies": [], **options}
    with pytest.raises(HdriveError) as caught:
        access_for(host, operator="me", **settings)
    assert words in str(caught.value) and "Fix: " in str(caught.value)


# --- the pieces -------------------------------------------------------------------------


def test_preflight_records_the_names_the_tenant_gives(ws):
    names = dict(
        ((upn, (name, sam)) for upn, name, sam in execute(
            ws, "SELECT upn, display_name, sam_account_name FROM users"
        ))
    )  # fmt: skip
    assert names == {upn: (name, sam) for upn, name, sam, _ in PEOPLE}


def test_find_users_tiers_and_limits(tmp_path):
    db = open_store(tmp_path / "state.db")
    people = [(f"p{n}@c.test", f"Person {n:02}", f"p{n}", f"H{n}") for n in range(25)]
    people.append(("jones@c.test", "Person 01", "jones", "HJ"))
    for upn, name, sam, folder in people:
        db.execute(
            "INSERT INTO users(upn, folder, display_name, sam_account_name, imported_at,"
            " updated_at) VALUES (?, ?, ?, ?, 'now', 'now')",
            [upn, folder, name, sam],
        )
    db.execute("INSERT INTO sam_cache(sam, upn, resolved_at) VALUES ('jj', 'jones@c.test', 'x')")
    upns = lambda query: [match.upn for match in find_users(db, query).matches]  # noqa: E731
    assert upns("P3@C.TEST") == ["p3@c.test"]
    assert upns("DOMAIN\\p3") == upns("h3") == ["p3@c.test"]
    assert upns("JJ") == ["jones@c.test"]
    assert upns("person 01") == ["jones@c.test", "p1@c.test"]
    found = find_users(db, "Person")
    assert len(found.matches) == MAX_MATCHES and found.more
    assert upns("Pe") == upns("") == upns("%") == upns("Person_0") == []
    db.close()


def test_what_the_user_must_do_names_only_reasons_the_engine_records():
    assert set(USER_ACTIONS) <= set(REASONS)
    assert KEEP_USING_H != TEAM_FIRST


def test_moments_are_shown_with_how_long_ago():
    now = datetime(2025, 6, 2, 14, 5, tzinfo=UTC)
    assert moment_text("2025-06-02T11:00:00+00:00", now) == "2025-06-02 11:00 UTC (3 hours ago)"
    assert moment_text("2025-06-01T14:05:00", now) == "2025-06-01 14:05 UTC (1 day ago)"
    assert moment_text("2025-06-02T14:04:30+00:00", now).endswith("(just now)")
    assert moment_text(None, now) == "never"


def test_templates_are_shipped_as_package_data():
    """A wheel holds only what package-data names: every template must match it."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["*"]
    templates = list((ROOT / "src" / "hdrive_migrate").glob("*/templates/*"))
    assert any(path.name == "page.html.j2" for path in templates)
    for path in templates:
        relative = f"templates/{path.name}"
        assert any(fnmatch(relative, pattern) for pattern in patterns), relative


def test_an_analyst_types_a_upn_and_presses_enter_and_sees_the_card(page, tmp_path):
    """A real keyboard in a real browser: focus starts in the box, Enter submits the form."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver_binary = shutil.which("chromedriver")
    if driver_binary is None:
        pytest.fail("chromedriver is not installed: run `make test` (scripts/install-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'typed'}"):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(driver_binary))
    try:
        browser.get(page.url)
        typed_into = browser.switch_to.active_element
        assert typed_into.get_attribute("name") == "q"  # autofocus: no mouse needed
        typed_into.send_keys(ALICE, Keys.ENTER)
        # Enter starts loading the answer; the old page stays until it has come.
        WebDriverWait(browser, 30).until(lambda b: "q=" in b.current_url)
        WebDriverWait(browser, 30).until(
            lambda b: b.execute_script("return document.readyState") == "complete"
        )
        card = browser.find_element(By.TAG_NAME, "main").text
        assert "Alice Example" in card and "migrated-with-exceptions" in card
        assert_no_file_or_folder_names(browser.page_source)
    finally:
        browser.quit()
