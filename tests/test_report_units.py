"""The report's pure parts: docs/failures.md kept in step with REASONS, chart geometry, folder
and file names, the mapping of outcomes to SPMT's words, and the template shipped with the
package."""

import csv
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.migrate.reasons import REASONS, Reason
from hdrive_migrate.migrate.status import Report, UserState, Verification
from hdrive_migrate.outputs import FORMULA_STARTS, csv_cell
from hdrive_migrate.report import failures_doc
from hdrive_migrate.report.charts import MAX_BUCKETS, PLOT_HEIGHT, bar_chart, time_chart
from hdrive_migrate.report.columns import OUTCOMES
from hdrive_migrate.report.cutover import CutoverFacts, blocker
from hdrive_migrate.report.export import default_folder
from hdrive_migrate.report.folder import manifest_name, ours, previous_report
from hdrive_migrate.report.rows import (
    RENAMED_MESSAGE,
    STATUSES,
    extension,
    source_cell,
    user_cells,
    utc_second_sql,
)
from hdrive_migrate.report.summary import TEMPLATE
from hdrive_migrate.report.tally import Timeline

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "failures.md"


def test_docs_failures_md_is_up_to_date_with_the_reasons_table():
    assert DOC.read_text(encoding="utf-8") == failures_doc.render(), (
        f"docs/failures.md is out of date with migrate/reasons.py; run `{failures_doc.COMMAND}`"
    )


def test_every_reason_has_its_explanation_and_fix_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    for code, (explanation, fix) in REASONS.items():
        assert explanation and fix, code
        assert f"\n## {code}\n" in text
        section = text.split(f"\n## {code}\n")[1].split("\n## ")[0]
        assert explanation[1:] in section and fix[1:] in section


def test_a_new_reason_makes_the_doc_differ():
    more = {**REASONS, "new-code": Reason("something new happened", "do the new thing")}
    assert failures_doc.render(more) != failures_doc.render()
    assert "## new-code" in failures_doc.render(more)


def test_bars_scale_to_the_largest_value():
    chart = bar_chart([("a", 10), ("b", 5), ("c", 0)], str)
    assert [bar.width for bar in chart.bars] == [360, 180, 0]
    assert [bar.y for bar in chart.bars] == [0, 22, 44] and chart.height == 66
    assert bar_chart([("a", 0)], str).bars[0].width == 0


def test_no_activity_gives_no_time_chart():
    assert time_chart(Timeline(), str) is None


@given(st.lists(st.tuples(st.integers(0, 60 * 24 * 30), st.integers(1, 5)), min_size=1))
def test_the_time_chart_keeps_every_file_and_at_most_its_buckets(finished):
    timeline = Timeline()
    for minute, files in finished:
        key = f"2026-05-{1 + minute // 1440:02d}T{minute % 1440 // 60:02d}:{minute % 60:02d}"
        timeline.files[key] += files
        timeline.bytes[key] += files * 100
    chart = time_chart(timeline, str)
    assert chart.files == sum(timeline.files.values())
    assert len(chart.columns) <= MAX_BUCKETS
    heights = [float(point.split(",")[1]) for point in chart.progress.split()]
    assert heights[0] == PLOT_HEIGHT and heights[-1] == 0  # from nothing to every file
    assert heights == sorted(heights, reverse=True)


@pytest.mark.parametrize(
    ("wave", "folder"),
    [
        (None, "all"),
        ("Wave 1", "Wave 1"),
        ("all", "wave-all"),
        ("Disposals", "wave-Disposals"),
        ("../../etc", "_.._etc"),
        ("<script>", "_script_"),
        ("(no wave)", "(no wave)"),
    ],
)
def test_default_folders_stay_under_reports(tmp_path, wave, folder):
    assert default_folder(tmp_path, wave) == tmp_path / "reports" / folder


def test_manifest_names_are_plain_files():
    assert manifest_name("o'neil@contoso.test") == "manifests/o'neil@contoso.test.csv"
    assert ours("manifests/a@b.test.csv") and ours("items.csv")
    assert not ours("manifests/../state.db") and not ours("notes.txt")
    for upn in ("a/b@c", "..@c", "a\\b@c", "a\nb@c", ""):
        with pytest.raises(HdriveError):
            manifest_name(upn)


def test_only_our_names_count_from_a_previous_sha256sums(tmp_path):
    (tmp_path / "SHA256SUMS").write_text(
        f"{'a' * 64}  items.csv\n{'b' * 64} *manifests/x@y.csv\n{'c' * 64}  ../state.db\n"
        f"{'d' * 64}  disposal-1.json\nnot a line\n"
    )
    assert previous_report(tmp_path) == {"items.csv", "manifests/x@y.csv"}
    assert previous_report(tmp_path / "missing") == set()


def _source(root: str, folder: str, path: str) -> str:
    cells = user_cells(_empty_workspace(), "a@b.test", source_root=root, folder=folder, block=None)
    return next(csv.reader([source_cell(cells, path)]))[0]


def _empty_workspace():
    db = Database(memory=True)
    db.execute("CREATE TABLE plan_users(upn TEXT, run_id INTEGER)")
    db.execute(
        "CREATE TABLE plan_runs(id INTEGER, policy_id TEXT, policy_version TEXT,"
        " policy_sha256 TEXT)"
    )
    return db


def test_source_paths_keep_the_root_s_separators():
    assert _source("\\\\files01\\home\\", "alice", "a/b.txt") == (
        "\\\\files01\\home\\alice\\a\\b.txt"
    )
    assert _source("/srv/homes/", "alice", "a/b.txt") == "/srv/homes/alice/a/b.txt"


def _extension(name: str) -> str:
    return extension(name) or ""


