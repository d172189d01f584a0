"""`users import`, `wave list/show` and `preflight` through the command line, against the real
local tenant, home folders on disk and a real Samba share."""

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from typer.testing import CliRunner

from hdrive_migrate.cli import app, main

from samba import PASSWORD, USER, samba_share

runner = CliRunner()
NO_GRAPH = "http://127.0.0.1:9"  # nothing listens: commands that must not call Graph use it
ONEDRIVE = "https://contoso-my.sharepoint.com/personal/{}"


def make_home(root: Path, *folders: str) -> Path:
    for folder in folders:
        (root / folder).mkdir(parents=True)
        (root / folder / "notes.txt").write_text(folder)
    return root


def make_workspace(tmp_path: Path, source: str, graph_url: str = NO_GRAPH) -> Path:
    workspace = tmp_path / "ws"
    args = ["init", str(workspace), "--source", source, "--graph-url", graph_url]
    result = runner.invoke(app, [*args, "--auth", "local"])
    assert result.exit_code == 0, result.output
    return workspace


def cli(workspace: Path, *args: str):
    return runner.invoke(app, [*args, "-w", str(workspace)], terminal_width=200)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def query(workspace: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(workspace / "state.db") as db:
        return db.execute(sql, params).fetchall()


def users(workspace: Path) -> list[tuple]:
    return query(workspace, "SELECT upn, folder, wave, state FROM users ORDER BY folder")


def graph_gets(tenant, suffix: str = "") -> list[str]:
    """Decoded paths of the GET requests the tenant has served, those ending in SUFFIX."""
    paths = [unquote(r["path"]) for r in tenant.requests() if r["method"] == "GET"]
    return [path for path in paths if path.endswith(suffix)]


def test_import_a_simple_csv_and_import_it_again_harmlessly(tmp_path):
    home = make_home(tmp_path / "home", "alice", "bob")
    workspace = make_workspace(tmp_path, str(home))
    people = write(
        tmp_path / "people.csv",
        "\ufefffolder,upn,wave\nALICE,alice@contoso.test,pilot\nbob,bob@contoso.test,\n",
    )
    first = cli(workspace, "users", "import", str(people))
    assert first.exit_code == 0, first.output
    assert (
        first.stdout == f"{people} (simple CSV): imported 2, updated 0, unchanged 0, rejected 0\n"
    )
    again = cli(workspace, "users", "import", str(people))
    assert (
        again.stdout == f"{people} (simple CSV): imported 0, updated 0, unchanged 2, rejected 0\n"
    )
    assert users(workspace) == [
        ("alice@contoso.test", "alice", "pilot", "imported"),
        ("bob@contoso.test", "bob", None, "imported"),
    ]
    events = query(workspace, "SELECT subject, detail FROM events WHERE action = 'users.imported'")
    assert [subject for subject, _ in events] == [str(people.resolve())] * 2
    assert json.loads(events[1][1]) == {
        "format": "simple",
        "wave": None,
        "resolve_sam": False,
        "imported": 0,
        "updated": 0,
        "unchanged": 2,
        "rejected": 0,
        "moved": 0,
    }


def test_each_bad_row_is_one_line_and_the_good_rows_still_import(tmp_path):
    home = make_home(tmp_path / "home", "alice", "bob", "carol", "dave", "erin")
    workspace = make_workspace(tmp_path, str(home))
    write(tmp_path / "earlier.csv", "folder,upn\nerin,erin@contoso.test\n")
    assert cli(workspace, "users", "import", str(tmp_path / "earlier.csv")).exit_code == 0
    people = write(
        tmp_path / "people.csv",
        "folder,upn\n"
        "alice,alice@contoso.test\n"
        "nobody,nobody@contoso.test\n"
        "bob,bob@contoso.test\n"
        "bob,robert@contoso.test\n"
        "carol,carol\n"
        "carol,carol@contoso.test,extra\n"
        "dave,dave@contoso.test\n"
        "erin,someone@contoso.test\n"
        "\n"
        "dave,dave@contoso.test\n",
    )
    result = cli(workspace, "users", "import", str(people))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [line.split(". Fix: ")[0] for line in lines] == [
        f"{people}:3: no folder nobody under {home}",
        f"{people}:4: folder bob is also on line 5",
        f"{people}:5: folder bob is also on line 4",
        f"{people}:6: 'carol' is not a valid UPN",
        f"{people}:7: 3 columns where the header has 2",
        f"{people}:8: folder dave is also on line 11",
        f"{people}:9: folder erin already belongs to erin@contoso.test "
        f"({(tmp_path / 'earlier.csv').resolve()}:2)",
        f"{people}:11: folder dave is also on line 8",
    ]
    assert all(". Fix: " in line for line in lines)
    assert (
        result.stdout == f"{people} (simple CSV): imported 1, updated 0, unchanged 0, rejected 8\n"
    )
    assert [upn for upn, *_ in users(workspace)] == ["alice@contoso.test", "erin@contoso.test"]


def test_the_wave_option_assigns_and_a_file_without_waves_keeps_them(tmp_path):
    home = make_home(tmp_path / "home", "alice", "bob")
    workspace = make_workspace(tmp_path, str(home))
    people = write(tmp_path / "p.csv", "folder,upn,wave\nalice,alice@contoso.test,pilot\n")
    no_waves = write(tmp_path / "n.csv", "folder,upn\nalice,alice@contoso.test\nbob,bob@c.test\n")
    assert cli(workspace, "users", "import", str(people), "--wave", "w2").exit_code == 0
    assert cli(workspace, "users", "import", str(no_waves)).stdout.endswith(
        "imported 1, updated 0, unchanged 1, rejected 0\n"
    )
    assert [wave for _, _, wave, _ in users(workspace)] == ["w2", None]
    assert cli(workspace, "users", "import", str(people)).stdout.endswith(
        "imported 0, updated 1, unchanged 0, rejected 0\n"
    )
    assert [wave for _, _, wave, _ in users(workspace)] == ["pilot", None]
    refused = cli(workspace, "users", "import", str(people), "--wave", "(no wave)")
    assert "--wave: (no wave) is how listings show users without a wave" in str(refused.exception)


def test_a_semicolon_export_from_excel_imports_like_a_comma_one(tmp_path):
    home = make_home(tmp_path / "home", "alice", "bob")
    workspace = make_workspace(tmp_path, str(home))
    people = write(
        tmp_path / "people.csv",
        "\ufefffolder;upn;wave\r\nalice;alice@contoso.test;pilot\r\n"
        f"{home / 'bob'};;;{ONEDRIVE.format('bob_contoso_test')};;\r\n",
    )
    result = cli(workspace, "users", "import", str(people))
    assert result.stderr.split(". Fix: ")[0] == f"{people}:3: 6 columns where the header has 3"
    assert result.stdout.endswith("imported 1, updated 0, unchanged 0, rejected 1\n")
    spmt = write(
        tmp_path / "spmt.csv", f"{home / 'bob'}\t\t\t{ONEDRIVE.format('bob_contoso_test')}\t\t\n"
    )
    result = cli(workspace, "users", "import", str(spmt))
    assert (result.exit_code, result.stderr) == (0, "")
    assert users(workspace) == [
        ("alice@contoso.test", "alice", "pilot", "imported"),
        ("bob@contoso.test", "bob", None, "imported"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "error"),
    [
        (
            "upn,folder\nalice@contoso.test,alice\n",
            1,
            "the first line (upn,folder, 2 columns) is neither the header of a simple CSV "
            "(folder,upn or folder,upn,wave) nor an SPMT / Migration Manager row (six columns, "
            "the first a source path). Fix: start a simple CSV with the line folder,upn or "
            "folder,upn,wave; an SPMT CSV has no header",
        ),
        (
            'folder,upn\nalice,alice@contoso.test\n"bob,bob@contoso.test\ncarol,c@contoso.test\n',
            3,
            "a quote opened on this line is never closed; 1 line after it was not read. Fix: "
            'close the quote, and write "" for a quote inside a quoted value',
        ),
    ],
)
def test_a_file_it_cannot_read_rightly_imports_nobody(tmp_path, capsys, text, line, error):
    home = make_home(tmp_path / "home", "alice", "bob", "carol")
    workspace = make_workspace(tmp_path, str(home))
    people = write(tmp_path / "people.csv", text)
    with pytest.raises(SystemExit) as caught:
        main(["users", "import", str(people), "-w", str(workspace)])
    assert (caught.value.code, capsys.readouterr().err) == (2, f"{people}:{line}: {error}\n")
    assert users(workspace) == []


def test_a_user_given_another_folder_is_warned_that_their_scan_no_longer_applies(tmp_path):
    home = make_home(tmp_path / "home", "alice", "alice2", "bob", "bob2")
    workspace = make_workspace(tmp_path, str(home))
    first = write(tmp_path / "first.csv", "folder,upn\nalice,alice@c.test\nbob,bob@c.test\n")
    assert cli(workspace, "users", "import", str(first)).exit_code == 0
    add_scan(workspace, "alice@c.test", "complete", 10, 1000)
    moved = write(tmp_path / "moved.csv", "folder,upn\nbob2,bob@c.test\nALICE2,alice@c.test\n")
    result = cli(workspace, "users", "import", str(moved))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"{moved}:2: warning: bob@c.test moves from folder bob to folder bob2. Fix: check this "
        "is the right folder, then run `hdrive-migrate preflight --user bob@c.test` and "
        "`hdrive-migrate scan --user bob@c.test` again",
        f"{moved}:3: warning: alice@c.test moves from folder alice to folder alice2, so scan 1 "
        "(2025-01-02) no longer applies. Fix: check this is the right folder, then run "
        "`hdrive-migrate preflight --user alice@c.test` and `hdrive-migrate scan --user "
        "alice@c.test` again",
    ]
    assert result.stdout.endswith("imported 0, updated 2, unchanged 0, rejected 0\n")
    assert users(workspace)[0] == ("alice@c.test", "alice2", None, "imported")
    events = query(workspace, "SELECT detail FROM events WHERE action = 'users.imported'")
    assert json.loads(events[-1][0])["moved"] == 2
    again = cli(workspace, "users", "import", str(moved))
    assert (again.exit_code, again.stderr) == (0, "")


