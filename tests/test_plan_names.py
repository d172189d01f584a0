"""Target names: every rule in naming.py cured in both styles, collisions settled stably."""

# The look-alike characters are what these tests are about, so they are written as they look.
# ruff: noqa: RUF001

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate import naming
from hdrive_migrate.plan.names import (
    NameMapping,
    NameStyle,
    clash_key,
    map_folder,
    map_name,
    numbered,
    path_length_problem,
)
from hdrive_migrate.plan.targets import TargetTree

FULLWIDTH = NameMapping(NameStyle.FULLWIDTH)
REPLACE = NameMapping(NameStyle.REPLACE)


@pytest.mark.parametrize(
    ("name", "fullwidth", "replace"),
    [
        # forbidden characters, each one
        ('say "hi"', "say ＂hi＂", "say _hi_"),
        ("a*b", "a＊b", "a_b"),
        ("a:b", "a：b", "a_b"),
        ("<a>", "＜a＞", "_a_"),
        ("why?", "why？", "why_"),
        ("a/b", "a／b", "a_b"),
        ("a\\b", "a＼b", "a_b"),
        ("a|b", "a｜b", "a_b"),
        # control characters
        ("a\x00b", "a␀b", "a_b"),
        ("tab\there", "tab␉here", "tab_here"),
        ("x\x1f", "x␟", "x_"),
        # leading and trailing spaces: only the edge character changes
        (" a", "␠a", "_a"),
        ("a ", "a␠", "a_"),
        ("  a  ", "␠ a ␠", "_ a _"),
        (" ", "␠", "_"),
        # trailing dot
        ("a.", "a．", "a_"),
        ("a..", "a.．", "a._"),
        (".", "．", "_"),
        ("a .", "a ．", "a _"),
        ("a. ", "a.␠", "a._"),
        # Office lock files
        ("~$report.docx", "～$report.docx", "_$report.docx"),
        # _vti_
        ("_vti_cnf", "＿vti_cnf", "vti_cnf"),
        ("a_VTI_b", "a＿VTI_b", "aVTI_b"),
        ("__vti_x", "_＿vti_x", "vti_x"),
        ("_vti_vti_", "＿vti＿vti_", "vtivti_"),
        ("a:vti_b", "a：vti_b", "avti_b"),  # the replacement completes a _vti_, then cured
        (" vti_x", "␠vti_x", "vti_x"),
        # reserved names, any case
        ("CON", "ＣON", "_CON"),
        ("prn", "ｐrn", "_prn"),
        ("Aux", "Ａux", "_Aux"),
        ("nul", "ｎul", "_nul"),
        ("COM0", "ＣOM0", "_COM0"),
        ("lpt9", "ｌpt9", "_lpt9"),
        (".lock", "．lock", "_.lock"),
        ("Desktop.ini", "Ｄesktop.ini", "_Desktop.ini"),
        # several rules at once
        ("~$bad?.", "～$bad？．", "_$bad__"),
        (" CON:", "␠CON：", "_CON_"),
    ],
)
def test_each_rule_is_cured_in_both_styles(name, fullwidth, replace):
    assert naming.name_problems(name)
    assert map_name(name, FULLWIDTH) == fullwidth
    assert map_name(name, REPLACE) == replace


@pytest.mark.parametrize(
    "name",
    ["report.docx", "con.txt", "COM10", "~report", "a$b", "vti", "Forms", "#50%", "é", "a  b"],
)
def test_names_onedrive_accepts_are_unchanged(name):
    assert map_name(name, FULLWIDTH) == name
    assert map_name(name, REPLACE) == name


def test_the_replacement_is_configurable():
    dash = NameMapping("replace", "-")
    assert map_name("a:b.", dash) == "a-b-"
    assert map_name("CON", dash) == "-CON"
    assert map_name("_vti_", dash) == "vti_"


def test_a_replacement_that_completes_a_reserved_name_is_cured_after():
    assert map_name("com?", NameMapping("replace", "1")) == "1com1"


@pytest.mark.parametrize("replacement", ["", "ab", ":", "?", "/", " ", ".", "~", "\x01"])
def test_unusable_replacements_are_refused(replacement):
    assert naming.replacement_problem(replacement) is not None
    with pytest.raises(ValueError, match="replacement"):
        NameMapping("replace", replacement)


@pytest.mark.parametrize("replacement", ["_", "-", "$", "1", "＿"])
def test_usable_replacements_are_accepted(replacement):
    assert naming.replacement_problem(replacement) is None
    assert NameMapping("replace", replacement).replacement == replacement


def test_styles_come_from_config_strings():
    assert NameMapping("replace").style is NameStyle.REPLACE
    assert NameMapping().style is NameStyle.FULLWIDTH
    with pytest.raises(ValueError):
        NameMapping("wide")


# Names built to hit the rules and their edges, as in test_naming, plus look-alikes and case.
TRICKY = st.sampled_from(
    [
        *'"*:<>?/\\| .~$_vtiCONcomLPT1lock\x01\t',
        *["_vti_", "desktop.ini", "～", "＿", "．", "␠", " (2)", ".txt"],
        *["\u212a", "ſ", "ß", "SS", "é", "e\u0301", "İ", "Σ", "ς"],
    ]
)
NAMES = st.lists(st.one_of(TRICKY, st.characters()), max_size=10).map("".join)
MAPPINGS = st.one_of(
    st.just(FULLWIDTH),
    st.sampled_from(["_", "-", "$", "1", "l", "x", "＿"]).map(lambda r: NameMapping("replace", r)),
)


