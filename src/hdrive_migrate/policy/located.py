"""YAML read with the line and column of every value, and every mistake collected as one
`FILE:LINE:COL: what. Fix: how` error, so a records manager sees them all at once.

Files are composed into nodes (never constructed into Python objects wholesale) because only
nodes keep their position; scalars are converted one at a time, and a duplicate key, which
PyYAML would silently resolve to the last value, is reported.
"""

import difflib
import hashlib
from datetime import date
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.policy.units import EARLIEST_DAY

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
TIMESTAMP = "tag:yaml.org,2002:timestamp"


class PolicyError(HdriveError):
    """A mistake in a policy or cases file. `str()` is `FILE:LINE:COL: what. Fix: how`
    (`FILE: ...` when the file itself cannot be read); `line` and `col` count from 1."""

    def __init__(
        self, what: str, *, fix: str, file: str, line: int | None = None, col: int | None = None
    ) -> None:
        super().__init__(what, fix=fix, where=file if line is None else f"{file}:{line}:{col}")
        self.file = file
        self.line = line
        self.col = col


def suggest(name: str, known: tuple[str, ...], kind: str) -> str:
    """A fix naming the KNOWN value closest to NAME, then listing them all."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{hint}{kind} are: {', '.join(known)}"


class Reader:
    """Checks the nodes of one file, collecting errors in `errors` instead of raising, so that
    every mistake is reported. Each typed getter returns None after recording an error."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[PolicyError] = []
        self._constructor = SafeConstructor()

    def error(self, node: Node, what: str, fix: str) -> None:
        mark = node.start_mark
        self.errors.append(
            PolicyError(what, fix=fix, file=self.file, line=mark.line + 1, col=mark.column + 1)
        )

    def mapping(
        self, node: Node, what: str, keys: tuple[str, ...], *, required: tuple[str, ...] = ()
    ) -> dict[str, Node] | None:
        """NODE as {key: value node}, after checking it is a mapping whose keys are all among
        KEYS (the closest is suggested), none repeated and every REQUIRED one present."""
        if not isinstance(node, MappingNode):
            self.error(
                node,
                f"{what} must be a mapping of keys to values",
                f"write {what} as "
                f"key: value lines or {{key: value}}; its keys are: {', '.join(keys)}",
            )
            return None
        found: dict[str, Node] = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else ""
            if key not in keys:
                self.error(key_node, f"unknown key {key!r} in {what}", suggest(key, keys, "keys"))
            elif key in found:
                line = found[key].start_mark.line + 1
                self.error(
                    key_node,
                    f"{key} appears twice in {what} (first on line {line})",
                    "keep one of them",
                )
            else:
                found[key] = value
        for key in required:
            if key not in found:
                self.error(node, f"{what} has no {key}", f"add {key}: to {what}")
        return found

    def sequence(self, node: Node, what: str, example: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return node.value
        self.error(node, f"{what} must be a list", f"write it as a list, e.g. {example}")
        return None

    def scalar(self, node: Node) -> object:
        """The Python value of a scalar NODE; a value YAML cannot build (a date such as
        2026-13-01) is returned as its text, for the caller to reject by type."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError):
            return node.value

    def string(self, node: Node, what: str, example: str) -> str | None:
        """A non-empty string; numbers, booleans and dates are refused, since YAML turning
        `version: 1.0` into a float or `id: no` into False is never what was meant."""
        if isinstance(node, ScalarNode) and node.tag == STR and node.value.strip():
            return node.value.strip()
        self.error(
            node,
            f"{what} must be non-empty text",
            f"write e.g. {example}, quoting it if YAML would read it as a number, date or yes/no",
        )
        return None

    def strings(self, node: Node, what: str, example: str) -> tuple[str, ...] | None:
        """A string or a non-empty list of strings, as a tuple."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        if not items:
            self.error(node, f"{what} is an empty list", f"give at least one value, e.g. {example}")
            return None
        values = [self.string(item, what, example) for item in items]
        return None if None in values else tuple(values)

    def boolean(self, node: Node, what: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(self.scalar(node))
        self.error(node, f"{what} must be true or false", "write true or false")
        return None

    def day(self, node: Node, what: str, example: str) -> date | None:
        """A calendar date from 1900 on, written YYYY-MM-DD (quoted or not)."""
        if isinstance(node, ScalarNode) and node.tag in (TIMESTAMP, STR):
            try:
                day = date.fromisoformat(node.value.strip())
            except ValueError:
                day = None
            # Ages reach back up to 1,000 years, and must stay within the calendar.
            if day is not None and day >= EARLIEST_DAY:
                return day
        self.error(
            node,
            f"{what} {node_text(node)} is not a date from {EARLIEST_DAY.year} on",
            f"write a real date as YYYY-MM-DD, e.g. {example}",
        )
        return None

    def instant(self, node: Node) -> date | None:
        """A YAML date or date-time (a datetime is a date) as built by YAML, or None when
        NODE is not one."""
        if isinstance(node, ScalarNode) and node.tag == TIMESTAMP:
            value = self.scalar(node)
            if isinstance(value, date):
                return value
        return None


def node_text(node: Node) -> str:
    """NODE as written, for messages (a mapping or list is described, not quoted)."""
    if isinstance(node, ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


def read_yaml(path: Path, reader: Reader) -> tuple[bytes | None, Node | None]:
    """The bytes of PATH and its single YAML document as nodes; (bytes, None) after recording
    an error when the text is not one well-formed YAML document, (None, None) when PATH
    cannot be read at all."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reader.errors.append(
            PolicyError(
                f"cannot read the file: {exc.strerror}",
                fix="check the file name and that you may read it",
                file=reader.file,
            )
        )
        return None, None
    try:
        root = yaml.compose(data.decode("utf-8-sig"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        reader.errors.append(
            PolicyError(
                f"byte {exc.start} is not UTF-8 text",
                fix="save the file as UTF-8",
                file=reader.file,
            )
        )
        return data, None
    except yaml.MarkedYAMLError as exc:
        reader.errors.append(_syntax_error(exc, reader.file))
        return data, None
    if root is None:
        reader.errors.append(
            PolicyError(
                "the file is empty",
                fix="write the YAML document (see policies/personal-files.yaml)",
                file=reader.file,
                line=1,
                col=1,
            )
        )
    return data, root


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> PolicyError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "the YAML is malformed"
    if "'\\t'" in problem:  # PyYAML quotes the character with repr()
        fix = "indent with spaces, not tabs"
    elif "alias" in f"{exc.context} {problem}" or "anchor" in f"{exc.context} {problem}":
        fix = "quote values that start with * or &, e.g. name: ['*.tmp']"
    elif "another document" in problem:
        fix = "keep one YAML document in the file: remove the extra ---"
    else:
        fix = "correct the YAML: check the indentation, and quote values holding ': ' or ' #'"
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return PolicyError(f"YAML syntax: {problem}", fix=fix, file=file, line=line, col=col)
