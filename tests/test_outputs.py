"""outputs: where the tool may write a file, and the one CSV writer's formula quoting."""

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import (
    CSV_ENCODING,
    FORMULA_STARTS,
    check_output,
    csv_cell,
    csv_writer,
    excel_safe,
    from_excel,
    open_output,
    person_name,
)

# Text that often starts with a formula character or an apostrophe, and anything else too.
risky_text = st.one_of(
    st.text(),
    st.builds(str.__add__, st.sampled_from([*FORMULA_STARTS, "'", "''"]), st.text()),
)


@given(risky_text)
def test_any_text_reads_back_as_it_was_written(text):
    assert from_excel(excel_safe(text)) == text


@given(risky_text)
def test_no_quoted_cell_starts_like_a_formula(text):
    assert not excel_safe(text).startswith(FORMULA_STARTS)


@given(st.lists(st.one_of(risky_text, st.integers(min_value=0), st.none()), max_size=6))
def test_a_written_row_reads_back_cell_for_cell(cells):
    handle = io.StringIO(newline="")
    csv_writer(handle).writerow(cells)
    (read,) = list(csv.reader(io.StringIO(handle.getvalue(), newline="")))
    expected = ["" if cell is None else str(cell) for cell in cells]
    assert [from_excel(cell) for cell in read] == expected
    assert not any(cell.startswith(FORMULA_STARTS) for cell in read)


def test_text_cells_are_quoted_and_numbers_are_not():
    handle = io.StringIO(newline="")
    csv_writer(handle).writerows([["=1+1", "-Archive/x", "@me", "'kept", "plain", 5, None]])
    assert handle.getvalue() == "'=1+1,'-Archive/x,'@me,''kept,plain,5,\r\n"


@pytest.fixture
def ws(tmp_path) -> Path:
    """A directory with the files a workspace owns (their content does not matter here)."""
    ws = tmp_path / "ws"
    (ws / "reports" / "disposals").mkdir(parents=True)
    for name in ("state.db", "state.db-wal", "state.db-shm", "hdrive.toml"):
        (ws / name).write_bytes(b"precious")
    (ws / "reports" / "disposals" / "disposal-1.csv").write_bytes(b"certified")
    return ws


def refusal(path: Path, ws: Path, *, force: bool) -> str:
    with pytest.raises(HdriveError) as caught:
        check_output(path, workspace=ws, force=force)
    return str(caught.value)


@pytest.mark.parametrize(
    "name", ["state.db", "state.db-wal", "state.db-shm", "state.db-journal", "hdrive.toml"]
)
def test_the_workspaces_own_files_are_refused_even_with_force(ws, name):
    assert refusal(ws / name, ws, force=True) == (
        f"{ws / name}: this is the workspace's {name}; writing over it would destroy the"
        " workspace's records. Fix: choose another file for --out, outside the workspace's own"
        " files"
    )


def test_a_link_to_a_workspace_file_is_refused(ws, tmp_path):
    (tmp_path / "soft.csv").symlink_to(ws / "state.db")
    os.link(ws / "hdrive.toml", tmp_path / "hard.csv")
    assert "the workspace's state.db;" in refusal(tmp_path / "soft.csv", ws, force=True)
    assert "the workspace's hdrive.toml;" in refusal(tmp_path / "hard.csv", ws, force=True)
    roundabout = ws / "reports" / ".." / "state.db"
    assert "the workspace's state.db;" in refusal(roundabout, ws, force=True)


def test_a_workspace_reached_through_a_link_is_still_protected(ws, tmp_path):
    (tmp_path / "alias").symlink_to(ws)
    assert "the workspace's state.db;" in refusal(ws / "state.db", tmp_path / "alias", force=True)


def test_an_existing_disposal_record_is_refused_even_with_force(ws):
    record = ws / "reports" / "disposals" / "disposal-1.csv"
    assert "the workspace's disposal record disposal-1.csv;" in refusal(record, ws, force=True)
    check_output(ws / "reports" / "disposals" / "disposal-2.csv", workspace=ws, force=False)


def test_an_existing_file_is_replaced_only_with_force(ws, tmp_path):
    existing = tmp_path / "review.csv"
    existing.write_text("filled in")
    assert refusal(existing, ws, force=False) == (
        f"{existing}: the file already exists. Fix: choose another name, or add --force to"
        " replace it"
    )
    assert existing.read_text() == "filled in"
    with open_output(existing, workspace=ws, force=True, encoding=CSV_ENCODING) as handle:
        handle.write("new")
    assert existing.read_bytes() == b"\xef\xbb\xbfnew"


def test_a_refused_output_leaves_the_workspace_as_it_was(ws):
    with pytest.raises(HdriveError), open_output(ws / "state.db", workspace=ws, force=True):
        pytest.fail("the block must not run")
    assert sorted(path.name for path in ws.iterdir()) == [
        "hdrive.toml", "reports", "state.db", "state.db-shm", "state.db-wal"
    ]  # fmt: skip
    assert (ws / "state.db").read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("  ", "'' cannot name a reviewer"),
        ("Jo\x07Bloggs", "'Jo\\x07Bloggs' cannot name a reviewer: it holds the unprintable"
         " character '\\x07'"),
        ("Jo\nBloggs", "'Jo\\nBloggs' cannot name a reviewer: it holds the unprintable character"
         " '\\n'"),
        ("=cmd|' /C calc'!A0", "\"=cmd|' /C calc'!A0\" cannot name a reviewer: spreadsheets take"
         " a cell starting with '=' for a formula"),
        (" +Jo", "'+Jo' cannot name a reviewer: spreadsheets take a cell starting with '+' for a"
         " formula"),
        ("-Jo", "'-Jo' cannot name a reviewer: spreadsheets take a cell starting with '-' for a"
         " formula"),
        ("@Jo", "'@Jo' cannot name a reviewer: spreadsheets take a cell starting with '@' for a"
         " formula"),
    ],
)  # fmt: skip
def test_a_name_a_record_could_not_show_as_given_is_refused(given, problem):
    with pytest.raises(HdriveError) as caught:
        person_name(given, option="--reviewer", role="a reviewer", fix="name them")
    assert str(caught.value) == f"--reviewer: {problem}. Fix: name them"


@pytest.mark.parametrize("given", ["Jo Bloggs", "Siân O'Neill", "Anne-Marie Smith-Jones"])
def test_names_are_kept_as_given_but_trimmed(given):
    assert person_name(f" {given} ", option="--reviewer", role="a reviewer", fix="-") == given


# Report lines have many cells: only a line of one empty cell would need it quoted (`""`).
@given(
    st.lists(
        st.one_of(st.none(), st.text(), st.integers(-(2**63), 2**63 - 1)), min_size=2, max_size=6
    )
)
def test_lines_put_together_from_cells_read_back_as_csv_writer_s(cells):
    """Report lines joined from cells made by csv_cell (report.rows) say what CsvWriter's rows
    say, to a reader and to a spreadsheet."""
    line = ",".join(csv_cell(cell) for cell in cells) + "\r\n"
    written = io.StringIO()
    csv_writer(written).writerow(cells)
    assert next(csv.reader([line])) == next(csv.reader([written.getvalue()]))
