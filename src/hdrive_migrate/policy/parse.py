"""A policy file, read strictly: every mistake is reported with its FILE:LINE:COL and a fix.

The format (see policies/personal-files.yaml for a commented example):

    policy: {id, version (MAJOR.MINOR.PATCH), approved_by: [names], effective: date, labels}
    guards: [{id, description, when, action: hold | divert_evidence}]    # optional
    rules:  [{id, description, when, action, label (migrate only, listed in labels)}]
    default: review | hold | exclude

Conditions in `when` are ANDed; a list inside one condition is ORed. Sizes and ages are as
`hdrive_migrate.policy.units` documents; `over`, `under` and `older_than` are strict, so
`size: {under: 1B}` is an empty file and `newer_than` is "at or after the cut-off".
"""

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from yaml.nodes import Node, ScalarNode

from hdrive_migrate.globs import compile_glob
from hdrive_migrate.policy.located import (
    FLOAT,
    INT,
    STR,
    PolicyError,
    Reader,
    node_text,
    read_yaml,
    sha256,
    suggest,
)
from hdrive_migrate.policy.record import ACTIONS
from hdrive_migrate.policy.units import AGE_EXAMPLE, SIZE_EXAMPLE, Age, parse_age, parse_size
from hdrive_migrate.sources import HIDDEN, OFFLINE, READONLY, SYSTEM

__all__ = ["PolicyError", "check_policy", "load_policy", "read_policy"]

TOP_KEYS = ("policy", "guards", "rules", "default")
HEADER_KEYS = ("id", "version", "approved_by", "effective", "labels")
RULE_KEYS = ("id", "description", "when", "action", "label")
CONDITIONS = (
    "path",
    "name",
    "extension",
    "size",
    "modified",
    "created",
    "accessed",
    "attributes",
    "duplicate",
    "on_hold",
)
AGE_CONDITIONS = ("modified", "created", "accessed")
ATTRIBUTE_BITS = {"hidden": HIDDEN, "system": SYSTEM, "readonly": READONLY, "offline": OFFLINE}
ATTRIBUTES = tuple(ATTRIBUTE_BITS)
GUARD_ACTIONS = ("hold", "divert_evidence")
# The default must be fail-safe: nothing is ever migrated or disposed of without a rule saying so.
DEFAULT_ACTIONS = ("review", "hold", "exclude")
DEFAULT_RULE_ID = "default"
# The matched-rules mask must fit a signed 64-bit SQLite INTEGER.
MAX_RULES = 63
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_VERSION = re.compile(r"\d+\.\d+\.\d+")


class Span(NamedTuple):
    """Where something is written: line and column, counting from 1."""

    line: int
    col: int


class SizeRange(NamedTuple):
    """Bytes: over means size > over, under means size < under; None is no bound."""

    over: int | None
    under: int | None


class AgeRange(NamedTuple):
    """older_than: the time is before the cut-off; newer_than: at or after it."""

    older_than: Age | None
    newer_than: Age | None


@dataclass(frozen=True)
class When:
    """A rule's conditions; None means the condition is not given. Globs are as written;
    extensions are lower case without the dot; attributes are names from ATTRIBUTES."""

    path: tuple[str, ...] | None = None
    name: tuple[str, ...] | None = None
    extension: frozenset[str] | None = None
    size: SizeRange | None = None
    modified: AgeRange | None = None
    created: AgeRange | None = None
    accessed: AgeRange | None = None
    attributes: frozenset[str] | None = None
    duplicate: bool | None = None
    on_hold: bool | None = None
    at: dict[str, Span] = field(default_factory=dict, compare=False)  # condition -> its key

    def given(self) -> tuple[str, ...]:
        """The conditions present, in CONDITIONS order."""
        return tuple(key for key in CONDITIONS if getattr(self, key) is not None)


@dataclass(frozen=True)
class Rule:
    """A guard or a rule; `at` is where its entry starts."""

    id: str
    kind: str  # 'guard' or 'rule'
    description: str
    when: When
    action: str
    label: str | None
    at: Span


@dataclass(frozen=True)
class Policy:
    """A valid policy file. `sha256` is of the file's bytes, as recorded with decisions;
    `at` is where each key of the policy header's values is written."""

    file: str
    sha256: str
    id: str
    version: str
    approved_by: tuple[str, ...]
    effective: date
    labels: tuple[str, ...]
    guards: tuple[Rule, ...]
    rules: tuple[Rule, ...]
    default: str
    default_at: Span
    at: dict[str, Span] = field(default_factory=dict, compare=False)


def load_policy(path: Path) -> Policy:
    """The policy in PATH; raises the first PolicyError when it has any."""
    policy, errors = read_policy(path)
    if errors:
        raise errors[0]
    assert policy is not None
    return policy


