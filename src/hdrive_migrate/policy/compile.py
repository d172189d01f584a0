"""A policy compiled for one plan: age cut-offs fixed from the reference date, and every guard
and rule turned into one generated Python function that returns the matched-rules mask.

The generated source is built only from fixed templates, rule indexes and the names of
constants bound in its namespace; no text from the policy file is ever placed in it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from hdrive_migrate.policy.matchers import (
    ROOT,
    NameSet,
    alternation,
    name_set,
    split_path_globs,
)
from hdrive_migrate.policy.parse import (
    ATTRIBUTE_BITS,
    DEFAULT_RULE_ID,
    AgeRange,
    Policy,
    PolicyError,
    Rule,
    When,
)
from hdrive_migrate.policy.record import Decision, FileRecord

# Folders are few next to files, and one user's files come folder by folder: a cache this size
# keeps nearly every hit and, refilled as users come, stays a megabyte or two at any size.
MAX_CACHED_FOLDERS = 10_000


@dataclass(frozen=True)
class CompiledRule:
    """A guard, rule or the default as a plan records it; `index` is its bit in a mask."""

    index: int
    id: str
    kind: str  # 'guard', 'rule' or 'default'
    action: str
    label: str | None
    description: str
    line: int


class CompiledPolicy:
    """A policy ready for `decide`: guards first, then rules, both in file order, then the
    default at index len(guards) + len(rules). Build it with `compile_policy`."""

    def __init__(
        self,
        policy: Policy,
        as_of: date,
        rules: tuple[CompiledRule, ...],
        match: Callable[[FileRecord], int],
    ) -> None:
        self.policy = policy
        self.as_of = as_of
        self.rules = rules
        self.match = match  # record -> the mask of every guard and rule it matches
        self.decisions: dict[int, Decision] = {}  # by mask: few distinct masks recur

    @property
    def policy_id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def sha256(self) -> str:
        return self.policy.sha256

    def ids_of(self, mask: int) -> list[str]:
        """The ids of the guards and rules whose bits are set in MASK, in index order."""
        return [rule.id for rule in self.rules[:-1] if mask >> rule.index & 1]

    def decision_for(self, mask: int) -> Decision:
        """The decision for a file matching MASK: its lowest set bit (guards have the lowest
        indexes, so a matching guard always wins), else the default."""
        rule = self.rules[(mask & -mask).bit_length() - 1] if mask else self.rules[-1]
        decision = Decision(rule.action, rule.index, mask, rule.label)
        self.decisions[mask] = decision
        return decision


def compile_policy(policy: Policy, as_of: date, *, atime_trusted: bool) -> CompiledPolicy:
    """POLICY ready to decide, with ages measured back from AS_OF.

    Raises PolicyError, naming the rule and where it is written, when a rule judges last access
    time (`accessed`) and the source does not keep it reliably (ATIME_TRUSTED false)."""
    entries = (*policy.guards, *policy.rules)
    refused = [] if atime_trusted else access_time_errors(policy)
    if refused:
        raise refused[0]
    rules = tuple(
        CompiledRule(
            index, rule.id, rule.kind, rule.action, rule.label, rule.description, rule.at.line
        )
        for index, rule in enumerate(entries)
    )
    default = CompiledRule(
        len(entries),
        DEFAULT_RULE_ID,
        "default",
        policy.default,
        None,
        "No rule matched",
        policy.default_at.line,
    )
    return CompiledPolicy(policy, as_of, (*rules, default), _Generator(as_of).function(entries))


def access_time_errors(policy: Policy) -> list[PolicyError]:
    """An error for each guard or rule that judges last access time (`accessed`), for a
    source that does not record it reliably."""
    errors = []
    for rule in (*policy.guards, *policy.rules):
        if rule.when.accessed is not None:
            at = rule.when.at["accessed"]
            errors.append(
                PolicyError(
                    f"{rule.id} judges last access time (accessed), which this source does not "
                    "record reliably: scanners, antivirus and backups touch it",
                    fix="use modified or created instead, or set trust_access_time = true under "
                    "[source] in hdrive.toml if the file server keeps access times",
                    file=policy.file,
                    line=at.line,
                    col=at.col,
                )
            )
    return errors


class _Generator:
    """Writes the mask function. Conditions are tested cheapest first, since a rule's test
    stops at the first condition that fails."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.namespace: dict[str, object] = {}
        self.folder_tests: list[re.Pattern[str] | str] = []

    def function(self, entries: tuple[Rule, ...]) -> Callable[[FileRecord], int]:
        tests = [self.rule_test(rule.when) for rule in entries]
        lines = ["def match(record):", *_PROLOGUE]
        if self.folder_tests:
            lines += _FOLDER_STATE
        lines.append("    mask = 0")
        for index, test in enumerate(tests):
            if test is None:
                lines.append(f"    mask |= {1 << index}")
            else:
                lines += [f"    if {test}:", f"        mask |= {1 << index}"]
        lines.append("    return mask")
        self.namespace["_states"] = states = {}
        self.namespace["_state_of"] = _folder_state_function(self.folder_tests, states)
        exec("\n".join(lines), self.namespace)  # fixed templates: see the module doc
        return self.namespace["match"]

    def constant(self, value: object) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def rule_test(self, when: When) -> str | None:
        """An expression true when a record meets every condition of WHEN; None for none."""
        tests = sorted(self.condition_tests(when), key=lambda ranked: ranked[0])
        return " and ".join(test for _, test in tests) or None

    def condition_tests(self, when: When) -> list[tuple[int, str]]:
        """(cost rank, expression) for each condition of WHEN."""
        tests = []
        for flag in ("on_hold", "duplicate"):
            value = getattr(when, flag)
            if value is not None:
                tests.append((0, flag if value else f"not {flag}"))
        if when.attributes is not None:
            bits = self.constant(sum(ATTRIBUTE_BITS[name] for name in when.attributes))
            tests.append((1, f"attributes & {bits} == {bits}"))
        if when.size is not None:
            tests.append((1, self.size_test(when.size.over, when.size.under)))
        for field in ("modified", "created", "accessed"):
            ages = getattr(when, field)
            if ages is not None:
                tests.append((1, self.age_test(field, ages)))
        if when.extension is not None:
            tests.append((2, f"ext in {self.constant(when.extension)}"))
        if when.name is not None:
            tests.append((3, self.name_test(name_set(list(when.name)))))
        if when.path is not None:
            tests.append((4, self.path_test(when.path)))
        return tests

    def size_test(self, over: int | None, under: int | None) -> str:
        tests = [] if over is None else [f"size > {self.constant(over)}"]
        tests += [] if under is None else [f"size < {self.constant(under)}"]
        return " and ".join(tests)

    def age_test(self, field: str, ages: AgeRange) -> str:
        """Unknown times (None) never match, so the None test must come first."""
        tests = [f"{field} is not None"]
        if ages.older_than is not None:
            tests.append(f"{field} < {self.constant(ages.older_than.cutoff(self.as_of))}")
        if ages.newer_than is not None:
            tests.append(f"{field} >= {self.constant(ages.newer_than.cutoff(self.as_of))}")
        return " and ".join(tests)

    def name_test(self, names: NameSet, subject: str = "name") -> str:
        """An expression true when SUBJECT (a lower-cased name) is in NAMES."""
        tests = []
        if names.equals:
            tests.append(f"{subject} in {self.constant(names.equals)}")
        if names.prefixes:
            tests.append(f"{subject}.startswith({self.constant(names.prefixes)})")
        if names.suffixes:
            tests.append(f"{subject}.endswith({self.constant(names.suffixes)})")
        tests += [f"{self.constant(text)} in {subject}" for text in names.contains]
        if names.pattern is not None:
            tests.append(f"{self.constant(names.pattern.fullmatch)}({subject}) is not None")
        return f"({' or '.join(tests)})"

    def path_test(self, globs: tuple[str, ...]) -> str:
        """An expression true when the lower-cased path matches any of GLOBS: folder parts
        come from the per-folder state, name parts are string tests, and globs with no
        such form are matched whole."""
        folders, names, both, whole = split_path_globs(globs)
        tests = [f"state[{self.folder_slot(folders)}]"] if folders else []
        tests += [
            f"(state[{self.folder_slot([folder])}] and {self.name_test(name_set(group))})"
            for folder, group in both.items()
        ]
        if names:
            tests.append(self.name_test(name_set(names)))
        if whole:
            tests.append(f"{self.constant(alternation(whole).fullmatch)}(path) is not None")
        return f"({' or '.join(tests)})"

    def folder_slot(self, folders: list[str]) -> int:
        """The index in the folder state of a test true when a folder is any of FOLDERS."""
        test = ROOT if folders == [ROOT] else alternation(folders)
        self.folder_tests.append(test)
        return len(self.folder_tests) - 1


# The record's values, derived once: lower-cased path, folder, name and extension (what
# follows the name's last dot, unless the dot starts the name).
_PROLOGUE = [
    "    _, path, size, modified, created, accessed, attributes, on_hold, duplicate = record",
    "    path = path.lower()",
    "    folder, _, name = path.rpartition('/')",
    "    dot = name.rfind('.')",
    "    ext = name[dot + 1:] if dot > 0 else ''",
]
_FOLDER_STATE = [
    "    state = _states.get(folder)",
    "    if state is None:",
    "        state = _state_of(folder)",
]


def _folder_state_function(
    tests: list[re.Pattern[str] | str], states: dict[str, tuple[bool, ...]]
) -> Callable[[str], tuple[bool, ...]]:
    """A function giving, and caching in STATES, the result of each folder test for a
    lower-cased folder ('' is the root, which only the ROOT test passes)."""

    def state_of(folder: str) -> tuple[bool, ...]:
        state = tuple(
            folder == ROOT if test == ROOT else folder != ROOT and bool(test.fullmatch(folder))
            for test in tests
        )
        if len(states) >= MAX_CACHED_FOLDERS:
            states.clear()
        states[folder] = state
        return state

    return state_of
