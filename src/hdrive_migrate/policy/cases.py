"""Records managers' regression cases for a policy, run like `opa test`.

A cases file (see policies/personal-files.cases.yaml):

    as_of: 2026-01-01          # optional: the reference date; default the policy's effective
    cases:
      - path: Documents/Old/minutes.docx     # relative to the H: root, '/' between folders
        size: 20KB                           # required; units as in policies (1KB = 1024)
        modified: 7y                         # an age before as_of, or a date / date-time
        created: 2019-03-01                  # optional, like accessed; absent is unknown
        attributes: [hidden]                 # optional: hidden, system, readonly, offline
        on_hold: false                       # optional, default false; so is duplicate
        expect: {action: dispose_after_approval, rule: R7}   # rule optional ('default' too)

A date is midnight UTC at its start; a date-time without a zone is UTC. An age such as 7y
puts the time exactly that long before midnight UTC at the start of as_of (so 6y is not
"older than 6y": ages in policies are strict).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from yaml.nodes import Node, ScalarNode

from hdrive_migrate.policy.compile import CompiledPolicy, access_time_errors, compile_policy
from hdrive_migrate.policy.decide import decide
from hdrive_migrate.policy.located import STR, PolicyError, Reader, node_text, read_yaml, suggest
from hdrive_migrate.policy.parse import (
    ATTRIBUTE_BITS,
    ATTRIBUTES,
    DEFAULT_RULE_ID,
    read_policy,
    read_size,
)
from hdrive_migrate.policy.record import ACTIONS, FileRecord
from hdrive_migrate.policy.units import midnight_utc, parse_age

CASE_KEYS = (
    "path",
    "size",
    "modified",
    "created",
    "accessed",
    "attributes",
    "on_hold",
    "duplicate",
    "expect",
)


@dataclass(frozen=True)
class Case:
    line: int
    record: FileRecord
    action: str
    rule: str | None


@dataclass(frozen=True)
class CaseResult:
    """One case run: what it expected and what the policy decided."""

    file: str
    line: int
    path: str
    expected: str  # action, with the rule in brackets when the case names one
    got: str  # action (rule)
    passed: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: expected {self.expected}, got {self.got}"


@dataclass
class CaseReport:
    """Every case's result, or the errors that stopped the cases from running."""

    results: list[CaseResult] = field(default_factory=list)
    errors: list[PolicyError] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        failed = len(self.failures)
        return f"{len(self.results) - failed} passed, {failed} failed"


def run_cases(policy_path: Path, cases_path: Path, *, atime_trusted: bool) -> CaseReport:
    """Run every case in CASES_PATH against the policy in POLICY_PATH. Mistakes in either
    file (or `accessed` in a policy for a source that does not trust it) come back as
    `errors`, every one of them, and then no case is run."""
    policy, errors = read_policy(policy_path)
    if policy is None:
        return CaseReport(errors=errors)
    refused = [] if atime_trusted else access_time_errors(policy)
    if refused:
        return CaseReport(errors=refused)
    ids = [rule.id for rule in (*policy.guards, *policy.rules)] + [DEFAULT_RULE_ID]
    as_of, cases, errors = read_cases(cases_path, ids, default_as_of=policy.effective)
    if errors:
        return CaseReport(errors=errors)
    compiled = compile_policy(policy, as_of, atime_trusted=atime_trusted)
    return CaseReport(results=[_run(str(cases_path), case, compiled) for case in cases])


def _run(file: str, case: Case, compiled: CompiledPolicy) -> CaseResult:
    decision = decide(case.record, compiled)
    rule = compiled.rules[decision.rule].id
    passed = decision.action == case.action and case.rule in (None, rule)
    expected = case.action if case.rule is None else f"{case.action} ({case.rule})"
    return CaseResult(
        file, case.line, case.record.path, expected, f"{decision.action} ({rule})", passed
    )


def read_cases(
    path: Path, rule_ids: list[str], *, default_as_of: date
) -> tuple[date, list[Case], list[PolicyError]]:
    """(as_of, cases, []) for a valid cases file, else (…, [], every error in file order).
    RULE_IDS are those an `expect.rule` may name."""
    reader = Reader(str(path))
    _, root = read_yaml(Path(path), reader)
    as_of, cases = default_as_of, []
    top = (
        None
        if root is None
        else reader.mapping(root, "the cases file", ("as_of", "cases"), required=("cases",))
    )
    if top is not None and "as_of" in top:
        as_of = reader.day(top["as_of"], "as_of", "2026-01-01") or default_as_of
    if top is not None and "cases" in top:
        cases = _CaseParser(reader, as_of, rule_ids).cases(top["cases"])
    errors = sorted(reader.errors, key=lambda error: (error.line or 0, error.col or 0))
    return as_of, ([] if errors else cases), errors


