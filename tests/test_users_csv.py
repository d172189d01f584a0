"""User lists: both CSV kinds, every kind of bad row, and UPNs derived from OneDrive URLs.
Pure: no files, no network."""

import csv
import io

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hdrive_migrate.csvfiles import csv_records
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.users.csvfiles import (
    SIMPLE,
    SPMT,
    Row,
    RowError,
    folder_under,
    parse_user_list,
)
from hdrive_migrate.users.roster import check_folders, reject_duplicates
from hdrive_migrate.users.upns import (
    MAX_CANDIDATES,
    candidate_upns,
    is_upn,
    onedrive_segment,
    personal_segment,
)

FILE = "people.csv"
ROOT = "\\\\sharedfolder\\homedrives"
FOLDERS = {"alice": "alice", "bob": "bob", "meganb": "MeganB"}
URL = "https://contoso-my.sharepoint.com/personal/{}"


def parse(text: str, *, root: str = ROOT, upn_required: bool = True):
    return parse_user_list(text, file=FILE, source_root=root, upn_required=upn_required)


def only_error(text: str, **options) -> RowError:
    parsed = parse(text, **options)
    assert parsed.rows == []
    (error,) = parsed.errors
    return error


def spmt(source: str, url: str) -> str:
    return f"{source},,,{url},Documents,\n"


def test_simple_csv_with_and_without_the_wave_column():
    parsed = parse("folder,upn,wave\nalice,alice@contoso.com,pilot\nbob,bob@contoso.com,\n")
    assert parsed.kind == SIMPLE and parsed.errors == []
    assert parsed.rows == [
        Row(2, "alice", "alice@contoso.com", "pilot"),
        Row(3, "bob", "bob@contoso.com", None),
    ]
    parsed = parse(" Folder , UPN \r\nalice , alice@contoso.com\r\n")
    assert parsed.rows == [Row(2, "alice", "alice@contoso.com", None)]


def test_the_spmt_example_row():
    parsed = parse(spmt("\\\\sharedfolder\\homedrives\\meganb", URL.format("meganb_contoso_com")))
    assert parsed.kind == SPMT and parsed.errors == []
    assert parsed.rows == [
        Row(1, "meganb", "meganb@contoso.com", derived_from="meganb_contoso_com")
    ]


@pytest.mark.parametrize(
    ("path", "root", "folder"),
    [
        ("\\\\sharedfolder\\homedrives\\meganb", ROOT, "meganb"),
        ("\\\\SharedFolder\\HomeDrives\\MeganB\\", ROOT, "MeganB"),
        ("//sharedfolder/homedrives/meganb", ROOT, "meganb"),
        ("\\\\sharedfolder\\homedrives\\meganb", "smb://sharedfolder:445/homedrives/", "meganb"),
        ("/srv/home/meganb", "/srv/home", "meganb"),
        ("\\\\sharedfolder\\homedrives\\meganb\\docs", ROOT, None),
        ("\\\\sharedfolder\\homedrives", ROOT, None),
        ("\\\\other\\homedrives\\meganb", ROOT, None),
        ("\\\\sharedfolder\\homedrives\\..", ROOT, None),
        ("", ROOT, None),
    ],
)
def test_folder_under_the_source_root(path, root, folder):
    assert folder_under(path, root) == folder


BAD_SIMPLE_ROWS = [
    ("alice", "1 columns where the header has 3"),
    ("alice,alice@contoso.com,pilot,extra", "4 columns where the header has 3"),
    (",alice@contoso.com,", "no folder"),
    ("homes/alice,alice@contoso.com,", "folder 'homes/alice' is not a folder name"),
    ("..,alice@contoso.com,", "folder '..' is not a folder name"),
    ("alice,,", "no UPN"),
    ("alice,alice,", "'alice' is not a valid UPN"),
    ("alice,alice@localhost,", "'alice@localhost' is not a valid UPN"),
    ("alice,al ice@contoso.com,", "'al ice@contoso.com' is not a valid UPN"),
    ("alice,alice.@contoso.com,", "'alice.@contoso.com' is not a valid UPN"),
    ("alice,a@b@contoso.com,", "'a@b@contoso.com' is not a valid UPN"),
    ("alice,alice@contoso.com,(no wave)", "(no wave) is how listings show users without a wave"),
]


@pytest.mark.parametrize(("row", "what"), BAD_SIMPLE_ROWS)
def test_bad_simple_rows(row, what):
    error = only_error(f"folder,upn,wave\n\n{row}\n")
    assert (error.line, error.what) == (3, what)
    message = error.message(FILE)
    assert message.startswith(f"{FILE}:3: {what}. Fix: ") and "\n" not in message