def test_resolve_sam_finds_upns_once_and_caches_the_answers(tmp_path, tenant_factory):
    tenant = tenant_factory(
        [
            ("alice@contoso.test", "Alice", "alice", True),
            ("carol@contoso.test", "Carol", "CAROL", True),
            ("obrien@contoso.test", "Pat O'Brien", "o'brien", True),
        ]
    )
    home = make_home(tmp_path / "home", "alice", "carol", "dave", "o'brien", "bob")
    workspace = make_workspace(tmp_path, str(home), tenant.url)
    people = write(
        tmp_path / "people.csv",
        "folder,upn\nalice,\ncarol,\ndave,\no'brien,\nbob,bob@contoso.test\n",
    )
    result = cli(workspace, "users", "import", str(people), "--resolve-sam")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{people}:4: no user in the tenant has onPremisesSamAccountName 'dave'. Fix: fill in "
        "this row's upn column: the folder is not named after a synced on-premises account"
    ]
    assert [(upn, folder) for upn, folder, *_ in users(workspace)] == [
        ("alice@contoso.test", "alice"),
        ("bob@contoso.test", "bob"),
        ("carol@contoso.test", "carol"),
        ("obrien@contoso.test", "o'brien"),
    ]
    assert query(workspace, "SELECT sam, upn FROM sam_cache ORDER BY sam") == [
        ("alice", "alice@contoso.test"),
        ("carol", "carol@contoso.test"),
        ("dave", None),
        ("o'brien", "obrien@contoso.test"),
    ]
    asked = len(graph_gets(tenant, "/users"))
    assert asked == 4
    again = cli(workspace, "users", "import", str(people), "--resolve-sam")
    assert again.stdout.endswith("imported 0, updated 0, unchanged 4, rejected 1\n")
    assert len(graph_gets(tenant, "/users")) == asked


