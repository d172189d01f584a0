"""`policy check` and `policy test` on the shipped policy and on broken files."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hdrive_migrate.cli import app

runner = CliRunner()
POLICIES = Path(__file__).parent.parent / "policies"
SHIPPED = POLICIES / "personal-files.yaml"
SHIPPED_CASES = POLICIES / "personal-files.cases.yaml"
POLICY = """\
policy: {id: t, version: 1.0.0, approved_by: [RM], effective: 2026-01-01, labels: [Keep]}
guards:
  - {id: G1, description: held, when: {on_hold: true}, action: hold}
rules:
  - {id: R1, description: old, when: {modified: {older_than: 6y}}, action: review}
  - {id: R2, description: rest, when: {}, action: migrate, label: Keep}
default: review
"""
CASES = """\
cases:
  - {path: a/old.doc, size: 1KB, modified: 7y, expect: {action: review, rule: R1}}
  - {path: a/new.doc, size: 1KB, modified: 2025-06-01, expect: {action: migrate}}
  - {path: a/held.doc, size: 1KB, on_hold: true, expect: {action: hold, rule: g1}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def workspace(tmp_path: Path, name: str, trust_access_time: bool) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "hdrive.toml").write_text(
        f'[source]\nroot = "/srv/home"\ntrust_access_time = {str(trust_access_time).lower()}\n'
        '\n[graph]\nurl = "http://127.0.0.1:9"\nauth = "local"\n'
    )
    return directory


