"""`hdrive-migrate demo`: the sample share, the local tenant and the whole pipeline, end to end,
and the folder it leaves to explore."""

import csv
import os
import re
import time
from importlib import resources
from pathlib import Path

import httpx
import pytest

from hdrive_migrate.cli import main
from hdrive_migrate.demo.run import MARKER, WAVE, DemoStopped, prepare_folder, run_demo
from hdrive_migrate.demo.sample import MAX_PEOPLE, long_paths, people
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.naming import MAX_PATH_CHARACTERS

REPO = Path(__file__).parent.parent
SIX_YEARS = 6 * 365.25 * 86400
REGISTERS = ("excluded.csv", "review.csv", "held.csv", "evidence.csv", "disposal.csv")


def rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def report_folder(demo_run) -> Path:
    return demo_run.workspace / "reports" / WAVE


def test_the_demo_runs_to_the_end(demo_run):
    result = demo_run.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for command in ("init", "users import", "preflight", "scan", "plan", "migrate", "verify"):
        assert f"$ hdrive-migrate {command} " in result.stdout, command
    assert "$ hdrive-migrate report --wave 'Demo wave'" in result.stdout
    assert re.search(r"^== Done in \d+ s", result.stdout, re.MULTILINE)


def test_the_report_has_every_register_filled(demo_run):
    folder = report_folder(demo_run)
    assert (folder / "summary.html").is_file()
    assert f"{folder / 'summary.html'}" in demo_run.result.stdout
    for register in REGISTERS:
        assert rows(folder / register), f"{register} is empty"


def test_the_person_without_a_onedrive_is_blocked_and_the_rest_migrated(demo_run):
    staff = people(3)
    states = {row["upn"]: row["state"] for row in rows(report_folder(demo_run) / "summary.csv")}
    assert states == {
        staff[0].upn: "migrated",
        staff[1].upn: "migrated",
        staff[2].upn: "blocked",
    }
    assert f"blocked: {staff[2].display_name} ({staff[2].upn}), no-onedrive" in (
        demo_run.result.stdout
    )


def test_the_tenant_was_stopped(demo_run):
    (url,) = set(re.findall(r"local tenant at (http://127\.0\.0\.1:\d+)", demo_run.result.stdout))
    assert f"local tenant at {url} stopped" in demo_run.result.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1.0/users", timeout=5)


def test_the_path_at_the_limit_moves_and_the_one_over_waits_for_review(demo_run):
    longest, too_long = long_paths()
    items = {row["Source"]: row for row in rows(report_folder(demo_run) / "items.csv")}
    home = demo_run.folder / "hdrives" / people(3)[0].sam
    moved = items[str(home / longest)]
    assert (len(moved["Destination"]), moved["Status"]) == (MAX_PATH_CHARACTERS, "Migrated")
    review = rows(report_folder(demo_run) / "review.csv")
    (waiting,) = [row for row in review if row["path"] == too_long]
    assert "401 characters" in waiting["reason"]


def test_large_files_went_in_chunks(demo_run):
    found = re.search(r"the tenant took (\d+) large files in chunks", demo_run.result.stdout)
    assert found and int(found[1]) == 3


def test_names_onedrive_refuses_are_renamed(demo_run):
    items = rows(report_folder(demo_run) / "items.csv")
    targets = {Path(row["Source"]).name: Path(row["Destination"]).name for row in items}
    assert targets["Minutes 10:30 briefing.docx"] == "Minutes 10\uff1a30 briefing.docx"
    assert targets["Why? questions.txt"] == "Why\uff1f questions.txt"


def test_the_share_keeps_its_old_times(demo_run):
    """The sample's old files are still old after the scan and the migration read them."""
    rota = demo_run.folder / "hdrives" / people(3)[0].sam / "Documents/Rotas/Shift rota 2015.xlsx"
    assert time.time() - rota.stat().st_mtime > SIX_YEARS


def test_each_migrated_person_gets_a_notice_naming_none_of_their_files(demo_run):
    notices = {path.name for path in (demo_run.folder / "notices").iterdir()}
    staff = people(3)
    for person in staff[:-1]:  # the last has no OneDrive: nothing moved to tell them of
        assert {f"{person.upn}.txt", f"{person.upn}.html"} <= notices
        text = (demo_run.folder / "notices" / f"{person.upn}.txt").read_text()
        assert "OneDrive" in text
        assert "Shift rota 2015" not in text


def test_the_end_says_where_to_look(demo_run):
    out = demo_run.result.stdout
    assert f"`hdrive-migrate serve -w {demo_run.workspace}`" in out
    assert f"`hdrive-migrate demo --dir {demo_run.folder} --force`" in out


def run_main(args: list[str], capsys) -> tuple[int, str]:
    """The console entry point in-process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as caught:
        main(args)
    return caught.value.code, capsys.readouterr().err


def test_an_earlier_demo_is_kept_without_force(demo_run, capsys):
    code, err = run_main(["demo", "--dir", str(demo_run.folder), "--users", "3"], capsys)
    assert code == 2
    assert err.startswith(f"{demo_run.folder} holds an earlier demo. Fix: ")
    assert f"`hdrive-migrate demo --dir {demo_run.folder} --force`" in err
    assert (report_folder(demo_run) / "summary.html").is_file()


def test_a_folder_no_demo_made_is_refused_even_with_force(tmp_path):
    (tmp_path / "thesis.docx").write_text("years of work")
    for force in (False, True):
        with pytest.raises(HdriveError, match="not empty and no demo made it"):
            prepare_folder(tmp_path, force=force, users=3)
    assert (tmp_path / "thesis.docx").read_text() == "years of work"


def test_force_replaces_an_earlier_demo(tmp_path):
    (tmp_path / MARKER).write_text("{}")
    (tmp_path / "hdrives").mkdir()
    prepare_folder(tmp_path, force=True, users=3)
    assert sorted(os.listdir(tmp_path)) == [MARKER]


@pytest.mark.parametrize("users", [1, MAX_PEOPLE + 1])
def test_the_number_of_people_is_checked(tmp_path, capsys, users):
    code, err = run_main(["demo", "--dir", str(tmp_path / "d"), "--users", str(users)], capsys)
    assert code == 2
    assert err.startswith(f"--users {users} is out of range. Fix: give from 2 ")
    assert not (tmp_path / "d").exists()


class FailingShell:
    """Fails the first command, as a broken step would; keeps what the demo said."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def run(self, args: list[str]) -> int:
        return 2

    def has(self, command: str) -> bool:
        return False


def test_a_failing_step_stops_the_demo_and_its_tenant(tmp_path):
    shell = FailingShell()
    with pytest.raises(DemoStopped, match=r"`hdrive-migrate init .*` exited with 2"):
        run_demo(shell, tmp_path / "d", 2)
    (url,) = re.findall(r"local tenant at (http://127\.0\.0\.1:\d+)", "\n".join(shell.said))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1.0/users", timeout=5)


def test_the_shipped_policy_is_the_one_in_policies():
    """The demo's packaged copies of the policy and its cases are those in policies/."""
    shipped = resources.files("hdrive_migrate.demo")
    for name in ("personal-files.yaml", "personal-files.cases.yaml"):
        assert shipped.joinpath(name).read_bytes() == (REPO / "policies" / name).read_bytes(), (
            f"copy policies/{name} to src/hdrive_migrate/demo/{name}"
        )