def add_scan(workspace: Path, upn: str, status: str, files: int, size: int) -> None:
    with sqlite3.connect(workspace / "state.db") as db:
        db.execute(
            "INSERT INTO scans(upn, status, hashed, atime_trusted, started_at, finished_at, files,"
            " folders, bytes) VALUES(?, ?, 0, 0, '2025-01-01', '2025-01-02', ?, 1, ?)",
            (upn, status, files, size),
        )


def spmt_row(home: Path, folder: str, segment: str) -> str:
    return f"{home / folder},,,{ONEDRIVE.format(segment)},Documents,\n"


def test_spmt_upns_are_guessed_then_confirmed_by_preflight(tmp_path, tenant_factory):
    tenant = tenant_factory(
        [
            ("alice@contoso.test", "Alice", "alice", True),
            ("megan_bowen@contoso.test", "Megan Bowen", "meganb", True),
        ]
    )
    home = make_home(tmp_path / "home", "alice", "MeganB")
    workspace = make_workspace(tmp_path, str(home), tenant.url)
    spmt = write(
        tmp_path / "spmt.csv",
        spmt_row(home, "alice", "alice_contoso_test")
        + spmt_row(home, "meganb", "megan_bowen_contoso_test"),
    )
    assert cli(workspace, "users", "import", str(spmt)).exit_code == 0
    assert [upn for upn, *_ in users(workspace)] == [
        "alice@contoso.test",
        "megan.bowen@contoso.test",
    ]
    derived = "SELECT upn FROM findings WHERE kind = 'upn_derived' ORDER BY upn"
    assert query(workspace, derived) == [("alice@contoso.test",), ("megan.bowen@contoso.test",)]
    add_scan(workspace, "megan.bowen@contoso.test", "complete", 1, 1)
    result = cli(workspace, "preflight")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "✓ alice@contoso.test (alice): ready",
        "✓ megan_bowen@contoso.test (MeganB): ready",
        "2 ready, 0 blocked, of 2 users",
    ]
    assert query(workspace, derived) == []
    assert query(workspace, "SELECT upn FROM scans") == [("megan_bowen@contoso.test",)]
    again = cli(workspace, "users", "import", str(spmt))
    assert again.stdout == f"{spmt} (SPMT CSV): imported 0, updated 0, unchanged 2, rejected 0\n"
    assert [upn for upn, *_ in users(workspace)] == [
        "alice@contoso.test",
        "megan_bowen@contoso.test",
    ]
    assert query(workspace, derived) == []


