"""Mistakes a valid policy can still hold: rules that can never decide, labels nobody uses or
the tenant lacks, a catch-all destructive rule, and no guard for the hold register. (A label
a rule applies but the policy does not list is already a parse error.)

A destructive rule (exclude, dispose_after_approval) with `when: {}` is reported even when it
is last and so shadows no rule: it silently replaces the fail-safe default.

Shadowing is found where it can be proved from the text alone: an earlier entry E shadows a
later one L when every condition of E is also in L and L's value is as tight or tighter, so
every file L matches E matches too. That covers an earlier `when: {}`; a glob or extension
list that is a subset of the earlier one's (globs compared as written, ignoring case); a size
or age range inside the earlier one (ages compared when both count months/years or both
days/weeks); the earlier one's attributes a subset of the later one's; equal duplicate and
on_hold. Overlaps that need the globs' meaning (say `*.tmp` against `~$*.tmp`) are not found.
"""

from dataclasses import dataclass, field
from pathlib import Path

from hdrive_migrate.policy.compile import access_time_errors
from hdrive_migrate.policy.parse import (
    AgeRange,
    Policy,
    PolicyError,
    Rule,
    SizeRange,
    When,
    read_policy,
)
from hdrive_migrate.policy.units import Age

DESTRUCTIVE = ("exclude", "dispose_after_approval")


@dataclass(frozen=True)
class LintFinding:
    """One finding; `str()` is `FILE:LINE: severity: what. Fix: how`."""

    file: str
    line: int
    severity: str  # 'error' (must be fixed before planning) or 'warning'
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.what}. Fix: {self.fix}"