def check_policy(path: Path) -> list[PolicyError]:
    """Every mistake in the policy file PATH, in file order; [] when it is valid."""
    return read_policy(path)[1]


def read_policy(path: Path) -> tuple[Policy | None, list[PolicyError]]:
    """(the policy, []) when PATH is valid, else (None, every error in file order)."""
    reader = Reader(str(path))
    data, root = read_yaml(Path(path), reader)
    if data is None or root is None:
        return None, reader.errors
    policy = _Parser(reader).policy(root, sha256(data))
    errors = sorted(reader.errors, key=lambda error: (error.line or 0, error.col or 0))
    return (None, errors) if errors else (policy, [])


class _Parser:
    """Builds a Policy from nodes; it returns None where a part is wrong, with the errors in
    the reader, and goes on so that every mistake is found."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.labels: tuple[str, ...] | None = None
        self.ids: dict[str, Span] = {}  # lower-cased id -> where it is first used

    def policy(self, root: Node, digest: str) -> Policy | None:
        top = self.r.mapping(
            root, "the policy file", TOP_KEYS, required=("policy", "rules", "default")
        )
        if top is None:
            return None
        header = self.header(top["policy"]) if "policy" in top else None
        guards = self.entries(top.get("guards"), "guard")
        rules = self.entries(top.get("rules"), "rule")
        default = self.default(top["default"]) if "default" in top else None
        if None in (header, guards, rules, default):
            return None
        self.check_limit(top["rules"], len(guards) + len(rules))
        mark = top["default"].start_mark
        return Policy(
            self.r.file,
            digest,
            **header,
            guards=guards,
            rules=rules,
            default=default,
            default_at=Span(mark.line + 1, mark.column + 1),
        )

    def header(self, node: Node) -> dict[str, object] | None:
        """The Policy fields from the `policy:` mapping."""
        keys = self.r.mapping(node, "policy", HEADER_KEYS, required=HEADER_KEYS)
        if keys is None:
            return None
        values = {
            "id": _each(keys, "id", self.identifier, "policy id"),
            "version": _each(keys, "version", self.version),
            "approved_by": _each(
                keys, "approved_by", self.r.strings, "approved_by", "[Head of Records]"
            ),
            "effective": _each(keys, "effective", self.r.day, "effective", "2026-01-01"),
            "labels": _each(keys, "labels", self.label_list),
        }
        return None if None in values.values() else values | {"at": _spans(keys)}

    def version(self, node: Node) -> str | None:
        # Read as written: YAML would make 1.0 a number and 1.0.0 text.
        if isinstance(node, ScalarNode) and _VERSION.fullmatch(node.value.strip()):
            return node.value.strip()
        self.r.error(
            node,
            f"version {node_text(node)} is not MAJOR.MINOR.PATCH",
            "write a semantic version such as 1.0.0",
        )
        return None

    def label_list(self, node: Node) -> tuple[str, ...] | None:
        items = self.r.sequence(node, "labels", "[Personal working files]")
        if items is None:
            return None
        labels = [self.r.string(item, "a label", "Personal working files") for item in items]
        for index, (item, label) in enumerate(zip(items, labels, strict=True)):
            if label is not None and label in labels[:index]:
                self.r.error(item, f"label {label!r} is listed twice", "list each label once")
                return None
        if None in labels:
            return None
        self.labels = tuple(labels)
        return self.labels

    def identifier(self, node: Node, what: str) -> str | None:
        value = self.r.string(node, what, "R1")
        if value is not None and not _ID.fullmatch(value):
            self.r.error(
                node,
                f"{what} {value!r} is not a short name",
                "use up to 40 letters, digits, '.', '-' or '_', e.g. R1",
            )
            return None
        return value

    def entries(self, node: Node | None, kind: str) -> tuple[Rule, ...] | None:
        """The guards or rules in NODE (absent guards are none)."""
        if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
            return ()
        items = self.r.sequence(
            node,
            f"{kind}s",
            f"[{{id: X1, description: ..., when: {{}}, "
            f"action: {'hold' if kind == 'guard' else 'review'}}}]",
        )
        if items is None:
            return None
        found = [self.entry(item, kind) for item in items]
        return None if None in found else tuple(found)

    def entry(self, node: Node, kind: str) -> Rule | None:
        required = ("id", "description", "when", "action")
        keys = self.r.mapping(node, kind, RULE_KEYS, required=required)
        if keys is None:
            return None
        rule_id = _each(keys, "id", self.unique_id)
        name = rule_id or kind
        description = _each(
            keys,
            "description",
            self.r.string,
            f"{name} description",
            "Temporary and system clutter",
        )
        when = _each(keys, "when", self.when, name)
        action = _each(keys, "action", self.action, name, kind)
        label = self.label(keys.get("label"), name, action)
        if None in (rule_id, description, when, action) or label is False:
            return None
        mark = node.start_mark
        return Rule(
            rule_id,
            kind,
            description,
            when,
            action,
            label or None,
            Span(mark.line + 1, mark.column + 1),
        )

    def unique_id(self, node: Node) -> str | None:
        rule_id = self.identifier(node, "id")
        if rule_id is None:
            return None
        if rule_id.lower() == DEFAULT_RULE_ID:
            self.r.error(
                node, f"id {rule_id!r} is reserved for the default", "choose another id, e.g. R9"
            )
            return None
        here = Span(node.start_mark.line + 1, node.start_mark.column + 1)
        first = self.ids.setdefault(rule_id.lower(), here)
        if first != here:
            self.r.error(
                node,
                f"id {rule_id} is used twice (first on line {first.line})",
                "give every guard and rule its own id",
            )
            return None
        return rule_id

    def action(self, node: Node, name: str, kind: str) -> str | None:
        allowed = GUARD_ACTIONS if kind == "guard" else ACTIONS
        action = self.r.string(node, f"{name} action", allowed[0])
        if action is None:
            return None
        if action in ACTIONS and action not in allowed:
            self.r.error(
                node,
                f"guard {name} cannot {action}: a guard only holds or diverts evidence",
                "use hold or divert_evidence, or move it to rules",
            )
        elif action not in allowed:
            self.r.error(
                node, f"{name} has unknown action {action!r}", suggest(action, allowed, "actions")
            )
        else:
            return action
        return None

    def label(self, node: Node | None, name: str, action: str | None) -> str | bool | None:
        """The label, None when there is none, False when it is wrong."""
        if node is None:
            return None
        label = self.r.string(node, f"{name} label", "Personal working files")
        if label is None:
            return False
        if action is not None and action != "migrate":
            self.r.error(
                node,
                f"{name} has a label but its action is {action}",
                "remove the label: only migrate applies one",
            )
            return False
        if self.labels is not None and label not in self.labels:
            self.r.error(
                node,
                f"label {label!r} is not in the policy's labels",
                "add it to policy labels"
                + (f" or use one of: {', '.join(self.labels)}" if self.labels else ""),
            )
            return False
        return label

    def default(self, node: Node) -> str | None:
        action = self.r.string(node, "default", "review")
        if action is not None and action not in DEFAULT_ACTIONS:
            self.r.error(
                node,
                f"default {action!r} is not allowed: the default must never "
                "migrate or dispose of a file silently",
                f"use {', '.join(DEFAULT_ACTIONS)} (review is the fail-safe choice), and add a "
                "rule with when: {} for anything else",
            )
            return None
        return action

    def check_limit(self, rules_node: Node, count: int) -> None:
        if count > MAX_RULES:
            self.r.error(
                rules_node,
                f"{count} guards and rules: at most {MAX_RULES} fit the matched-rules record",
                "merge rules that share an action, e.g. with a list of globs",
            )

    def when(self, node: Node, name: str) -> When | None:
        keys = self.r.mapping(node, f"{name} when", CONDITIONS)
        if keys is None:
            return None
        values = {
            key: _CONDITION_READERS[key](self, value, f"{name} {key}")
            for key, value in keys.items()
        }
        if None in values.values():
            return None
        return When(**values, at=_spans(keys))

    def globs(self, node: Node, what: str, *, name_only: bool) -> tuple[str, ...] | None:
        globs = self.r.strings(node, what, "['*.tmp', 'Temp/**']")
        if globs is None:
            return None
        for glob in globs:
            problem = _glob_problem(glob, name_only)
            if problem:
                self.r.error(node, f"{what} glob {glob!r} {problem[0]}", problem[1])
                return None
        return globs

    def path(self, node: Node, what: str) -> tuple[str, ...] | None:
        return self.globs(node, what, name_only=False)

    def name(self, node: Node, what: str) -> tuple[str, ...] | None:
        return self.globs(node, what, name_only=True)

    def extension(self, node: Node, what: str) -> frozenset[str] | None:
        values = self.r.strings(node, what, "[docx, .pdf]")
        if values is None:
            return None
        extensions = frozenset(value.lower().removeprefix(".") for value in values)
        bad = next(
            (ext for ext in sorted(extensions) if not ext or set(ext) & set("./\\*?[")), None
        )
        if bad is not None:
            self.r.error(
                node,
                f"{what} {bad!r} is not a plain extension",
                "write what follows "
                "the last dot, e.g. [docx, .pdf]; use name for patterns like '*.tar.gz'",
            )
            return None
        return extensions

    def size(self, node: Node, what: str) -> SizeRange | None:
        keys = self.r.mapping(node, what, ("over", "under"))
        if keys is None:
            return None
        if not keys:
            self.r.error(node, f"{what} gives no bound", "write e.g. size: {under: 1MB}")
            return None
        bounds = {key: read_size(self.r, value, f"{what}.{key}") for key, value in keys.items()}
        if None in bounds.values():
            return None
        size = SizeRange(bounds.get("over"), bounds.get("under"))
        if size.over is not None and size.under is not None and size.over + 1 >= size.under:
            self.r.error(
                node,
                f"{what} over {size.over} and under {size.under} bytes matches no file",
                "make under larger than over",
            )
            return None
        return size

    def age_range(self, node: Node, what: str) -> AgeRange | None:
        keys = self.r.mapping(node, what, ("older_than", "newer_than"))
        if keys is None:
            return None
        if not keys:
            self.r.error(node, f"{what} gives no bound", "write e.g. modified: {older_than: 6y}")
            return None
        ages = {key: self.age(value, f"{what}.{key}") for key, value in keys.items()}
        if None in ages.values():
            return None
        ages = AgeRange(ages.get("older_than"), ages.get("newer_than"))
        if _never_both(ages):
            self.r.error(
                node,
                f"{what} older than {ages.older_than} and newer than "
                f"{ages.newer_than} matches no file",
                "make newer_than the longer age, e.g. {older_than: 1y, newer_than: 2y}",
            )
            return None
        return ages

    def age(self, node: Node, what: str) -> Age | None:
        age = parse_age(node.value) if isinstance(node, ScalarNode) and node.tag == STR else None
        if age is None:
            self.r.error(
                node,
                f"{what} {node_text(node)} is not an age",
                f"write a whole number and a unit: {AGE_EXAMPLE} (up to 1000y)",
            )
        return age

    def attributes(self, node: Node, what: str) -> frozenset[str] | None:
        names = self.r.strings(node, what, "[hidden, system]")
        if names is None:
            return None
        for name in names:
            if name.lower() not in ATTRIBUTES:
                self.r.error(
                    node,
                    f"{what} {name!r} is not an attribute",
                    suggest(name.lower(), ATTRIBUTES, "attributes"),
                )
                return None
        return frozenset(name.lower() for name in names)

    def flag(self, node: Node, what: str) -> bool | None:
        return self.r.boolean(node, what)


_CONDITION_READERS = {
    "path": _Parser.path,
    "name": _Parser.name,
    "extension": _Parser.extension,
    "size": _Parser.size,
    "modified": _Parser.age_range,
    "created": _Parser.age_range,
    "accessed": _Parser.age_range,
    "attributes": _Parser.attributes,
    "duplicate": _Parser.flag,
    "on_hold": _Parser.flag,
}


def read_size(reader: Reader, node: Node, what: str) -> int | None:
    """The bytes in a size NODE such as 1MB or 2048; None after recording an error."""
    size = None
    if isinstance(node, ScalarNode) and node.tag in (STR, INT, FLOAT):
        size = parse_size(node.value)
    if size is None:
        reader.error(
            node,
            f"{what} {node_text(node)} is not a size",
            f"write a size such as {SIZE_EXAMPLE} (binary units: 1KB = 1024 bytes)",
        )
    return size


def _spans(keys: dict[str, Node]) -> dict[str, Span]:
    return {
        key: Span(node.start_mark.line + 1, node.start_mark.column + 1)
        for key, node in keys.items()
    }


def _each(keys: dict[str, Node], key: str, read, *args):
    """READ(node, *ARGS) for KEY's node; None when KEY is absent (already reported)."""
    return read(keys[key], *args) if key in keys else None


def _glob_problem(glob: str, name_only: bool) -> tuple[str, str] | None:
    """(what is wrong, fix) for a glob that cannot mean what its author meant, else None."""
    if "\\" in glob:
        return "uses a backslash", "separate folders with /, e.g. Documents/Old/**"
    if not glob.strip("/"):
        return "is empty", "write a glob such as '*.tmp' or 'Temp/**'"
    if "//" in glob:
        return "has an empty folder name (//)", "write one / between folders"
    if name_only and "/" in glob:
        return "has a /, but name is a file's name", "use path for folders, e.g. path: 'Temp/**'"
    try:
        compile_glob(glob)
    except re.error as exc:
        return (
            f"has a character set that cannot match ({exc.msg})",
            "write each range low to high, e.g. [a-z], and put ] first in a set, e.g. []x]",
        )
    return None


def _never_both(ages: AgeRange) -> bool:
    """True when older_than and newer_than exclude each other whatever the reference date."""
    if ages.older_than is None or ages.newer_than is None:
        return False
    older, newer = ages.older_than.span(), ages.newer_than.span()
    return older[0] == newer[0] and older[1] >= newer[1]