def test_a_given_upn_replaces_a_guess_and_a_guess_leaves_a_given_upn_alone(tmp_path):
    home = make_home(tmp_path / "home", "meganb")
    workspace = make_workspace(tmp_path, str(home))
    spmt = write(tmp_path / "spmt.csv", spmt_row(home, "meganb", "megan_bowen_contoso_test"))
    given = write(tmp_path / "given.csv", "folder,upn\nmeganb,megan_bowen@contoso.test\n")
    assert cli(workspace, "users", "import", str(spmt)).exit_code == 0
    add_scan(workspace, "megan.bowen@contoso.test", "complete", 1, 1)
    replaced = cli(workspace, "users", "import", str(given))
    assert replaced.stdout.endswith("imported 0, updated 1, unchanged 0, rejected 0\n")
    assert users(workspace) == [("megan_bowen@contoso.test", "meganb", None, "imported")]
    assert query(workspace, "SELECT upn FROM scans") == [("megan_bowen@contoso.test",)]
    assert query(workspace, "SELECT count(*) FROM findings") == [(0,)]
    again = cli(workspace, "users", "import", str(spmt))
    assert again.stdout.endswith("imported 0, updated 0, unchanged 1, rejected 0\n")
    assert users(workspace) == [("megan_bowen@contoso.test", "meganb", None, "imported")]


def test_resolve_sam_confirms_spmt_upns_at_import(tmp_path, tenant_factory):
    tenant = tenant_factory(
        [
            ("megan_bowen@contoso.test", "Megan Bowen", "meganb", True),
            ("jo.smith@contoso.test", "Jo Smith", "jsmith", True),
            ("jo_smith@contoso.test", "Jo Smith", "jsmith2", True),
        ]
    )
    home = make_home(tmp_path / "home", "meganb", "josmith", "ghost")
    workspace = make_workspace(tmp_path, str(home), tenant.url)
    spmt = write(
        tmp_path / "spmt.csv",
        spmt_row(home, "meganb", "megan_bowen_contoso_test")
        + spmt_row(home, "josmith", "jo_smith_contoso_test")
        + spmt_row(home, "ghost", "ghost_contoso_test"),
    )
    result = cli(workspace, "users", "import", str(spmt), "--resolve-sam")
    assert result.exit_code == 1
    assert [line.split(". Fix: ")[0] for line in result.stderr.splitlines()] == [
        f"{spmt}:2: jo.smith@contoso.test and jo_smith@contoso.test all give the OneDrive URL "
        "segment jo_smith_contoso_test",
        f"{spmt}:3: no user in the tenant gives the OneDrive URL segment ghost_contoso_test "
        "(tried ghost@contoso.test)",
    ]
    assert users(workspace) == [("megan_bowen@contoso.test", "meganb", None, "imported")]
    assert query(workspace, "SELECT count(*) FROM findings") == [(0,)]


