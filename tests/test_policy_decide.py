"""Compiling and deciding: every condition and unit from tables, and hypothesis properties,
including that the generated decider agrees with a plain evaluator written from the spec."""

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrive_migrate.globs import matches
from hdrive_migrate.policy import compile as compile_module
from hdrive_migrate.policy.compile import CompiledPolicy, compile_policy
from hdrive_migrate.policy.decide import decide
from hdrive_migrate.policy.parse import (
    ATTRIBUTE_BITS,
    ATTRIBUTES,
    GUARD_ACTIONS,
    AgeRange,
    Policy,
    PolicyError,
    Rule,
    SizeRange,
    Span,
    When,
    load_policy,
)
from hdrive_migrate.policy.record import ACTIONS, FileRecord
from hdrive_migrate.policy.units import Age, midnight_utc, parse_age, parse_size
from hdrive_migrate.sources import HIDDEN, SYSTEM

SHIPPED = Path(__file__).parent.parent / "policies" / "personal-files.yaml"
AS_OF = date(2026, 1, 1)
SIX_YEARS_BEFORE = midnight_utc(date(2020, 1, 1))


def record(path: str = "a.txt", size: int = 100, **fields) -> FileRecord:
    values = dict(
        modified=None, created=None, accessed=None, attributes=0, on_hold=False, duplicate=False
    )
    return FileRecord(upn="u@contoso.test", path=path, size=size, **(values | fields))


