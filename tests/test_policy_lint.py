"""Lint: what a valid policy can still get wrong, and only what can be proved."""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_policy_decide import RECORDS, WHENS, reference_matches

from hdrive_migrate.policy.lint import check_file, covers, lint
from hdrive_migrate.policy.parse import ATTRIBUTES, AgeRange, SizeRange, When, load_policy

SHIPPED = Path(__file__).parent.parent / "policies" / "personal-files.yaml"
HEADER = (
    "policy: {id: t, version: 1.0.0, approved_by: [RM], effective: 2026-01-01, "
    "labels: [Keep, Spare]}\n"
)
HOLD = "guards:\n  - {id: G1, description: held, when: {on_hold: true}, action: hold}\n"


def policy_file(tmp_path: Path, rules: list[str], guards: str = HOLD) -> Path:
    """A policy with GUARDS and RULES (each a flow mapping, one per line from line 5)."""
    text = HEADER + guards + "rules:\n" + "".join(f"  - {rule}\n" for rule in rules)
    path = tmp_path / "policy.yaml"
    path.write_text(text + "default: review\n")
    return path


def findings(tmp_path: Path, rules: list[str], guards: str = HOLD, **options) -> list[str]:
    path = policy_file(tmp_path, rules, guards)
    return [str(f).replace(str(path), "P") for f in lint(load_policy(path), **options)]


KEEP = "{id: RK, description: keep, when: {}, action: migrate, label: Keep}"
SPARE = "{id: RS, description: spare, when: {name: x}, action: migrate, label: Spare}"


def test_the_shipped_policy_is_clean():
    assert lint(load_policy(SHIPPED)) == []


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{name: ['*.tmp', '*.bak']}", "{name: '*.TMP', size: {under: 1MB}}"),
        ("{path: 'Old/**'}", "{path: ['old/**']}"),
        ("{extension: [exe, msi]}", "{extension: [msi]}"),
        ("{size: {over: 1MB}}", "{size: {over: 2MB, under: 3MB}}"),
        ("{size: {under: 1MB}}", "{size: {under: 1KB}}"),
        ("{modified: {older_than: 6y}}", "{modified: {older_than: 84m}}"),
        ("{modified: {newer_than: 30d}}", "{modified: {newer_than: 2w}}"),
        ("{attributes: [hidden]}", "{attributes: [hidden, system]}"),
        ("{duplicate: true}", "{duplicate: true, extension: [pst]}"),
    ],
)
def test_a_rule_caught_whole_by_an_earlier_one_is_reported(tmp_path, earlier, later):
    rules = [
        f"{{id: R1, description: a, when: {earlier}, action: review}}",
        f"{{id: R2, description: b, when: {later}, action: exclude}}",
        SPARE,
        KEEP,
    ]
    assert findings(tmp_path, rules) == [
        "P:6: warning: rule R2 can never decide: rule R1 (line 5) matches every file it "
        "matches. Fix: narrow R1, move R2 above it, or remove R2"
    ]


def test_a_rule_matching_every_file_shadows_all_after_it(tmp_path):
    rules = [KEEP, "{id: R2, description: b, when: {name: '*.tmp'}, action: exclude}", SPARE]
    assert [line.split(" can never")[0] for line in findings(tmp_path, rules)] == [
        "P:6: warning: rule R2",
        "P:7: warning: rule RS",
    ]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{name: '*.tmp'}", "{path: '*.tmp'}"),  # same meaning, but not the same condition
        ("{name: '*.tmp'}", "{name: ['*.tmp', '*.bak']}"),
        ("{size: {over: 2MB}}", "{size: {over: 1MB}}"),
        ("{size: {under: 1MB}}", "{size: {over: 1KB}}"),
        ("{modified: {older_than: 1y}}", "{modified: {older_than: 400d}}"),
        ("{modified: {older_than: 1y}}", "{created: {older_than: 2y}}"),
        ("{attributes: [hidden, system]}", "{attributes: [hidden]}"),
        ("{duplicate: true}", "{duplicate: false}"),
    ],
)
def test_overlaps_that_are_not_provably_whole_are_not_reported(tmp_path, earlier, later):
    rules = [
        f"{{id: R1, description: a, when: {earlier}, action: review}}",
        f"{{id: R2, description: b, when: {later}, action: exclude}}",
        SPARE,
        KEEP,
    ]
    assert findings(tmp_path, rules) == []