def test_wave_list_and_show(tmp_path, capsys):
    home = make_home(tmp_path / "home", "alice", "bob", "carol")
    workspace = make_workspace(tmp_path, str(home))
    people = write(
        tmp_path / "people.csv",
        "folder,upn,wave\nalice,alice@c.test,pilot\nbob,bob@c.test,pilot\ncarol,carol@c.test,\n",
    )
    assert cli(workspace, "users", "import", str(people)).exit_code == 0
    add_scan(workspace, "alice@c.test", "complete", 10, 1000)
    add_scan(workspace, "ALICE@c.test", "complete", 12, 3 * 1024**3)
    add_scan(workspace, "alice@c.test", "failed", 99, 99)
    listed = json.loads(cli(workspace, "wave", "list", "--json").stdout)
    assert listed == {
        "waves": [
            {
                "wave": "pilot",
                "users": 2,
                "states": {"imported": 2},
                "scanned_users": 1,
                "files": 12,
                "bytes": 3 * 1024**3,
            },
            {
                "wave": None,
                "users": 1,
                "states": {"imported": 1},
                "scanned_users": 0,
                "files": None,
                "bytes": None,
            },
        ]
    }
    table = cli(workspace, "wave", "list").stdout.splitlines()
    assert table[0].split() == ["WAVE", "USERS", "STATES", "SCANNED", "FILES", "SIZE"]
    assert table[1].split() == ["pilot", "2", "imported", "2", "1/2", "12", "3.0", "GiB"]
    assert table[2].split() == ["(no", "wave)", "1", "imported", "1", "0/1", "-", "-"]
    shown = json.loads(cli(workspace, "wave", "show", "pilot", "--json").stdout)
    assert shown["wave"] == "pilot"
    alice, bob = shown["users"]
    assert alice == {
        "upn": "alice@c.test",
        "folder": "alice",
        "state": "imported",
        "drive_id": None,
        "findings": 0,
        "scan": {
            "id": 2,
            "finished_at": "2025-01-02",
            "files": 12,
            "folders": 1,
            "bytes": 3 * 1024**3,
        },
    }
    assert bob["upn"] == "bob@c.test" and bob["scan"] is None
    no_wave = cli(workspace, "wave", "show", "(no wave)").stdout.splitlines()
    assert [line.split()[0] for line in no_wave] == ["UPN", "carol@c.test"]
    no_wave = json.loads(cli(workspace, "wave", "show", "(no wave)", "--json").stdout)
    assert no_wave["wave"] is None and [u["upn"] for u in no_wave["users"]] == ["carol@c.test"]
    with pytest.raises(SystemExit) as caught:
        main(["wave", "show", "nosuch", "-w", str(workspace)])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "no users in wave 'nosuch'. Fix: check the name with `hdrive-migrate wave list`\n"
    )