def test_an_empty_upn_is_allowed_when_it_will_be_resolved():
    parsed = parse("folder,upn\nalice,\n", upn_required=False)
    assert parsed.rows == [Row(2, "alice", None)]


BAD_SPMT_ROWS = [
    ("\\\\sharedfolder\\homedrives\\meganb,,,x,Documents", "5 columns; an SPMT CSV row has six"),
    ("alice,alice@contoso.com", "2 columns; an SPMT CSV row has six"),
    (spmt("\\\\other\\share\\meganb", URL.format("meganb_contoso_com")), "source path"),
    (spmt("\\\\sharedfolder\\homedrives\\a\\b", URL.format("b_contoso_com")), "source path"),
    (spmt("", URL.format("meganb_contoso_com")), "source path '' is not a folder"),
    (spmt("\\\\sharedfolder\\homedrives\\meganb", "meganb@contoso.com"), "is not a OneDrive"),
    (
        spmt("\\\\sharedfolder\\homedrives\\meganb", "https://contoso.sharepoint.com/sites/x"),
        "is not a OneDrive URL",
    ),
    (spmt("\\\\sharedfolder\\homedrives\\meganb", "ftp://h/personal/a_b_c"), "not a OneDrive"),
    (spmt("\\\\sharedfolder\\homedrives\\meganb", URL.format("meganb")), "no valid UPN gives"),
    (spmt("\\\\sharedfolder\\homedrives\\meganb", URL.format("meganb_com")), "no valid UPN"),
    (
        spmt("\\\\sharedfolder\\homedrives\\meganb", URL.format("a_b_c_d_e_f_contoso_com")),
        f"over {MAX_CANDIDATES} UPNs give",
    ),
]


@pytest.mark.parametrize(("row", "what"), BAD_SPMT_ROWS)
def test_bad_spmt_rows(row, what):
    text = spmt("\\\\sharedfolder\\homedrives\\bob", URL.format("bob_contoso_com")) + row
    parsed = parse(text)
    assert [row.folder for row in parsed.rows] == ["bob"]
    (error,) = parsed.errors
    assert error.line == 2 and what in error.what
    assert error.message(FILE).startswith(f"{FILE}:2: ")


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("", FILE, "the file lists nobody"),
        ("\n ,  \n", FILE, "the file lists nobody"),
        ("folder,upn\n", FILE, "the file lists nobody"),
        ("folder,email\nalice,alice@contoso.com\n", f"{FILE}:1", "the header folder,email is"),
        ("\nfolder,upn,wave,notes\n", f"{FILE}:2", "the header folder,upn,wave,notes is"),
        ("folder,upn\n" + "a" * 200_000 + ",a@b.c\n", f"{FILE}:2", "cannot read the file as CSV"),
    ],
)
def test_files_that_are_neither_kind(text, where, what):
    with pytest.raises(HdriveError) as caught:
        parse(text)
    assert caught.value.where == where and caught.value.what.startswith(what)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("upn,folder\nalice@contoso.com,alice\n", "upn,folder, 2 columns"),
        ("alice,alice@contoso.com\n", "alice,alice@contoso.com, 2 columns"),
        ("\nName;E-mail;Wave;Notes\n", "Name,E-mail,Wave,Notes, 4 columns"),
        ("x" * 70 + ",y\n", "x" * 57 + "..., 2 columns"),
    ],
)
def test_a_first_line_of_neither_kind_is_named_with_the_kinds_accepted(text, shown):
    with pytest.raises(HdriveError) as caught:
        parse(text)
    line = 2 if text.startswith("\n") else 1
    assert caught.value.where == f"{FILE}:{line}"
    assert caught.value.what == (
        f"the first line ({shown}) is neither the header of a simple CSV (folder,upn or "
        "folder,upn,wave) nor an SPMT / Migration Manager row (six columns, the first a source "
        "path)"
    )


def test_semicolons_and_tabs_separate_values_as_excel_saves_them():
    parsed = parse("folder;upn;wave\r\nalice;alice@contoso.com;Wave 1, north\r\n")
    assert parsed.rows == [Row(2, "alice", "alice@contoso.com", "Wave 1, north")]
    parsed = parse(
        spmt("\\\\sharedfolder\\homedrives\\bob", URL.format("bob_contoso_com")).replace(",", "\t")
    )
    assert parsed.kind == SPMT and [row.upn for row in parsed.rows] == ["bob@contoso.com"]
    # An SPMT row with a comma in its folder name is still semicolon-separated.
    text = "\\\\sharedfolder\\homedrives\\smith, j;;;" + URL.format("j_contoso_com") + ";;\n"
    assert [row.folder for row in parse(text).rows] == ["smith, j"]