class _CaseParser:
    def __init__(self, reader: Reader, as_of: date, rule_ids: list[str]) -> None:
        self.r = reader
        self.as_of = as_of
        self.rule_ids = rule_ids

    def cases(self, node: Node) -> list[Case]:
        items = self.r.sequence(
            node, "cases", "[{path: a.docx, size: 1KB, expect: {action: migrate}}]"
        )
        if items == []:
            self.r.error(node, "there are no cases", "add at least one case")
        return [case for case in map(self.case, items or []) if case is not None]

    def case(self, node: Node) -> Case | None:
        keys = self.r.mapping(node, "a case", CASE_KEYS, required=("path", "size", "expect"))
        if keys is None or any(key not in keys for key in ("path", "size", "expect")):
            return None
        values = {
            "path": self.path(keys["path"]),
            "size": read_size(self.r, keys["size"], "size"),
            **{
                key: self.time(keys[key], key) if key in keys else None
                for key in ("modified", "created", "accessed")
            },
            "attributes": self.attributes(keys["attributes"]) if "attributes" in keys else 0,
            **{
                key: self.r.boolean(keys[key], key) if key in keys else False
                for key in ("on_hold", "duplicate")
            },
        }
        expected = self.expect(keys["expect"])
        given = {key: value for key, value in values.items() if key in keys}
        if expected is None or None in given.values():
            return None
        return Case(node.start_mark.line + 1, FileRecord(upn="", **values), *expected)

    def path(self, node: Node) -> str | None:
        path = self.r.string(node, "path", "Documents/minutes.docx")
        if path is not None and ("\\" in path or path.startswith("/") or "//" in path):
            self.r.error(
                node,
                f"path {path!r} is not relative to the H: root with / between folders",
                "write it like Documents/Old/minutes.docx",
            )
            return None
        return path

    def time(self, node: Node, what: str) -> float | None:
        """POSIX seconds for an age before as_of, a date or a date-time."""
        instant = self.r.instant(node)
        if isinstance(instant, datetime):
            aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
            return aware.timestamp()
        if instant is not None:
            return midnight_utc(instant)
        age = parse_age(node.value) if isinstance(node, ScalarNode) and node.tag == STR else None
        if age is None:
            self.r.error(
                node,
                f"{what} {node_text(node)} is neither an age nor a date",
                "write an age before as_of or a date, e.g. 7y or 2019-03-01",
            )
            return None
        return age.cutoff(self.as_of)

    def attributes(self, node: Node) -> int | None:
        names = self.r.strings(node, "attributes", "[hidden, system]")
        if names is None:
            return None
        bad = next((name for name in names if name.lower() not in ATTRIBUTES), None)
        if bad is not None:
            self.r.error(
                node, f"{bad!r} is not an attribute", suggest(bad.lower(), ATTRIBUTES, "attributes")
            )
            return None
        return sum({ATTRIBUTE_BITS[name.lower()] for name in names})

    def expect(self, node: Node) -> tuple[str, str | None] | None:
        keys = self.r.mapping(node, "expect", ("action", "rule"), required=("action",))
        if keys is None or "action" not in keys:
            return None
        action = self.r.string(keys["action"], "expect action", "migrate")
        if action is not None and action not in ACTIONS:
            self.r.error(
                keys["action"], f"{action!r} is not an action", suggest(action, ACTIONS, "actions")
            )
            action = None
        rule = self.rule(keys["rule"]) if "rule" in keys else None
        if action is None or rule is False:
            return None
        return action, rule

    def rule(self, node: Node) -> str | bool:
        """The rule id as the policy spells it; False when the policy has no such rule."""
        rule = self.r.string(node, "expect rule", "R1")
        if rule is None:
            return False
        spelled = {rule_id.lower(): rule_id for rule_id in self.rule_ids}
        if rule.lower() not in spelled:
            self.r.error(
                node,
                f"the policy has no rule {rule!r}",
                suggest(rule, tuple(self.rule_ids), "its guards and rules"),
            )
            return False
        return spelled[rule.lower()]