def test_preflight_checks_folders_users_and_onedrives_probing_each_once(tmp_path, tenant_factory):
    tenant = tenant_factory()  # alice, bob (no OneDrive), carol
    home = make_home(tmp_path / "home", "alice", "bob", "dave", "erin")
    workspace = make_workspace(tmp_path, str(home), tenant.url)
    people = write(
        tmp_path / "people.csv",
        "folder,upn\nalice,alice@contoso.test\nbob,bob@contoso.test\n"
        "dave,dave@contoso.test\nerin,carol@contoso.test\n",
    )
    assert cli(workspace, "users", "import", str(people), "--wave", "w1").exit_code == 0
    (home / "erin" / "notes.txt").unlink()
    (home / "erin").rmdir()
    result = cli(workspace, "preflight", "--wave", "w1")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "✓ alice@contoso.test (alice): ready",
        "✗ bob@contoso.test (bob): the OneDrive of bob@contoso.test is not provisioned. Fix: "
        "pre-provision it (SharePoint Online PowerShell: Request-SPOPersonalSite -UserEmails "
        "bob@contoso.test), wait for the queue, then run preflight again",
        f"✗ carol@contoso.test (erin): no folder erin under {home}. Fix: restore or rename the "
        "folder, or correct the user list and import it again",
        "✗ dave@contoso.test (dave): no user dave@contoso.test in the tenant. Fix: correct the "
        "UPN in the user list and import it again",
        "1 ready, 3 blocked, of 4 users",
    ]
    drive_probes = graph_gets(tenant, "/drive")
    assert sorted(drive_probes) == [
        "/v1.0/users/alice@contoso.test/drive",
        "/v1.0/users/bob@contoso.test/drive",
        "/v1.0/users/carol@contoso.test/drive",
    ]
    assert query(workspace, "SELECT upn, state, drive_id IS NOT NULL FROM users ORDER BY upn") == [
        ("alice@contoso.test", "ready", 1),
        ("bob@contoso.test", "blocked", 0),
        ("carol@contoso.test", "blocked", 1),
        ("dave@contoso.test", "blocked", 0),
    ]
    assert query(workspace, "SELECT drive_id FROM users WHERE folder = 'alice'") == [
        (tenant.drive_id("alice@contoso.test"),)
    ]
    make_home(home, "erin")
    again = cli(workspace, "preflight", "--wave", "w1")
    assert "✓ carol@contoso.test (erin): ready" in again.stdout.splitlines()
    assert query(workspace, "SELECT upn, kind FROM findings WHERE stage = 'preflight'") == [
        ("bob@contoso.test", "onedrive_not_provisioned"),
        ("dave@contoso.test", "user_not_found"),
    ]
    one = cli(workspace, "preflight", "--user", "ALICE@contoso.test")
    assert (one.exit_code, one.stdout.splitlines()[-1]) == (0, "1 ready, 0 blocked, of 1 user")
    both = cli(workspace, "preflight", "--wave", "w1", "--user", "alice@contoso.test")
    assert (both.exit_code, both.stdout.splitlines()[-1]) == (0, "1 ready, 0 blocked, of 1 user")


@pytest.fixture
def shared_home():
    """Home folders smbd (reading as nobody) can reach: alice readable, carol mode 000."""
    shared = Path(tempfile.mkdtemp(prefix="hdrive-home-"))
    make_home(shared, "alice", "carol")
    for path in (shared, *shared.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (shared / "carol").chmod(0o000)
    yield shared
    (shared / "carol").chmod(0o755)
    shutil.rmtree(shared)


def test_preflight_over_smb_reports_a_folder_it_cannot_read(
    tmp_path, tenant, shared_home, monkeypatch
):
    monkeypatch.setenv("HDRIVE_SMB_USER", USER)
    monkeypatch.setenv("HDRIVE_SMB_PASSWORD", PASSWORD)
    with samba_share(shared_home) as share:
        workspace = make_workspace(tmp_path, share.url, tenant.url)
        unc = f"\\\\{share.host}\\{share.share}"
        spmt = write(
            tmp_path / "spmt.csv",
            f"{unc}\\alice,,,{ONEDRIVE.format('alice_contoso_test')},,\n"
            f"{unc}\\Carol,,,{ONEDRIVE.format('carol_contoso_test')},,\n",
        )
        assert cli(workspace, "users", "import", str(spmt)).exit_code == 0
        result = cli(workspace, "preflight")
    assert result.exit_code == 1
    alice, carol, total = result.stdout.splitlines()
    assert alice == "✓ alice@contoso.test (alice): ready"
    assert carol.startswith("✗ carol@contoso.test (carol): cannot list the home folder (carol")
    assert carol.endswith(
        ". Fix: give the migration account read access to the folder and everything in it"
    )
    assert total == "1 ready, 1 blocked, of 2 users"


def test_preflight_waits_as_long_as_the_tenant_asks_when_throttled(tmp_path, tenant_factory):
    tenant = tenant_factory(throttle_rate=0.5, retry_after=1, seed=3)
    home = make_home(tmp_path / "home", "alice", "carol")
    workspace = make_workspace(tmp_path, str(home), tenant.url)
    people = write(
        tmp_path / "p.csv", "folder,upn\nalice,alice@contoso.test\ncarol,carol@contoso.test\n"
    )
    assert cli(workspace, "users", "import", str(people)).exit_code == 0
    result = cli(workspace, "preflight")
    assert result.exit_code == 0, result.output
    log = tenant.requests()
    throttled = [i for i, request in enumerate(log) if request["status"] == 429]
    assert throttled, "the seed must throttle at least one request"
    for i in throttled:
        assert log[i + 1]["ts"] - log[i]["ts"] >= 0.9