@given(NAMES, MAPPINGS)
def test_mapped_names_are_always_accepted(name, mapping):
    assert naming.name_problems(map_name(name, mapping)) == []


@given(NAMES, MAPPINGS)
def test_mapping_is_deterministic_and_idempotent(name, mapping):
    mapped = map_name(name, mapping)
    assert map_name(name, NameMapping(mapping.style, mapping.replacement)) == mapped
    assert map_name(mapped, mapping) == mapped


@given(NAMES, MAPPINGS)
def test_names_onedrive_accepts_are_never_changed(name, mapping):
    if not naming.name_problems(name):
        assert map_name(name, mapping) == name


@given(NAMES.filter(lambda name: name and not naming.name_problems(name)), st.integers(2, 99))
def test_numbering_keeps_a_name_valid(name, number):
    assert naming.name_problems(numbered(name, number)) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", "a (2).txt"),
        ("a.tar.gz", "a.tar (2).gz"),
        ("Notes", "Notes (2)"),
        (".profile", ".profile (2)"),
        ("a：b", "a：b (2)"),
    ],
)
def test_the_number_goes_before_the_extension(name, expected):
    assert numbered(name, 2) == expected


def test_a_name_that_needed_no_mapping_keeps_it():
    assert map_folder(["a:b", "a：b"], FULLWIDTH) == {"a：b": "a：b", "a:b": "a：b (2)"}
    assert map_folder(["x.", "x_"], REPLACE) == {"x_": "x_", "x.": "x_ (2)"}


def test_clashes_are_numbered_in_order_of_original_name():
    assert map_folder(["a?b", "a:b", "a*b", "a_b"], REPLACE) == {
        "a_b": "a_b",
        "a*b": "a_b (2)",
        "a:b": "a_b (3)",
        "a?b": "a_b (4)",
    }


def test_a_generated_name_never_takes_an_original_one():
    assert map_folder(["a.txt", "A.txt", "a (2).txt"], FULLWIDTH) == {
        "A.txt": "A.txt",
        "a (2).txt": "a (2).txt",
        "a.txt": "a (3).txt",
    }


def test_composed_and_decomposed_accents_are_one_name():
    assert map_folder(["caf\u00e9", "cafe\u0301"], FULLWIDTH) == {
        "cafe\u0301": "cafe\u0301",
        "caf\u00e9": "caf\u00e9 (2)",
    }


SUFFIX_LIKE = st.sampled_from(
    [
        *["a.txt", "A.txt", "a (2).txt", "A (2).txt", "a (3).txt", "a:.txt", "a？.txt", "a?.txt"],
        *["a", "A", "a (2)", "a:", "a：", "a?", "a*", "a_", "CON", "ＣON", "_CON", "con"],
    ]
)
FOLDERS = st.lists(st.one_of(SUFFIX_LIKE, NAMES.filter(bool)), unique=True, max_size=12)


@given(FOLDERS, MAPPINGS)
def test_folder_targets_are_accepted_and_unique_however_compared(names, mapping):
    targets = map_folder(names, mapping)
    assert sorted(targets) == sorted(names)
    assert all(naming.name_problems(target) == [] for target in targets.values())
    for compare in (str.lower, str.casefold, clash_key):
        assert len({compare(target) for target in targets.values()}) == len(names)


@given(FOLDERS.flatmap(lambda names: st.tuples(st.just(names), st.permutations(names))), MAPPINGS)
def test_folder_targets_do_not_depend_on_listing_order(names_and_shuffled, mapping):
    names, shuffled = names_and_shuffled
    assert map_folder(names, mapping) == map_folder(shuffled, mapping)


@given(FOLDERS, MAPPINGS)
def test_accepted_names_keep_theirs_unless_a_case_twin_sorts_first(names, mapping):
    targets = map_folder(names, mapping)
    accepted = sorted(name for name in names if not naming.name_problems(name))
    for index, name in enumerate(accepted):
        if all(clash_key(other) != clash_key(name) for other in accepted[:index]):
            assert targets[name] == name


def test_paths_over_the_limit_carry_a_reason():
    assert path_length_problem("H Drive/" + "a" * 392) is None
    assert path_length_problem("H Drive/" + "a" * 423) == (
        "target path is 431 characters; OneDrive allows 400"
    )


def test_target_tree_maps_a_tree_folder_by_folder():
    paths = ["Q1: plans", "q1： plans", "Q1: plans/a?", "Q1: plans/Old ", "Q1: plans/Old /CON"]
    tree = TargetTree("H Drive", paths, FULLWIDTH)
    assert tree.target("q1： plans") == "H Drive/q1： plans"
    assert tree.target("Q1: plans") == "H Drive/Q1： plans (2)"
    assert tree.target("Q1: plans/a?") == "H Drive/Q1： plans (2)/a？"
    assert tree.target("Q1: plans/Old /CON") == "H Drive/Q1： plans (2)/Old␠/ＣON"


def test_target_tree_leaves_acceptable_names_alone():
    tree = TargetTree("H Drive", ["Docs", "Docs/a.txt", "Docs/b.txt"], REPLACE)
    assert tree.target("Docs/a.txt") == "H Drive/Docs/a.txt"
    assert tree.renamed == {}


def test_target_tree_separates_names_that_differ_only_by_accent_form():
    composed, decomposed = "caf\u00e9.txt", "cafe\u0301.txt"
    tree = TargetTree("H Drive", [composed, decomposed], REPLACE)
    assert tree.target(composed) != tree.target(decomposed)
