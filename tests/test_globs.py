"""Path globs: case-insensitive, `*` within a folder, `**` across folders."""

import string
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.globs import matches

# Names as H: drives hold them; no glob metacharacters, and ASCII so that swapping case is an
# exact inverse (it is not for every Unicode letter: 'ß'.swapcase() is 'SS').
NAME = st.text(string.ascii_letters + string.digits + " -_.()&'", min_size=1, max_size=10)


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("*.tmp", "a/b/c.TMP", True),
        ("*.tmp", "c.tmp.docx", False),
        ("AppData/**", "AppData/Local/x", True),
        ("AppData/**", "appdata", True),
        ("AppData/**", "AppDataX", False),
        ("AppData/**", "Documents/AppData/x", False),
        ("**/Exhibits/**", "Cases/2020/exhibits/img.jpg", True),
        ("**/Exhibits/**", "Exhibits/img.jpg", True),
        ("Documents/*.docx", "Documents/sub/a.docx", False),
        ("Thumbs.db", "Pictures/2019/thumbs.db", True),
        ("report?.docx", "report1.docx", True),
        ("report?.docx", "report/.docx", False),
        ("[ab]*.txt", "b1.txt", True),
        ("[!ab]*.txt", "c1.txt", True),
        ("[!ab]*.txt", "a1.txt", False),
        ("file[1.txt", "file[1.txt", True),
    ],
)
def test_glob_table(glob, path, expected):
    assert matches(glob, path) is expected


@given(st.lists(NAME, min_size=1, max_size=4))
def test_double_star_matches_any_depth(parts):
    assert matches("**", "/".join(parts))
    assert matches("**/" + parts[-1], "/".join(parts))


@given(NAME, st.lists(NAME, max_size=3))
def test_a_plain_name_matches_itself_at_any_depth_in_any_case(name, folders):
    assert matches(name, "/".join([*folders, name.swapcase()]))
    assert not matches(name, "/".join([*folders, name + "x"]))


@pytest.mark.parametrize(
    ("glob", "name"), [("[[]a]*", "[a]x"), ("x[&~|]", "x&"), ("x[&~|]", "x|"), ("[[:]", ":")]
)
def test_brackets_and_set_operators_in_a_set_are_plain_characters(glob, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # `re` warns of nested sets and set operations
        assert matches(glob, name)