@dataclass
class CheckReport:
    """What `policy check` reports: errors that stop the policy being used, then findings."""

    policy: Policy | None
    errors: list[PolicyError] = field(default_factory=list)
    findings: list[LintFinding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(f.severity == "error" for f in self.findings)

    def lines(self) -> list[str]:
        return [str(problem) for problem in (*self.errors, *self.findings)]

    def summary(self) -> str:
        errors = len(self.errors) + sum(f.severity == "error" for f in self.findings)
        warnings = sum(f.severity == "warning" for f in self.findings)
        name = f"{self.policy.id} {self.policy.version}" if self.policy else "policy"
        return f"{name}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"


def check_file(path: Path, *, atime_trusted: bool) -> CheckReport:
    """Every error in the policy file PATH (including `accessed` when the source does not
    trust access times) and, when it has none, every lint finding."""
    policy, errors = read_policy(path)
    if policy is None:
        return CheckReport(None, errors)
    refused = [] if atime_trusted else access_time_errors(policy)
    return CheckReport(policy, refused, lint(policy))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def lint(policy: Policy, known_labels: set[str] | None = None) -> list[LintFinding]:
    """Findings for POLICY in line order. KNOWN_LABELS, when given, are the retention labels
    the tenant has; a label the policy applies that is not among them is an error."""
    findings = [
        *_shadowed(policy),
        *_catch_all_destructive(policy),
        *_unused_labels(policy),
        *_unknown_labels(policy, known_labels),
        *_no_hold_guard(policy),
    ]
    return sorted(findings, key=lambda finding: finding.line)


def _finding(policy: Policy, line: int, what: str, fix: str, severity: str = "warning"):
    return LintFinding(policy.file, line, severity, what, fix)


def _shadowed(policy: Policy) -> list[LintFinding]:
    """A guard shadowed by an earlier guard; a rule shadowed by any guard or earlier rule."""
    findings = []
    for later_list, earlier_of in (
        (policy.guards, lambda index: policy.guards[:index]),
        (policy.rules, lambda index: (*policy.guards, *policy.rules[:index])),
    ):
        for index, later in enumerate(later_list):
            earlier = next((e for e in earlier_of(index) if covers(e.when, later.when)), None)
            if earlier is not None:
                findings.append(_shadow_finding(policy, earlier, later))
    return findings


def _shadow_finding(policy: Policy, earlier: Rule, later: Rule) -> LintFinding:
    return _finding(
        policy,
        later.at.line,
        f"{later.kind} {later.id} can never decide: {earlier.kind} {earlier.id} (line "
        f"{earlier.at.line}) matches every file it matches",
        f"narrow {earlier.id}, move {later.id} above it, or remove {later.id}"
        if later.kind == earlier.kind
        else f"narrow guard {earlier.id}, or remove {later.id}",
    )


def covers(earlier: When, later: When) -> bool:
    """True when EARLIER provably matches every file LATER matches (see the module doc)."""
    later_given = later.given()
    return all(
        key in later_given and _COVERS[key](getattr(earlier, key), getattr(later, key))
        for key in earlier.given()
    )


def _globs_cover(earlier: tuple[str, ...], later: tuple[str, ...]) -> bool:
    return {glob.lower() for glob in later} <= {glob.lower() for glob in earlier}


def _size_covers(earlier: SizeRange, later: SizeRange) -> bool:
    over = earlier.over is None or (later.over is not None and later.over >= earlier.over)
    return over and (
        earlier.under is None or (later.under is not None and later.under <= earlier.under)
    )


def _ages_cover(earlier: AgeRange, later: AgeRange) -> bool:
    older = earlier.older_than is None or _at_least(later.older_than, earlier.older_than)
    return older and (earlier.newer_than is None or _at_least(earlier.newer_than, later.newer_than))


def _at_least(age: Age | None, other: Age | None) -> bool:
    """AGE is provably at least OTHER whatever the reference date."""
    if age is None or other is None or age.span()[0] != other.span()[0]:
        return False
    return age.span()[1] >= other.span()[1]


_COVERS = {
    "path": _globs_cover,
    "name": _globs_cover,
    "extension": lambda earlier, later: later <= earlier,
    "size": _size_covers,
    "modified": _ages_cover,
    "created": _ages_cover,
    "accessed": _ages_cover,
    "attributes": lambda earlier, later: earlier <= later,
    "duplicate": lambda earlier, later: earlier == later,
    "on_hold": lambda earlier, later: earlier == later,
}


def _catch_all_destructive(policy: Policy) -> list[LintFinding]:
    """A destructive rule with no conditions shadows no rule when it is last, yet replaces the
    fail-safe default: every file nothing else matched would be excluded or disposed of."""
    return [
        _finding(
            policy,
            rule.at.line,
            f"{rule.id} would {rule.action} every file no earlier rule matches, so the default "
            f"({policy.default}) is never reached",
            f"give {rule.id} conditions naming what to {rule.action}",
        )
        for rule in policy.rules
        if rule.action in DESTRUCTIVE and not rule.when.given()
    ]


def _used_labels(policy: Policy) -> dict[str, Rule]:
    return {rule.label: rule for rule in reversed(policy.rules) if rule.label is not None}


def _unused_labels(policy: Policy) -> list[LintFinding]:
    used = _used_labels(policy)
    return [
        _finding(
            policy,
            policy.at["labels"].line,
            f"label {label!r} is listed but no rule applies it",
            "remove it from labels, or add a migrate rule with this label",
        )
        for label in policy.labels
        if label not in used
    ]


def _unknown_labels(policy: Policy, known: set[str] | None) -> list[LintFinding]:
    if known is None:
        return []
    return [
        _finding(
            policy,
            rule.at.line,
            f"{rule.id} applies label {label!r}, which the tenant does not have",
            f"create the retention label in Purview, or use one of: {', '.join(sorted(known))}",
            severity="error",
        )
        for label, rule in _used_labels(policy).items()
        if label not in known
    ]


def _no_hold_guard(policy: Policy) -> list[LintFinding]:
    if any(guard.when.on_hold for guard in policy.guards):
        return []
    return [
        _finding(
            policy,
            policy.at["id"].line,
            "no guard holds files on the hold register, so rules could exclude or dispose of them",
            "add a first guard: {id: G1, description: Hold register, when: {on_hold: true}, "
            "action: hold}",
        )
    ]
