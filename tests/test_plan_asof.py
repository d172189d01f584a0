"""`plan --as-of`: the reference date ages are measured from is refused outside the range the
policy's dates and cases files accept, and in the future unless --allow-future-as-of."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from test_plan import cli, scanned, write_policy  # noqa: F401 (scanned is a fixture)

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.plan.run import check_reference_date
from hdrive_migrate.policy.cases import read_cases
from hdrive_migrate.policy.units import EARLIEST_DAY
from hdrive_migrate.workspace import open_workspace

TODAY = date(2026, 6, 15)
ALICE = "alice@contoso.test"


@pytest.mark.parametrize(
    ("as_of", "allow_future", "refusal"),
    [
        (EARLIEST_DAY, False, None),
        (TODAY, False, None),
        (date(1, 1, 1), False, "--as-of 0001-01-01 is before 1900-01-01"),
        (EARLIEST_DAY - timedelta(days=1), True, "--as-of 1899-12-31 is before 1900-01-01"),
        (TODAY + timedelta(days=1), False, "--as-of 2026-06-16 is after today (2026-06-15)"),
        (date.max, False, "--as-of 9999-12-31 is after today (2026-06-15)"),
        (TODAY + timedelta(days=1), True, None),
        (date.max, True, None),
    ],
)
def test_reference_dates_outside_the_range_are_refused(as_of, allow_future, refusal):
    if refusal is None:
        check_reference_date(as_of, TODAY, allow_future=allow_future)
        return
    with pytest.raises(HdriveError) as caught:
        check_reference_date(as_of, TODAY, allow_future=allow_future)
    assert str(caught.value).startswith(refusal)


@pytest.mark.parametrize(("day", "accepted"), [(EARLIEST_DAY, True), (date(1899, 12, 31), False)])
def test_the_cases_file_accepts_the_same_earliest_date(tmp_path: Path, day, accepted):
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        f"as_of: {day}\ncases:\n  - {{path: a.docx, size: 1KB, expect: {{action: migrate}}}}\n"
    )
    as_of, _, errors = read_cases(cases, ["default"], default_as_of=date(2026, 1, 1))
    assert (as_of == day and not errors) if accepted else len(errors) == 1


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("0001-01-01", "--as-of 0001-01-01 is before 1900-01-01. Fix: give a reference date"),
        ("9999-12-31", "--as-of 9999-12-31 is after today ("),
        ("2026-02-30", "--as-of '2026-02-30' is not a date. Fix: write it as YYYY-MM-DD"),
    ],
)
def test_a_bad_as_of_is_one_line_and_plans_nothing(scanned, as_of, message):  # noqa: F811
    ws, folder = scanned
    result = cli(ws, "plan", "--policy", str(write_policy(folder)), "--as-of", as_of)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1
    with open_workspace(ws) as workspace:
        assert workspace.db.execute("SELECT count(*) FROM plan_runs").fetchone()[0] == 0


@pytest.mark.parametrize("as_of", ["1900-01-01", "9999-12-31"])
def test_the_ends_of_the_range_plan_when_allowed(scanned, as_of):  # noqa: F811
    ws, folder = scanned
    policy = str(write_policy(folder))
    args = ("plan", "--policy", policy, "--as-of", as_of, "--user", ALICE, "--allow-future-as-of")
    result = cli(ws, *args)
    assert result.returncode == 0, result.stderr
    with open_workspace(ws) as workspace:
        run = workspace.db.execute("SELECT as_of, decisions FROM plan_runs").fetchone()
    assert run == (as_of, 8)