@pytest.mark.parametrize(
    ("text", "line", "unread"),
    [
        ('upn,path\n"alice@c.test,Documents\nbob@c.test,x\nc@c.test,y\n', 2, 2),
        ('upn,path\r\nalice@c.test,"Docs\r\n', 2, 0),
        ('upn,path\na,"two\nlines"\nb,"x""y\n\nc,z\n', 4, 2),
        ('upn;path\na;"x\nb;y\n', 2, 1),
    ],
)
def test_an_unclosed_quote_is_reported_at_its_line_with_what_went_unread(text, line, unread):
    with pytest.raises(HdriveError) as caught:
        list(csv_records(text, FILE))
    assert caught.value.where == f"{FILE}:{line}"
    lost = {0: "", 1: "; 1 line after it was not read", 2: "; 2 lines after it were not read"}
    assert caught.value.what == "a quote opened on this line is never closed" + lost[unread]


def test_a_user_list_with_an_unclosed_quote_imports_nobody():
    with pytest.raises(HdriveError, match="never closed; 1 line after it was not read"):
        parse('folder,upn\nalice,alice@contoso.com\n"bob,bob@contoso.com\ncarol,c@contoso.com\n')


def test_a_row_is_reported_at_the_line_it_starts_on():
    text = 'folder,upn\n"al\nice",x\n\nbob,bob@contoso.com\n'
    parsed = parse(text)
    assert [error.line for error in parsed.errors] == [2]
    assert parsed.rows == [Row(5, "bob", "bob@contoso.com", None)]


def test_unknown_folders_are_refused_and_known_ones_take_the_listed_spelling():
    rows = [Row(2, "meganb", "m@contoso.com"), Row(3, "nobody", "n@contoso.com")]
    good, errors = check_folders(rows, FOLDERS, ROOT)
    assert good == [Row(2, "MeganB", "m@contoso.com")]
    assert [(e.line, e.what) for e in errors] == [(3, f"no folder nobody under {ROOT}")]


def test_every_row_of_a_clash_is_refused():
    rows = [
        Row(2, "alice", "alice@contoso.com"),
        Row(3, "ALICE", "other@contoso.com"),
        Row(4, "bob", "Alice@Contoso.com"),
        Row(5, "carol", "carol@contoso.com"),
        Row(6, "dave", "dave@contoso.com"),
        Row(7, "erin", "dave@contoso.com"),
        Row(8, "frank", "dave@contoso.com"),
    ]
    good, errors = reject_duplicates(rows)
    assert good == [rows[3]]
    assert [(e.line, e.what) for e in errors] == [
        (2, "folder alice is also on line 3"),
        (3, "folder ALICE is also on line 2"),
        (4, "Alice@Contoso.com is also on line 2"),
        (6, "dave@contoso.com is also on lines 7, 8"),
        (7, "dave@contoso.com is also on lines 6, 8"),
        (8, "dave@contoso.com is also on lines 6, 7"),
    ]


@pytest.mark.parametrize(
    ("upn", "valid"),
    [
        ("meganb@contoso.com", True),
        ("megan.bowen@contoso.co.uk", True),
        ("o'neil_j-x!#^~@sub.contoso.com", True),
        ("meganb@contoso", False),
        ("@contoso.com", False),
        ("meganb.@contoso.com", False),
        ("megan bowen@contoso.com", False),
        ("megan+tag@contoso.com", False),
        ("meganb@contoso_x.com", False),
        ("a" * 65 + "@contoso.com", False),
        ("a@" + "b" * 45 + ".com", False),
    ],
)
def test_upn_rules(upn, valid):
    assert is_upn(upn) is valid


@pytest.mark.parametrize(
    ("segment", "candidates"),
    [
        ("meganb_contoso_com", ["meganb@contoso.com"]),
        (
            "megan_bowen_contoso_com",
            ["megan.bowen@contoso.com", "megan_bowen@contoso.com", "megan@bowen.contoso.com"],
        ),
        ("meganb", []),
        ("meganb_com", []),
        ("meganb__contoso_com", ["meganb_@contoso.com"]),
        ("a_b_c_d_e_f_g_contoso_com", None),
    ],
)
def test_candidate_upns(segment, candidates):
    assert candidate_upns(segment) == candidates


