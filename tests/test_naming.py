"""The pipeline's reading of OneDrive's naming rules, and the fast path that guards it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate import naming
from hdrive_migrate.scan.findings import entry_findings, has_bad_encoding, printable
from hdrive_migrate.sources import OFFLINE, Entry


def reference_problems(name: str, at_drive_root: bool) -> list[str]:
    """The rules written out plainly, one by one, without the fast path."""
    problems = []
    if any(ch in '"*:<>?/\\|' or ord(ch) < 32 for ch in name):
        problems.append(naming.FORBIDDEN)
    reserved = {".lock", "con", "prn", "aux", "nul", "desktop.ini"}
    reserved |= {f"com{d}" for d in range(10)} | {f"lpt{d}" for d in range(10)}
    if name.lower() in reserved:
        problems.append(naming.RESERVED)
    if name.startswith(" ") or name.endswith(" "):
        problems.append(naming.EDGE_SPACE)
    if name.endswith("."):
        problems.append(naming.TRAILING_DOT)
    if name.startswith("~$"):
        problems.append(naming.OFFICE_LOCK)
    if "_vti_" in name.lower():
        problems.append(naming.VTI)
    if at_drive_root and name.lower() == "forms":
        problems.append(naming.FORMS_AT_ROOT)
    return problems


TRICKY = st.sampled_from([*'"*:<>?/\\| .~$_vtiCONcomLPT1lock\x01', "_vti_", "desktop.ini"])


@given(st.lists(st.one_of(TRICKY, st.characters()), max_size=12).map("".join), st.booleans())
def test_fast_path_agrees_with_the_plain_rules(name, at_root):
    assert naming.name_problems(name, at_drive_root=at_root) == reference_problems(name, at_root)


@given(st.lists(st.lists(st.one_of(TRICKY, st.characters()), max_size=8).map("".join), max_size=6))
def test_a_folder_passes_the_joint_check_only_when_every_name_is_fine(names):
    names = [name.replace("/", "") for name in names]  # no name can hold '/'
    if naming.all_names_fine(names):
        assert all(naming.name_problems(name) == [] for name in names)
    if any(naming.name_problems(name) for name in names):
        assert not naming.all_names_fine(names)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("report.docx", []),
        ("a:b", [naming.FORBIDDEN]),
        ("Con", [naming.RESERVED]),
        ("con.txt", []),
        ("COM10", []),
        (" x", [naming.EDGE_SPACE]),
        ("x.", [naming.TRAILING_DOT]),
        ("~$doc.docx", [naming.OFFICE_LOCK]),
        ("a_VTI_b", [naming.VTI]),
        ("~$bad?.", [naming.FORBIDDEN, naming.TRAILING_DOT, naming.OFFICE_LOCK]),
    ],
)
def test_names_and_their_findings(name, kinds):
    assert naming.name_problems(name) == kinds


def test_forms_is_only_refused_at_the_drive_root():
    assert naming.name_problems("Forms", at_drive_root=True) == [naming.FORMS_AT_ROOT]
    assert naming.name_problems("Forms") == []


def test_path_limit_counts_the_whole_target_path():
    assert not naming.path_too_long("H Drive/" + "a" * 392)
    assert naming.path_too_long("H Drive/" + "a" * 393)


def entry(name: str, size: int = 1, attributes: int = 0, is_link: bool = False) -> Entry:
    return Entry(name, False, size, None, 0.0, 0.0, attributes, is_link)


def test_entry_findings_cover_size_links_stubs_and_encoding():
    big = entry("big.iso", size=naming.MAX_FILE_BYTES + 1)
    assert [kind for kind, _ in entry_findings("big.iso", big, "H Drive")] == [naming.TOO_LARGE]
    stub = entry("old.pst", attributes=OFFLINE)
    assert [kind for kind, _ in entry_findings("old.pst", stub, "H")] == ["offline_stub"]
    link = entry("shortcut", is_link=True)
    assert [kind for kind, _ in entry_findings("shortcut", link, "H")] == ["link"]
    odd = "caf\udce9.txt"
    assert has_bad_encoding(odd)
    assert [kind for kind, _ in entry_findings(odd, entry(odd), "H")] == ["bad_encoding"]
    assert printable(odd) == "caf\\xe9.txt"
    lone = "a\ud800b"  # a lone UTF-16 surrogate, as an SMB name may hold
    assert has_bad_encoding(lone) and printable(lone) == "a\\ud800b"
    assert printable("café.txt") == "café.txt"