def one_rule(tmp_path: Path, when: str, *, as_of: date = AS_OF, atime: bool = False):
    """A policy whose only rule R1 (index 0) has WHEN, compiled for AS_OF."""
    text = (
        "policy: {id: t, version: 1.0.0, approved_by: [RM], effective: 2026-01-01, labels: []}\n"
        f"rules:\n  - {{id: R1, description: d, when: {when}, action: review}}\n"
        "default: hold\n"
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return compile_policy(load_policy(path), as_of, atime_trusted=atime)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("2048", 2048),
        ("0B", 0),
        ("1KB", 1024),
        ("1 kb", 1024),
        ("1KiB", 1024),
        ("1.5KB", 1536),
        ("1MB", 1024**2),
        ("2GB", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("0.5B", None),
        ("1XB", None),
        ("-1KB", None),
        ("MB", None),
        ("1e3", None),
    ],
)
def test_sizes_are_binary(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "as_of", "expected"),
    [
        ("6y", date(2026, 3, 15), date(2020, 3, 15)),
        ("1y", date(2024, 2, 29), date(2023, 2, 28)),
        ("1m", date(2026, 3, 31), date(2026, 2, 28)),
        ("18m", date(2026, 1, 1), date(2024, 7, 1)),
        ("14m", date(2026, 2, 1), date(2024, 12, 1)),
        ("2w", date(2026, 1, 1), date(2025, 12, 18)),
        ("90d", date(2026, 1, 1), date(2025, 10, 3)),
        ("0d", date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_ages_are_calendar_months_and_years_or_days(text, as_of, expected):
    assert parse_age(text).before(as_of) == expected


@pytest.mark.parametrize("text", ["6", "6 years", "1.5y", "-1d", "1001y", "y"])
def test_what_is_not_an_age(text):
    assert parse_age(text) is None


@pytest.mark.parametrize(
    ("when", "fields", "expected"),
    [
        # size: strict bounds, binary units
        ("{size: {under: 1KB}}", {"size": 1023}, True),
        ("{size: {under: 1KB}}", {"size": 1024}, False),
        ("{size: {over: 1MB}}", {"size": 1024**2}, False),
        ("{size: {over: 1MB}}", {"size": 1024**2 + 1}, True),
        ("{size: {over: 1KB, under: 2KB}}", {"size": 1500}, True),
        ("{size: {over: 1KB, under: 2KB}}", {"size": 2048}, False),
        ("{size: {under: 1B}}", {"size": 0}, True),
        ("{size: {under: 1B}}", {"size": 1}, False),
        # ages: older_than strict, newer_than inclusive, unknown never matches
        ("{modified: {older_than: 6y}}", {"modified": SIX_YEARS_BEFORE - 1}, True),
        ("{modified: {older_than: 6y}}", {"modified": SIX_YEARS_BEFORE}, False),
        ("{modified: {older_than: 6y}}", {"modified": None}, False),
        ("{modified: {newer_than: 6y}}", {"modified": SIX_YEARS_BEFORE}, True),
        ("{modified: {newer_than: 6y}}", {"modified": SIX_YEARS_BEFORE - 1}, False),
        ("{modified: {newer_than: 6y}}", {"modified": None}, False),
        ("{modified: {older_than: 72m}}", {"modified": SIX_YEARS_BEFORE - 1}, True),
        ("{created: {older_than: 1w}}", {"created": midnight_utc(date(2025, 12, 25)) - 1}, True),
        ("{created: {older_than: 1w}}", {"created": midnight_utc(date(2025, 12, 25))}, False),
        (
            "{created: {older_than: 1d, newer_than: 2d}}",
            {"created": midnight_utc(date(2025, 12, 30))},
            True,
        ),
        (
            "{created: {older_than: 1d, newer_than: 2d}}",
            {"created": midnight_utc(date(2025, 12, 31))},
            False,
        ),
        # extension: with or without the dot, any case; what follows the last dot
        ("{extension: [docx]}", {"path": "Docs/Report.DOCX"}, True),
        ("{extension: [.PDF]}", {"path": "x.pdf"}, True),
        ("{extension: [gz]}", {"path": "archive.tar.gz"}, True),
        ("{extension: [tar]}", {"path": "archive.tar.gz"}, False),
        ("{extension: [bashrc]}", {"path": "home/.bashrc"}, False),
        ("{extension: [docx]}", {"path": "docx"}, False),
        ("{extension: [docx, pdf]}", {"path": "a/b.pdf"}, True),
        # name: the file's name at any depth, any case
        ("{name: '*.tmp'}", {"path": "a/b/X.TMP"}, True),
        ("{name: '*.tmp'}", {"path": "a.tmp/b"}, False),
        ("{name: Thumbs.db}", {"path": "Pictures/2019/thumbs.db"}, True),
        ("{name: '~$*'}", {"path": "Docs/~$budget.xlsx"}, True),
        ("{name: '*exhibit*'}", {"path": "My Exhibit 4.pdf"}, True),
        ("{name: 'CR[0-9]*'}", {"path": "x/cr1 summary.doc"}, True),
        ("{name: 'CR[0-9]*'}", {"path": "x/crx summary.doc"}, False),
        ("{name: 'report?.docx'}", {"path": "report1.docx"}, True),
        ("{name: ['a.txt', 'b.txt']}", {"path": "z/b.txt"}, True),
        # path: folders, anchoring at the root, and globs matched whole
        ("{path: '**/Exhibits/**'}", {"path": "Cases/2020/exhibits/img.jpg"}, True),
        ("{path: '**/Exhibits/**'}", {"path": "Exhibits"}, True),
        ("{path: '**/Exhibits/**'}", {"path": "Cases/Exhibits2/img.jpg"}, False),
        ("{path: 'Exhibits/**'}", {"path": "Documents/Exhibits/x"}, False),
        ("{path: 'Exhibits/**'}", {"path": "exhibits/a/b/x"}, True),
        ("{path: 'Documents/*.docx'}", {"path": "Documents/a.docx"}, True),
        ("{path: 'Documents/*.docx'}", {"path": "Documents/sub/a.docx"}, False),
        ("{path: 'Documents/*.docx'}", {"path": "a.docx"}, False),
        ("{path: '/Thumbs.db'}", {"path": "Thumbs.db"}, True),
        ("{path: '/Thumbs.db'}", {"path": "a/Thumbs.db"}, False),
        ("{path: 'Thumbs.db'}", {"path": "a/Thumbs.db"}, True),
        ("{path: 'a/**/b.txt'}", {"path": "a/b.txt"}, True),
        ("{path: 'a/**/b.txt'}", {"path": "a/x/y/b.txt"}, True),
        ("{path: 'a**/b'}", {"path": "ab"}, True),
        ("{path: '[ab]/x'}", {"path": "B/x"}, True),
        ("{path: 'a[/]b'}", {"path": "a/b"}, True),
        ("{path: '**/*appraisal*/**'}", {"path": "HR/Appraisals 2019/j.docx"}, True),
        ("{path: '**/*appraisal*/**'}", {"path": "HR/appraisal.docx"}, True),
        ("{path: '**/*appraisal*/**'}", {"path": "HR/apprais.docx"}, False),
        # attributes: all must be set
        ("{attributes: [hidden, system]}", {"attributes": HIDDEN | SYSTEM | 0x20}, True),
        ("{attributes: [hidden, system]}", {"attributes": HIDDEN}, False),
        ("{attributes: readonly}", {"attributes": 0x1}, True),
        # flags
        ("{duplicate: true}", {"duplicate": True}, True),
        ("{duplicate: true}", {"duplicate": False}, False),
        ("{duplicate: false}", {"duplicate": False}, True),
        ("{on_hold: true}", {"on_hold": True}, True),
        ("{on_hold: false}", {"on_hold": True}, False),
        # conditions are ANDed
        ("{name: '*.tmp', size: {under: 1MB}}", {"path": "a.tmp", "size": 10}, True),
        ("{name: '*.tmp', size: {under: 1MB}}", {"path": "a.tmp", "size": 2 * 1024**2}, False),
        ("{}", {}, True),
    ],
)
def test_each_condition(tmp_path, when, fields, expected):
    compiled = one_rule(tmp_path, when)
    decision = decide(record(**fields), compiled)
    assert (decision.rule == 0) is expected
    assert decision.action == ("review" if expected else "hold")


def test_access_time_is_refused_unless_the_source_trusts_it(tmp_path):
    with pytest.raises(PolicyError) as caught:
        one_rule(tmp_path, "{accessed: {older_than: 2y}}")
    assert str(caught.value) == (
        f"{tmp_path / 'policy.yaml'}:3:47: R1 judges last access time (accessed), which this "
        "source does not record reliably: scanners, antivirus and backups touch it. Fix: use "
        "modified or created instead, or set trust_access_time = true under [source] in "
        "hdrive.toml if the file server keeps access times"
    )
    compiled = one_rule(tmp_path, "{accessed: {older_than: 2y}}", atime=True)
    old = midnight_utc(date(2024, 1, 1)) - 1
    assert decide(record(accessed=old), compiled).rule == 0
    assert decide(record(accessed=old + 1), compiled).rule == 1


def test_ages_are_measured_from_the_date_given_not_the_clock(tmp_path):
    modified = midnight_utc(date(2019, 6, 1))
    assert (
        decide(
            record(modified=modified),
            one_rule(tmp_path, "{modified: {older_than: 6y}}", as_of=date(2025, 6, 2)),
        ).rule
        == 0
    )
    assert (
        decide(
            record(modified=modified),
            one_rule(tmp_path, "{modified: {older_than: 6y}}", as_of=date(2025, 6, 1)),
        ).rule
        == 1
    )


def test_guards_come_first_wherever_they_are_written(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: R1, description: all, when: {}, action: migrate, label: L}\n"
        "  - {id: R2, description: big, when: {size: {over: 1KB}}, action: exclude}\n"
        "guards:\n"
        "  - {id: G1, description: held, when: {on_hold: true}, action: hold}\n"
        "policy: {id: p, version: 2.1.0, approved_by: [RM], effective: 2026-01-01, "
        "labels: [L]}\n"
        "default: review\n"
    )
    compiled = compile_policy(load_policy(path), AS_OF, atime_trusted=False)
    assert [(r.index, r.id, r.kind, r.action, r.label, r.line) for r in compiled.rules] == [
        (0, "G1", "guard", "hold", None, 5),
        (1, "R1", "rule", "migrate", "L", 2),
        (2, "R2", "rule", "exclude", None, 3),
        (3, "default", "default", "review", None, 7),
    ]
    assert (compiled.policy_id, compiled.version) == ("p", "2.1.0")
    assert compiled.sha256 == load_policy(path).sha256
    held = decide(record(size=5000, on_hold=True), compiled)
    assert held == ("hold", 0, 0b111, None)
    assert compiled.ids_of(held.matched) == ["G1", "R1", "R2"]
    assert decide(record(size=5000), compiled) == ("migrate", 1, 0b110, "L")


def test_the_default_decides_when_nothing_matches(tmp_path):
    compiled = one_rule(tmp_path, "{name: '*.tmp'}")
    assert decide(record(path="a.doc"), compiled) == ("hold", 1, 0, None)
    assert compiled.ids_of(0) == []


def test_the_folder_cache_may_be_emptied_without_changing_decisions(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_module, "MAX_CACHED_FOLDERS", 1)
    compiled = one_rule(tmp_path, "{path: ['**/Exhibits/**', 'Docs/*.tmp']}")
    paths = ["Exhibits/a", "Docs/a.tmp", "x/y", "Exhibits/b", "Docs/b.doc", "Docs/c.TMP"]
    assert [decide(record(path=p), compiled).rule for p in paths] == [0, 0, 1, 0, 1, 0]


def test_the_shipped_policy_decides_as_its_authors_meant():
    compiled = compile_policy(load_policy(SHIPPED), AS_OF, atime_trusted=False)
    ids = {rule.id: rule.index for rule in compiled.rules}
    seven_years = midnight_utc(date(2019, 1, 1))
    old_evidence = decide(record("Operation Falcon/old.docx", modified=seven_years), compiled)
    assert (old_evidence.action, old_evidence.rule) == ("divert_evidence", ids["G3"])
    assert old_evidence.matched >> ids["R7"] & 1  # the disposal rule matched, and lost
    people = decide(record("HR/Sickness/x.docx", modified=seven_years), compiled)
    assert people == ("migrate", ids["R6"], people.matched, "People records")


# --- Properties: the generated decider against a plain evaluator written from the spec ---

ALPHABET = "aAbBxX.é É_-~$ 1"
COMPONENTS = [
    "Exhibits",
    "exhibits",
    "Docs",
    "a",
    "b",
    "x.tmp",
    "Thumbs.db",
    "~$x.docx",
    "Report.DOCX",
    "IMG_1.jpg",
    "y.tar.gz",
    ".bashrc",
    "Operation Ab",
    "ab",
    "ax",
    "sickness log.xlsx",
    "CR123456 a.pdf",
    "[a]",
    "é",
]
GLOB_POOL = [
    "*.tmp",
    "Thumbs.db",
    "**/Exhibits/**",
    "Exhibits/**",
    "Docs/*.docx",
    "*",
    "**",
    "**/*ab*/**",
    "a/**/b*",
    "a**/b",
    "a**",
    "[ab]*",
    "[!a]/x",
    "a?",
    "/a",
    "a/",
    "*a*",
    "~$*",
    "Operation */**",
    "**/x.tmp",
    "a/*/b",
    "**/a**",
    "*/**",
    "É*",
    "*.TMP",
    "docs/**/*",
    "**/**",
    "[a]",
]
TOKENS = ["a", "b", "A", "x", "*", "**", "?", "/", ".", "é", "[ab]", "[!a]", "[/]", "$", "~"]


def valid_glob(glob: str, name_only: bool) -> bool:
    return bool(glob.strip("/")) and "//" not in glob and not (name_only and "/" in glob)


def globs(name_only: bool):
    made = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map("".join)
    return (st.sampled_from(GLOB_POOL) | made).filter(lambda g: valid_glob(g, name_only))


def maybe(strategy):
    return st.one_of(st.none(), st.none(), strategy)


def bounded(kind, values):
    """A range with at least one bound, as the parser requires."""
    return st.builds(kind, maybe(values), maybe(values)).filter(lambda r: r != (None, None))


SIZES = st.sampled_from([0, 1, 1023, 1024, 1025, 1024**2]) | st.integers(0, 2 * 1024**2)
AGES = st.builds(Age, st.integers(0, 8), st.sampled_from("dwmy"))
TIMES = st.none() | st.builds(
    lambda age, offset: age.cutoff(AS_OF) + offset, AGES, st.sampled_from([-1, 0, 1])
)
WHENS = st.builds(
    When,
    path=maybe(st.lists(globs(False), min_size=1, max_size=3).map(tuple)),
    name=maybe(st.lists(globs(True), min_size=1, max_size=3).map(tuple)),
    extension=maybe(
        st.frozensets(st.sampled_from(["tmp", "docx", "gz", "jpg", "é", "a"]), min_size=1)
    ),
    size=maybe(bounded(SizeRange, SIZES)),
    modified=maybe(bounded(AgeRange, AGES)),
    created=maybe(bounded(AgeRange, AGES)),
    accessed=maybe(bounded(AgeRange, AGES)),
    attributes=maybe(st.frozensets(st.sampled_from(ATTRIBUTES), min_size=1)),
    duplicate=maybe(st.booleans()),
    on_hold=maybe(st.booleans()),
)
PATHS = st.lists(
    st.sampled_from(COMPONENTS) | st.text(ALPHABET, min_size=1, max_size=5), min_size=1, max_size=4
).map("/".join)
RECORDS = st.builds(
    FileRecord,
    upn=st.just("u@contoso.test"),
    path=PATHS,
    size=SIZES,
    modified=TIMES,
    created=TIMES,
    accessed=TIMES,
    attributes=st.integers(0, 0x1FFF),
    on_hold=st.booleans(),
    duplicate=st.booleans(),
)


def make_policy(guards: list[tuple[When, str]], rules: list[tuple[When, str]]) -> Policy:
    def entry(kind: str, index: int, when: When, action: str) -> Rule:
        label = "L" if action == "migrate" and index % 2 else None
        return Rule(f"{kind[0].upper()}{index}", kind, "d", when, action, label, Span(1, 1))

    return Policy(
        "p.yaml",
        "0" * 64,
        "p",
        "1.0.0",
        ("RM",),
        AS_OF,
        ("L",),
        tuple(entry("guard", i, when, action) for i, (when, action) in enumerate(guards)),
        tuple(entry("rule", i, when, action) for i, (when, action) in enumerate(rules)),
        "review",
        Span(1, 1),
    )


POLICIES = st.builds(
    make_policy,
    st.lists(st.tuples(WHENS, st.sampled_from(GUARD_ACTIONS)), max_size=3),
    st.lists(st.tuples(WHENS, st.sampled_from(ACTIONS)), max_size=6),
)


def reference_matches(when: When, rec: FileRecord) -> bool:
    """The spec, plainly: every given condition holds."""
    name = rec.path.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    extension = ext.lower() if dot and stem else ""
    checks = []
    if when.path is not None:
        checks.append(any(matches(glob, rec.path) for glob in when.path))
    if when.name is not None:
        checks.append(any(matches(glob, name) for glob in when.name))
    if when.extension is not None:
        checks.append(extension in when.extension)
    if when.size is not None:
        checks.append(when.size.over is None or rec.size > when.size.over)
        checks.append(when.size.under is None or rec.size < when.size.under)
    for field in ("modified", "created", "accessed"):
        ages, time = getattr(when, field), getattr(rec, field)
        if ages is not None:
            checks.append(time is not None)
            older, newer = ages.older_than, ages.newer_than
            checks.append(time is None or older is None or time < older.cutoff(AS_OF))
            checks.append(time is None or newer is None or time >= newer.cutoff(AS_OF))
    if when.attributes is not None:
        checks += [rec.attributes & ATTRIBUTE_BITS[name] != 0 for name in when.attributes]
    for flag in ("duplicate", "on_hold"):
        if getattr(when, flag) is not None:
            checks.append(getattr(rec, flag) == getattr(when, flag))
    return all(checks)


def reference_decide(policy: Policy, rec: FileRecord) -> tuple[str, int, int]:
    entries = (*policy.guards, *policy.rules)
    hits = [i for i, rule in enumerate(entries) if reference_matches(rule.when, rec)]
    guard_hits = [i for i in hits if i < len(policy.guards)]
    deciding = (guard_hits or hits or [len(entries)])[0]
    action = entries[deciding].action if deciding < len(entries) else policy.default
    return action, deciding, sum(1 << i for i in hits)


def compiled(policy: Policy) -> CompiledPolicy:
    return compile_policy(policy, AS_OF, atime_trusted=True)


@settings(max_examples=300, deadline=None)
@given(POLICIES, st.lists(RECORDS, min_size=1, max_size=15))
def test_the_fast_decider_agrees_with_the_plain_evaluator(policy, records):
    fast = compiled(policy)
    for rec in records:
        decision = decide(rec, fast)
        assert decision[:3] == reference_decide(policy, rec), rec


@settings(max_examples=200, deadline=None)
@given(POLICIES, st.lists(RECORDS, min_size=1, max_size=10))
def test_decisions_keep_the_model_promises(policy, records):
    fast = compiled(policy)
    guards = len(policy.guards)
    default = len(policy.guards) + len(policy.rules)
    for rec in records:
        decision = decide(rec, fast)
        # exactly one decision, by one rule, whose action and label it carries
        assert 0 <= decision.rule <= default and decision.action in ACTIONS
        assert (decision.action, decision.label) == (
            fast.rules[decision.rule].action,
            fast.rules[decision.rule].label,
        )
        # the deciding bit is set (the default decides only when nothing matched)
        assert (
            decision.matched >> decision.rule & 1
            if decision.rule < default
            else (decision.matched == 0)
        )
        # a guard beats any rule, and nothing a guard matched is disposed of
        if decision.matched & ((1 << guards) - 1):
            assert decision.rule < guards and decision.action in GUARD_ACTIONS
        assert decision.matched < 1 << 63


@settings(max_examples=100, deadline=None)
@given(POLICIES, st.lists(RECORDS, min_size=1, max_size=10))
def test_compiling_and_deciding_again_give_the_same_answers(policy, records):
    first, second = compiled(policy), compiled(policy)
    assert [decide(rec, first) for rec in records] == [decide(rec, second) for rec in records]
    assert [decide(rec, first) for rec in records] == [decide(rec, first) for rec in records]


@settings(max_examples=300, deadline=None)
@given(st.lists(RECORDS, min_size=1, max_size=20))
def test_the_shipped_policy_agrees_with_the_plain_evaluator(records):
    policy = load_policy(SHIPPED)
    fast = compile_policy(policy, AS_OF, atime_trusted=False)
    for rec in records:
        assert decide(rec, fast)[:3] == reference_decide(policy, rec), rec
