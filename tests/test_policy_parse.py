"""Reading policy files: each kind of mistake is reported at its FILE:LINE:COL with a fix."""

import hashlib
from datetime import date
from pathlib import Path

import pytest

from hdrive_migrate.policy.parse import (
    AgeRange,
    PolicyError,
    SizeRange,
    check_policy,
    load_policy,
)
from hdrive_migrate.policy.units import Age

SHIPPED = Path(__file__).parent.parent / "policies" / "personal-files.yaml"

# Line 10 is R1's first key (column 5); line 12 its when (the value at column 11).
BASE = """\
policy:
  id: test
  version: 1.0.0
  approved_by: [Records Manager]
  effective: 2026-01-01
  labels: [Keep]
guards:
  - {id: G1, description: Hold, when: {on_hold: true}, action: hold}
rules:
  - id: R1
    description: Clutter
    when: {name: ["*.tmp"]}
    action: exclude
  - {id: R2, description: Rest, when: {}, action: migrate, label: Keep}
default: review
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def errors_after(tmp_path: Path, old: str, new: str) -> list[str]:
    """The error lines for BASE with OLD replaced by NEW, FILE shown as 'P'."""
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    return [str(error).replace(str(path), "P") for error in check_policy(path)]


def test_the_base_policy_is_valid_and_keeps_what_it_says(tmp_path):
    path = write(tmp_path, BASE)
    policy = load_policy(path)
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (policy.id, policy.version) == ("test", "1.0.0")
    assert policy.effective == date(2026, 1, 1)
    assert [(rule.id, rule.kind, rule.action) for rule in (*policy.guards, *policy.rules)] == [
        ("G1", "guard", "hold"),
        ("R1", "rule", "exclude"),
        ("R2", "rule", "migrate"),
    ]
    assert policy.rules[0].at == (10, 5)
    assert policy.rules[1].label == "Keep"
    assert (policy.default, policy.default_at) == ("review", (15, 10))


def test_the_shipped_policy_is_valid():
    assert check_policy(SHIPPED) == []


def test_conditions_are_read_into_values(tmp_path):
    when = (
        "{path: [Old/**], name: x.doc, extension: [.DOCX, pdf], size: {over: 1KB, under: "
        "1.5MB}, modified: {older_than: 6y, newer_than: 10y}, attributes: [Hidden], "
        "duplicate: false}"
    )
    path = write(tmp_path, BASE.replace('{name: ["*.tmp"]}', when))
    rule = load_policy(path).rules[0].when
    assert rule.path == ("Old/**",) and rule.name == ("x.doc",)
    assert rule.extension == {"docx", "pdf"}
    assert rule.size == SizeRange(1024, 1_572_864)
    assert rule.modified == AgeRange(Age(6, "y"), Age(10, "y"))
    assert rule.attributes == {"hidden"} and rule.duplicate is False
    assert rule.given() == (
        "path",
        "name",
        "extension",
        "size",
        "modified",
        "attributes",
        "duplicate",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'name: ["*.tmp"]',
            "name: [*.tmp]",
            "P:12:20: YAML syntax: expected alphabetic or numeric character, but found '.'. "
            "Fix: quote values that start with * or &, e.g. name: ['*.tmp']",
            id="unquoted star",
        ),
        pytest.param(
            "    action: exclude",
            "\taction: exclude",
            "P:13:1: YAML syntax: found character '\\t' that cannot start any token. "
            "Fix: indent with spaces, not tabs",
            id="tab",
        ),
        pytest.param(
            "default: review\n",
            "default: review\n---\nx: 1\n",
            "P:16:1: YAML syntax: but found another document. "
            "Fix: keep one YAML document in the file: remove the extra ---",
            id="two documents",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "extention: [tmp]",
            "P:12:12: unknown key 'extention' in R1 when. Fix: did you mean extension? keys "
            "are: path, name, extension, size, modified, created, accessed, attributes, "
            "duplicate, on_hold",
            id="unknown condition",
        ),
        pytest.param(
            "  labels: [Keep]",
            "  labels: [Keep]\n  owner: me",
            "P:7:3: unknown key 'owner' in policy. Fix: keys are: id, version, approved_by, "
            "effective, labels",
            id="unknown header key",
        ),
        pytest.param(
            "version: 1.0.0",
            "version: 1.0",
            "P:3:12: version '1.0' is not MAJOR.MINOR.PATCH. Fix: write a semantic version "
            "such as 1.0.0",
            id="version",
        ),
        pytest.param(
            "approved_by: [Records Manager]",
            "approved_by: 7",
            "P:4:16: approved_by must be non-empty text. Fix: write e.g. [Head of Records], "
            "quoting it if YAML would read it as a number, date or yes/no",
            id="wrong type",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "size: {under: 1XB}",
            "P:12:26: R1 size.under '1XB' is not a size. Fix: write a size such as 1MB, "
            "500KB, 2.5GB or 0B (binary units: 1KB = 1024 bytes)",
            id="size unit",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "size: {under: 0.5B}",
            "P:12:26: R1 size.under '0.5B' is not a size. Fix: write a size such as 1MB, "
            "500KB, 2.5GB or 0B (binary units: 1KB = 1024 bytes)",
            id="part of a byte",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "size: {}",
            "P:12:18: R1 size gives no bound. Fix: write e.g. size: {under: 1MB}",
            id="size without bound",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "size: {over: 2MB, under: 1MB}",
            "P:12:18: R1 size over 2097152 and under 1048576 bytes matches no file. "
            "Fix: make under larger than over",
            id="empty size range",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "modified: {older_than: 6 years}",
            "P:12:35: R1 modified.older_than '6 years' is not an age. Fix: write a whole number "
            "and a unit: 90d, 2w, 18m or 6y (up to 1000y)",
            id="age unit",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "modified: {older_than: 2y, newer_than: 1y}",
            "P:12:22: R1 modified older than 2y and newer than 1y matches no file. "
            "Fix: make newer_than the longer age, e.g. {older_than: 1y, newer_than: 2y}",
            id="empty age range",
        ),
        pytest.param(
            "id: R2",
            "id: r1",
            "P:14:10: id r1 is used twice (first on line 10). "
            "Fix: give every guard and rule its own id",
            id="duplicate id",
        ),
        pytest.param(
            "id: R2",
            "id: Default",
            "P:14:10: id 'Default' is reserved for the default. Fix: choose another id, e.g. R9",
            id="reserved id",
        ),
        pytest.param(
            "id: R2",
            "id: R 2",
            "P:14:10: id 'R 2' is not a short name. Fix: use up to 40 letters, digits, '.', "
            "'-' or '_', e.g. R1",
            id="id with a space",
        ),
        pytest.param(
            "action: exclude",
            "action: exclud",
            "P:13:13: R1 has unknown action 'exclud'. Fix: did you mean exclude? actions are: "
            "migrate, exclude, review, hold, dispose_after_approval, divert_evidence",
            id="unknown action",
        ),
        pytest.param(
            "action: exclude",
            "action: exclude\n    label: Keep",
            "P:14:12: R1 has a label but its action is exclude. "
            "Fix: remove the label: only migrate applies one",
            id="label without migrate",
        ),
        pytest.param(
            "label: Keep}",
            "label: Other}",
            "P:14:67: label 'Other' is not in the policy's labels. "
            "Fix: add it to policy labels or use one of: Keep",
            id="label not in header",
        ),
        pytest.param(
            "labels: [Keep]",
            "labels: [Keep, Keep]",
            "P:6:18: label 'Keep' is listed twice. Fix: list each label once",
            id="label listed twice",
        ),
        pytest.param(
            "action: hold}",
            "action: exclude}",
            "P:8:64: guard G1 cannot exclude: a guard only holds or diverts evidence. "
            "Fix: use hold or divert_evidence, or move it to rules",
            id="guard action",
        ),
        pytest.param(
            "effective: 2026-01-01",
            "effective: 2026-13-01",
            "P:5:14: effective '2026-13-01' is not a date from 1900 on. "
            "Fix: write a real date as YYYY-MM-DD, e.g. 2026-01-01",
            id="bad date",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            'name: ["/"]',
            "P:12:18: R1 name glob '/' is empty. Fix: write a glob such as '*.tmp' or 'Temp/**'",
            id="empty glob",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "name: []",
            "P:12:18: R1 name is an empty list. Fix: give at least one value, e.g. "
            "['*.tmp', 'Temp/**']",
            id="empty glob list",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            'path: ["Temp\\\\**"]',
            "P:12:18: R1 path glob 'Temp\\\\**' uses a backslash. "
            "Fix: separate folders with /, e.g. Documents/Old/**",
            id="backslash",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            'path: "a//b"',
            "P:12:18: R1 path glob 'a//b' has an empty folder name (//). "
            "Fix: write one / between folders",
            id="double slash",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            'name: ["[z-a]*"]',
            "P:12:18: R1 name glob '[z-a]*' has a character set that cannot match (bad "
            "character range z-a). Fix: write each range low to high, e.g. [a-z], and put ] "
            "first in a set, e.g. []x]",
            id="reversed range",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            'name: ["Temp/*.tmp"]',
            "P:12:18: R1 name glob 'Temp/*.tmp' has a /, but name is a file's name. "
            "Fix: use path for folders, e.g. path: 'Temp/**'",
            id="folder in a name",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "extension: [tar.gz]",
            "P:12:23: R1 extension 'tar.gz' is not a plain extension. Fix: write what follows "
            "the last dot, e.g. [docx, .pdf]; use name for patterns like '*.tar.gz'",
            id="extension with a dot",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "attributes: [hiden]",
            "P:12:24: R1 attributes 'hiden' is not an attribute. "
            "Fix: did you mean hidden? attributes are: hidden, system, readonly, offline",
            id="attribute",
        ),
        pytest.param(
            'name: ["*.tmp"]',
            "duplicate: sometimes",
            "P:12:23: R1 duplicate must be true or false. Fix: write true or false",
            id="boolean",
        ),
        pytest.param(
            "default: review",
            "default: migrate",
            "P:15:10: default 'migrate' is not allowed: the default must never migrate or "
            "dispose of a file silently. Fix: use review, hold, exclude (review is the "
            "fail-safe choice), and add a rule with when: {} for anything else",
            id="default migrate",
        ),
        pytest.param(
            "    description: Clutter\n",
            "",
            "P:10:5: rule has no description. Fix: add description: to rule",
            id="missing key",
        ),
        pytest.param(
            "    description: Clutter\n",
            "    description: Clutter\n    description: Again\n",
            "P:12:5: description appears twice in rule (first on line 11). Fix: keep one of them",
            id="repeated key",
        ),
        pytest.param(
            'when: {name: ["*.tmp"]}',
            "when:",
            "P:12:10: R1 when must be a mapping of keys to values. Fix: write R1 when as key: "
            "value lines or {key: value}; its keys are: path, name, extension, size, modified, "
            "created, accessed, attributes, duplicate, on_hold",
            id="empty when",
        ),
    ],
)
def test_each_mistake_is_reported_where_it_is_with_a_fix(tmp_path, old, new, expected):
    assert errors_after(tmp_path, old, new) == [expected]


def test_every_mistake_is_collected_in_file_order(tmp_path):
    text = (
        BASE.replace("version: 1.0.0", "version: one")
        .replace("action: exclude", "action: exclud")
        .replace("default: review", "default: migrate")
    )
    errors = check_policy(write(tmp_path, text))
    assert [(error.line, error.col) for error in errors] == [(3, 12), (13, 13), (15, 10)]


def test_ids_repeated_on_one_line_are_found(tmp_path):
    rule = "{id: R1, description: d, when: {}, action: review}"
    text = BASE[: BASE.index("rules:")] + f"rules: [{rule}, {rule}]\ndefault: review\n"
    assert errors_after_text(tmp_path, text) == [
        "P:9:66: id R1 is used twice (first on line 9). Fix: give every guard and rule its own id"
    ]


def test_load_policy_raises_the_first_error(tmp_path):
    path = write(
        tmp_path,
        BASE.replace("version: 1.0.0", "version: one").replace("action: exclude", "action: exclud"),
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (caught.value.file, caught.value.line, caught.value.col) == (str(path), 3, 12)
    assert str(caught.value).startswith(f"{path}:3:12: version 'one'")


def test_more_than_63_guards_and_rules_do_not_fit_the_mask(tmp_path):
    rules = "".join(
        f"  - {{id: R{i}, description: r, when: {{}}, action: review}}\n" for i in range(63)
    )
    text = BASE.replace(BASE[BASE.index("  - id: R1") : BASE.index("default:")], rules)
    assert errors_after_text(tmp_path, text) == [
        "P:10:3: 64 guards and rules: at most 63 fit the matched-rules record. "
        "Fix: merge rules that share an action, e.g. with a list of globs"
    ]
    # 63 in all (one guard and 62 rules) is allowed.
    assert errors_after_text(tmp_path, text.replace("  - {id: R62,", "  # {id: R62,")) == []


def errors_after_text(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    return [str(error).replace(str(path), "P") for error in check_policy(path)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"",
            "P:1:1: the file is empty. Fix: write the YAML document (see "
            "policies/personal-files.yaml)",
        ),
        (b"\xff\xfe policy", "P: byte 0 is not UTF-8 text. Fix: save the file as UTF-8"),
        (
            b"- a\n- b\n",
            "P:1:1: the policy file must be a mapping of keys to values. Fix: "
            "write the policy file as key: value lines or {key: value}; its keys are: policy, "
            "guards, rules, default",
        ),
    ],
)
def test_a_file_that_is_not_a_policy(tmp_path, content, expected):
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    assert [str(e).replace(str(path), "P") for e in check_policy(path)] == [expected]


def test_a_missing_file_is_one_error_naming_it(tmp_path):
    path = tmp_path / "absent.yaml"
    (error,) = check_policy(path)
    assert str(error) == (
        f"{path}: cannot read the file: No such file or directory. "
        "Fix: check the file name and that you may read it"
    )