def test_a_guard_shadowed_by_a_guard_and_a_rule_by_a_guard(tmp_path):
    guards = HOLD + "  - {id: G2, description: held too, when: {on_hold: true}, action: hold}\n"
    rules = [
        "{id: R1, description: held, when: {on_hold: true, size: {over: 1B}}, action: review}",
        SPARE,
        KEEP,
    ]
    assert findings(tmp_path, rules, guards) == [
        "P:4: warning: guard G2 can never decide: guard G1 (line 3) matches every file it "
        "matches. Fix: narrow G1, move G2 above it, or remove G2",
        "P:6: warning: rule R1 can never decide: guard G1 (line 3) matches every file it "
        "matches. Fix: narrow guard G1, or remove R1",
    ]


def test_labels_listed_but_unused_and_labels_the_tenant_lacks(tmp_path):
    assert findings(tmp_path, [KEEP], known_labels={"Keep", "Other"}) == [
        "P:1: warning: label 'Spare' is listed but no rule applies it. Fix: remove it from "
        "labels, or add a migrate rule with this label",
    ]
    assert findings(tmp_path, [SPARE, KEEP], known_labels={"Keep"}) == [
        "P:5: error: RS applies label 'Spare', which the tenant does not have. Fix: create "
        "the retention label in Purview, or use one of: Keep",
    ]


def test_a_catch_all_destructive_rule_replaces_the_fail_safe_default(tmp_path):
    rules = [SPARE, "{id: R9, description: rest, when: {}, action: dispose_after_approval}"]
    assert findings(tmp_path, rules, known_labels=None)[-1] == (
        "P:6: warning: R9 would dispose_after_approval every file no earlier rule matches, so "
        "the default (review) is never reached. Fix: give R9 conditions naming what to "
        "dispose_after_approval"
    )


def test_a_policy_without_a_hold_guard(tmp_path):
    assert findings(tmp_path, [SPARE, KEEP], guards="") == [
        "P:1: warning: no guard holds files on the hold register, so rules could exclude or "
        "dispose of them. Fix: add a first guard: {id: G1, description: Hold register, when: "
        "{on_hold: true}, action: hold}"
    ]


def test_check_reports_access_times_as_errors_unless_trusted(tmp_path):
    rules = [
        "{id: R1, description: a, when: {accessed: {older_than: 2y}}, action: review}",
        SPARE,
        KEEP,
    ]
    path = policy_file(tmp_path, rules)
    report = check_file(path, atime_trusted=False)
    assert report.failed and [e.line for e in report.errors] == [5]
    assert report.summary() == "t 1.0.0: 1 error, 0 warnings"
    trusted = check_file(path, atime_trusted=True)
    assert not trusted.failed and trusted.summary() == "t 1.0.0: 0 errors, 0 warnings"


def test_check_skips_lint_when_the_file_has_errors(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(HEADER + "rules: []\ndefault: migrate\n")
    report = check_file(path, atime_trusted=False)
    assert report.policy is None and report.findings == [] and len(report.errors) == 1
    assert report.summary() == "policy: 1 error, 0 warnings"


def tightened(data, when: When) -> When:
    """WHEN with each condition kept or narrowed (and maybe more conditions): every file
    it matches, WHEN matches too."""
    extra = data.draw(WHENS)
    narrowed = {}
    for key in when.given():
        value = getattr(when, key)
        if key in ("path", "name"):
            value = tuple(data.draw(st.lists(st.sampled_from(value), min_size=1, unique=True)))
        elif key == "extension":
            value = frozenset(data.draw(st.sets(st.sampled_from(sorted(value)), min_size=1)))
        elif key == "attributes":
            value = value | data.draw(st.frozensets(st.sampled_from(ATTRIBUTES)))
        elif key == "size":
            grow = data.draw(st.integers(0, 2048))
            value = SizeRange(
                None if value.over is None else value.over + grow,
                None if value.under is None else max(0, value.under - grow),
            )
        elif key in ("modified", "created", "accessed"):
            grow = data.draw(st.integers(0, 3))
            older, newer = value
            value = AgeRange(
                None if older is None else older._replace(count=older.count + grow),
                None if newer is None else newer._replace(count=max(0, newer.count - grow)),
            )
        narrowed[key] = value
    return replace(extra, **narrowed)


@settings(max_examples=300, deadline=None)
@given(WHENS, st.data(), st.lists(RECORDS, min_size=1, max_size=10))
def test_a_reported_cover_is_real(earlier, data, records):
    # Lint may miss overlaps, but what it reports must hold for every file.
    later = tightened(data, earlier)
    assert covers(earlier, later)
    for rec in records:
        assert not reference_matches(later, rec) or reference_matches(earlier, rec)