def test_extensions_are_after_the_last_dot_of_a_name_with_a_stem():
    names = ("a.docx", "a", ".profile", "a.tar.gz", "a.", "b.c.d.", "Ünïcode.дата", "..x")
    expected = ["docx", "", "", "gz", "", "", "дата", "x"]
    assert [_extension(name) for name in names] == expected


# No file system allows NUL in a name (and SQLite text ends at one).
@given(st.text(st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]), min_size=1))
def test_the_extension_is_what_follows_the_last_dot(name):
    stem, dot, suffix = name.rpartition(".")
    assert _extension(name) == (suffix if dot and stem else "")


def _utc_second(seconds: float | None) -> str | None:
    row = sqlite3.connect(":memory:").execute(
        f"SELECT {utc_second_sql('t')} FROM (SELECT ? AS t)", [seconds]
    )
    return row.fetchone()[0]


def test_register_times_are_floored_to_the_second_in_utc():
    assert _utc_second(1_700_000_000.999) == "2023-11-14T22:13:20+00:00"
    assert _utc_second(-0.5) == "1969-12-31T23:59:59+00:00"
    assert _utc_second(-62_135_596_800.0) == "0001-01-01T00:00:00+00:00"
    assert _utc_second(None) is None
    assert _utc_second(1e20) is None  # past any calendar: an empty cell, not a crash
    assert _utc_second(-1e20) is None


@given(st.floats(min_value=-62_135_596_800, max_value=253_402_300_799.99))
def test_register_times_are_python_s_utc_second(seconds):
    floored = datetime.fromtimestamp(seconds // 1, UTC).isoformat()
    assert _utc_second(seconds) == floored


@given(
    st.sampled_from(["\\\\files01\\home", "/srv/homes/", "=cmd|", "'x", '"q"\\']),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1),
)
def test_a_source_cell_is_the_csv_cell_of_the_source_path(root, folder, path):
    cells = user_cells(_empty_workspace(), "a@b.test", source_root=root, folder=folder, block=None)
    backslash = "\\" in root
    sep = "\\" if backslash else "/"
    whole = root.rstrip("\\/") + sep + folder + sep
    whole += path.replace("/", "\\") if backslash else path
    assert source_cell(cells, path) == csv_cell(whole)


def test_the_tool_s_own_words_never_start_like_a_formula():
    """report.rows quotes these without checking them."""
    words = [word for pair in STATUSES.values() for word in pair if word]
    words += [*REASONS, "unknown"]  # failure and block reasons are the engine's codes
    words += [reason.explanation for reason in REASONS.values()]
    words += [RENAMED_MESSAGE, "user blocked: ", "not attempted yet", "decision "]
    assert not [word for word in words if word.startswith((*FORMULA_STARTS, "'"))]


def test_every_outcome_has_spmt_words():
    assert set(STATUSES) == set(OUTCOMES)
    assert Counter(status for status, _ in STATUSES.values())["Migrated"] == 2


def test_the_template_is_found_as_package_data():
    """Read through importlib.resources, as from an installed wheel (which carries it: setuptools
    finds report/templates as a namespace package and includes its data files)."""
    template = resources.files("hdrive_migrate.report").joinpath("templates", TEMPLATE)
    assert template.is_file() and "<!DOCTYPE html>" in template.read_text("utf-8")


def _migrated(verification) -> Report:
    return Report(
        "a@b.test", "W1", UserState("migrated"), 2, 20, {"migrate": 2}, 2,
        {"migrated": 2}, 20, [], verification, "2026-12-01T10:00:00+00:00",
    )  # fmt: skip


PASS = "2026-12-01T10:00:00+00:00"
BEFORE, AFTER = "2026-12-01T09:00:00+00:00", "2026-12-01T11:00:00+00:00"


@pytest.mark.parametrize(
    ("verified", "facts", "why"),
    [
        ((AFTER, "complete", 2, 2, 0, 0, 0), CutoverFacts(PASS, BEFORE, 0, 0), None),
        (None, CutoverFacts(PASS, BEFORE, 0, 0), "not verified"),
        ((AFTER, "failed", 0, 0, 0, 0, 0), CutoverFacts(PASS, BEFORE, 0, 0), "not verified"),
        ((BEFORE, "complete", 2, 2, 0, 0, 0), CutoverFacts(PASS, None, 0, 0), "verified before"),
        ((AFTER, "complete", 2, 1, 1, 0, 0), CutoverFacts(PASS, None, 0, 1), "1 copy not found"),
        ((AFTER, "complete", 2, 2, 0, 0, 0), CutoverFacts(PASS, AFTER, 3, 0), "(3 files new"),
        # Files in OneDrive that we did not put there do not hold cutover up.
        ((AFTER, "complete", 2, 2, 0, 0, 5), CutoverFacts(PASS, BEFORE, 0, 0), None),
    ],
)
def test_cutover_waits_for_a_verify_after_the_last_pass_and_no_change_since(verified, facts, why):
    found = _migrated(Verification(*verified) if verified else None)
    reason = blocker(found, facts)
    assert reason is None if why is None else why in reason


def test_only_migrated_users_can_cut_over():
    found = replace(_migrated(None), state=UserState("migrating"))
    assert blocker(found, CutoverFacts(PASS, BEFORE, 0, 0)).startswith(
        "not migrated yet (state migrating)"
    )


def test_a_verify_in_the_same_second_as_the_pass_counts_as_after_it():
    """The audit log keeps milliseconds; verify runs and scans keep whole seconds."""
    verified = Verification("2026-12-01T10:00:00+00:00", "complete", 2, 2, 0, 0, 0)
    found = _migrated(verified)
    assert blocker(found, CutoverFacts("2026-12-01T10:00:00.900+00:00", None, 0, 0)) is None