@pytest.mark.parametrize("command", [["policy"], ["policy", "check"], ["policy", "test"]])
def test_help_has_an_example(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example: hdrive-migrate policy" in result.output


def test_check_passes_the_shipped_policy():
    result = runner.invoke(app, ["policy", "check", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("personal-files 1.0.0: 0 errors, 0 warnings\n", "")


def test_the_shipped_cases_all_pass():
    result = runner.invoke(app, ["policy", "test", str(SHIPPED), str(SHIPPED_CASES)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(" passed, 0 failed\n")
    assert int(result.stdout.split()[0]) >= 28


def test_the_shipped_cases_cover_every_guard_and_rule():
    from hdrive_migrate.policy.cases import read_cases
    from hdrive_migrate.policy.parse import load_policy

    policy = load_policy(SHIPPED)
    ids = [rule.id for rule in (*policy.guards, *policy.rules)]
    _, cases, errors = read_cases(SHIPPED_CASES, ids, default_as_of=policy.effective)
    assert errors == [] and {case.rule for case in cases} >= set(ids)


def test_check_prints_every_error_and_exits_1(tmp_path):
    broken = POLICY.replace("action: review}", "action: reveiw}").replace(
        "label: Keep}", "label: Other}"
    )
    path = write(tmp_path, "p.yaml", broken)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:5:76: R1 has unknown action 'reveiw'. Fix: did you mean review? actions are: "
        "migrate, exclude, review, hold, dispose_after_approval, divert_evidence",
        f"{path}:6:67: label 'Other' is not in the policy's labels. Fix: add it to policy "
        "labels or use one of: Keep",
    ]
    assert result.stdout == "policy: 2 errors, 0 warnings\n"


def test_check_exits_0_with_only_warnings(tmp_path):
    path = write(tmp_path, "p.yaml", POLICY.replace("labels: [Keep]", "labels: [Keep, Spare]"))
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 0
    assert result.stderr == (
        f"{path}:1: warning: label 'Spare' is listed but no rule applies it. Fix: remove it "
        "from labels, or add a migrate rule with this label\n"
    )
    assert result.stdout == "t 1.0.0: 0 errors, 1 warning\n"


def test_access_times_need_a_workspace_that_trusts_them(tmp_path):
    path = write(tmp_path, "p.yaml", POLICY.replace("modified:", "accessed:"))
    refused = runner.invoke(app, ["policy", "check", str(path)], env={"HDRIVE_WORKSPACE": ""})
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"{path}:5:49: R1 judges last access time (accessed)")
    untrusting = runner.invoke(
        app, ["policy", "check", str(path), "-w", str(workspace(tmp_path, "ws1", False))]
    )
    assert untrusting.exit_code == 1
    trusting = workspace(tmp_path, "ws2", True)
    result = runner.invoke(app, ["policy", "check", str(path), "-w", str(trusting)])
    assert result.exit_code == 0, result.output


def test_a_workspace_without_settings_is_one_line_with_exit_2(tmp_path, capsys):
    from hdrive_migrate.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["policy", "check", str(SHIPPED), "-w", str(tmp_path)])
    assert caught.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_test_runs_cases_and_reports_each_failure(tmp_path):
    policy = write(tmp_path, "p.yaml", POLICY)
    cases = write(tmp_path, "cases.yaml", CASES)
    assert runner.invoke(app, ["policy", "test", str(policy), str(cases)]).stdout == (
        "3 passed, 0 failed\n"
    )
    changed = write(tmp_path, "p2.yaml", POLICY.replace("older_than: 6y", "older_than: 8y"))
    result = runner.invoke(app, ["policy", "test", str(changed), str(cases)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{cases}:2: a/old.doc: expected review (R1), got migrate (R2)\n2 passed, 1 failed\n"
    )


def test_cases_measure_ages_from_their_as_of(tmp_path):
    policy = write(tmp_path, "p.yaml", POLICY)
    cases = write(tmp_path, "cases.yaml", "as_of: 2032-01-01\n" + CASES)
    result = runner.invoke(app, ["policy", "test", str(policy), str(cases)])
    assert result.stdout.splitlines() == [
        f"{cases}:4: a/new.doc: expected migrate, got review (R1)",
        "2 passed, 1 failed",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            CASES.replace("size: 1KB, modified: 7y", "size: 1KB, modified: 7 years"),
            "C:2:44: modified '7 years' is neither an age nor a date. Fix: write an age before "
            "as_of or a date, e.g. 7y or 2019-03-01",
        ),
        (
            CASES.replace("rule: R1", "rule: R9"),
            "C:2:79: the policy has no rule 'R9'. Fix: did you mean R2? its guards and rules "
            "are: G1, R1, R2, default",
        ),
        (
            CASES.replace("action: migrate", "action: migrat"),
            "C:3:73: 'migrat' is not an action. Fix: did you mean migrate? actions are: "
            "migrate, exclude, review, hold, dispose_after_approval, divert_evidence",
        ),
        (
            CASES.replace("size: 1KB, on_hold", "sise: 1KB, on_hold"),
            "C:4:5: a case has no size. Fix: add size: to a case",
        ),
        (
            CASES.replace("path: a/old.doc", "path: 'a\\old.doc'"),
            "C:2:12: path 'a\\\\old.doc' is not relative to the H: root with / between folders. "
            "Fix: write it like Documents/Old/minutes.docx",
        ),
        (
            "cases: []\n",
            "C:1:8: there are no cases. Fix: add at least one case",
        ),
        (
            "as_of: 2026-02-30\n" + CASES,
            "C:1:8: as_of '2026-02-30' is not a date from 1900 on. Fix: write a real date as "
            "YYYY-MM-DD, e.g. 2026-01-01",
        ),
    ],
)
def test_a_malformed_cases_file_is_reported_where_it_is(tmp_path, text, expected):
    policy = write(tmp_path, "p.yaml", POLICY)
    cases = write(tmp_path, "cases.yaml", text)
    result = runner.invoke(app, ["policy", "test", str(policy), str(cases)])
    assert result.exit_code == 1
    assert result.stderr.replace(str(cases), "C").splitlines()[0] == expected
    assert result.stdout == ""


def test_test_reports_a_broken_policy_instead_of_running_cases(tmp_path):
    policy = write(tmp_path, "p.yaml", POLICY.replace("default: review", "default: migrate"))
    cases = write(tmp_path, "cases.yaml", CASES)
    result = runner.invoke(app, ["policy", "test", str(policy), str(cases)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{policy}:7:10: default 'migrate' is not allowed")
    assert result.stdout == ""