@pytest.mark.parametrize(
    ("url", "segment"),
    [
        (URL.format("meganb_contoso_com"), "meganb_contoso_com"),
        (
            "https://contoso-my.sharepoint.com/personal/MeganB_Contoso_com/Documents",
            "meganb_contoso_com",
        ),
        ("https://contoso-my.sharepoint.com/Personal/o%27neil_contoso_com/", "o'neil_contoso_com"),
        ("https://contoso-my.sharepoint.com/personal/", None),
        ("https://contoso-my.sharepoint.com/sites/meganb_contoso_com", None),
        ("https:///personal/meganb_contoso_com", None),
        ("http://[::1/personal/a_b_c", None),
    ],
)
def test_onedrive_segment(url, segment):
    assert onedrive_segment(url) == segment


LOCAL = st.text(st.sampled_from("abcxyz09_.-'"), min_size=1, max_size=12)
LABEL = st.text(st.sampled_from("abcxyz09-"), min_size=1, max_size=8)


@given(local=LOCAL, labels=st.lists(LABEL, min_size=2, max_size=3))
def test_a_upn_is_among_the_candidates_for_its_own_onedrive_url(local, labels):
    upn = f"{local}@{'.'.join(labels)}"
    assume(is_upn(upn))
    candidates = candidate_upns(personal_segment(upn))
    assume(candidates is not None)
    assert upn.lower() in candidates
    assert all(personal_segment(c) == personal_segment(upn) and is_upn(c) for c in candidates)


# Cells mixing values that pass with values that fail each rule.
CELL = st.one_of(
    st.sampled_from(["alice", "bob", "MeganB", "nobody", "a/b", "", "  "]),
    st.sampled_from(["alice@contoso.com", "bob@contoso.com", "not a upn", "(no wave)", "pilot"]),
    st.sampled_from(["\\\\sharedfolder\\homedrives\\alice", "\\\\x\\y\\bob", "/srv/alice"]),
    st.sampled_from([URL.format("alice_contoso_com"), URL.format("b"), "https://x/personal/"]),
    # No semicolons or tabs: a first line with more of those than commas is read as
    # semicolon- or tab-separated (test_semicolons_and_tabs_separate_values_as_excel_saves_them).
    st.text(st.characters(blacklist_characters=";\t"), max_size=8),
)
RECORDS = st.lists(st.lists(CELL, min_size=1, max_size=7), max_size=8)


def blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def write_csv(records: list[list[str]]) -> tuple[str, list[int]]:
    """The CSV text of RECORDS and the line each record starts on."""
    out, starts, line = io.StringIO(), [], 1
    # Excel's line ends: the writer then quotes any cell holding \r or \n.
    writer = csv.writer(out, lineterminator="\r\n")
    for record in records:
        before = out.tell()
        writer.writerow(record)
        starts.append(line)
        line += len(list(io.StringIO(out.getvalue()[before:], newline="")))
    return out.getvalue(), starts


def assert_one_outcome_per_record(records: list[list[str]], text: str, starts: list[int]):
    expected = [start for record, start in zip(records, starts, strict=True) if not blank(record)]
    if not expected:
        with pytest.raises(HdriveError, match="the file lists nobody"):
            parse(text)
        return
    user_list = parse(text, upn_required=False)
    rows, folder_errors = check_folders(user_list.rows, FOLDERS, ROOT)
    rows, duplicate_errors = reject_duplicates(rows)
    errors = [*user_list.errors, *folder_errors, *duplicate_errors]
    outcomes = sorted([row.line for row in rows] + [error.line for error in errors])
    assert outcomes == expected
    for error in errors:
        message = error.message(FILE)
        assert message.startswith(f"{FILE}:{error.line}: ") and ". Fix: " in message
        assert len(message.splitlines()) == 1


@given(RECORDS)
def test_every_simple_row_imports_or_gives_exactly_one_error_line(records):
    text, starts = write_csv([["folder", "upn", "wave"], *records])
    assert_one_outcome_per_record(records, text, starts[1:])


@given(RECORDS)
def test_every_spmt_row_imports_or_gives_exactly_one_error_line(records):
    first = next((record for record in records if not blank(record)), None)
    assume(first is not None and first[0].strip().lower() != "folder")
    assume(len(first) == 6 or first[0].strip().startswith(("\\\\", "/")))
    text, starts = write_csv(records)
    assert_one_outcome_per_record(records, text, starts)


@given(st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=6))
def test_quotes_a_csv_writer_wrote_are_never_taken_for_unclosed_ones(records):
    text, starts = write_csv(records)
    expected = [(s, r) for s, r in zip(starts, records, strict=True) if not blank(r)]
    assert list(csv_records(text, FILE)) == expected
