"""A compiled policy as SQL: one expression giving the matched-rules mask of an inventory row,
so that a plan decides a whole inventory in one `INSERT ... SELECT`.

The expression is exact for rows whose path is ASCII, where SQLite's `lower` is Python's
`str.lower`; the planner sends every other row to the reference, `CompiledPolicy.match`. It
reads these columns: `name` (the path's last part, lower-cased), `ext` (what follows the
name's last dot, unless that dot starts the name), `fb` (the folder bits,
`SqlPolicy.folder_bits` of the lower-cased folder), `size`, `modified`, `created`, `accessed`,
`attributes`, `on_hold` and `duplicate`. Globs become string tests as compile.py's do; the
rest become SQLite GLOBs whose every character set lists exactly the ASCII characters the
glob's regular expression matches. Every value from the policy file is a bound parameter;
the expression's text comes only from fixed templates.

A policy the expression cannot state exactly raises NotExpressible, and is planned in Python.
"""

import re
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from hdrive_migrate.globs import glob_parts
from hdrive_migrate.policy.compile import CompiledPolicy
from hdrive_migrate.policy.matchers import ROOT, alternation, name_set, split_path_globs
from hdrive_migrate.policy.parse import ATTRIBUTE_BITS, AgeRange, When

# What a lower-cased ASCII name can hold: no capitals, no '/', no NUL (SQLite ends text there).
_NAME_ALPHABET = [chr(code) for code in range(1, 128) if chr(code) not in string.ascii_uppercase]
_NAME_ALPHABET.remove("/")


# The folder bits share one integer with two 16-bit positions (see plan/compiled.py).
MAX_FOLDER_TESTS = 31


class NotExpressible(Exception):
    """The policy uses something the SQL form cannot state exactly; `str()` says what."""


@dataclass
class SqlPolicy:
    """`mask` is the SQL expression; `params` its named parameters; `folder_bits(folder)` the
    value of `fb` for a lower-cased folder ('' is the root)."""

    mask: str
    params: dict[str, object]
    folder_bits: Callable[[str], int]
    needs_name: bool  # `name` or `ext` is read
    needs_folder: bool  # `fb` is read


def sql_policy(compiled: CompiledPolicy) -> SqlPolicy:
    """COMPILED as SQL; raises NotExpressible when some condition has no exact SQL form."""
    writer = _Writer(compiled)
    entries = (*compiled.policy.guards, *compiled.policy.rules)
    terms = []
    for index, rule in enumerate(entries):
        test = writer.rule_test(rule.when)
        # Every test is 0 or 1, never NULL, so a product places its bit.
        terms.append(str(1 << index) if test is None else f"({test}) * {1 << index}")
    return SqlPolicy(
        " + ".join(terms) or "0",
        writer.params,
        _folder_bits_function(writer.folder_tests),
        writer.needs_name,
        bool(writer.folder_tests),
    )


def _folder_bits_function(tests: list[re.Pattern[str] | str]) -> Callable[[str], int]:
    """Bit i set when a lower-cased folder passes folder test i, as compile.py judges it."""

    def folder_bits(folder: str) -> int:
        bits = 0
        for slot, test in enumerate(tests):
            if test == ROOT:
                passed = folder == ROOT
            else:
                passed = folder != ROOT and bool(test.fullmatch(folder))
            bits |= passed << slot
        return bits

    return folder_bits


@dataclass
class _Writer:
    compiled: CompiledPolicy
    params: dict[str, object] = field(default_factory=dict)
    folder_tests: list[re.Pattern[str] | str] = field(default_factory=list)
    needs_name: bool = False

    def value(self, value: object) -> str:
        name = f"k{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def values(self, values) -> str:
        return ", ".join(self.value(value) for value in sorted(values))

    def rule_test(self, when: When) -> str | None:
        tests = []
        for flag in ("on_hold", "duplicate"):
            value = getattr(when, flag)
            if value is not None:
                tests.append(f"{flag} = {int(value)}")
        if when.attributes is not None:
            bits = self.value(sum(ATTRIBUTE_BITS[name] for name in when.attributes))
            tests.append(f"attributes & {bits} = {bits}")
        if when.size is not None:
            if when.size.over is not None:
                tests.append(f"size > {self.value(when.size.over)}")
            if when.size.under is not None:
                tests.append(f"size < {self.value(when.size.under)}")
        for column in ("modified", "created", "accessed"):
            ages = getattr(when, column)
            if ages is not None:
                tests.append(self.age_test(column, ages))
        if when.extension is not None:
            tests.append(self.extension_test(when.extension))
        if when.name is not None:
            tests.append(self.name_test(list(when.name)))
        if when.path is not None:
            tests.append(self.path_test(when.path))
        return " AND ".join(f"({test})" for test in tests) or None

    def age_test(self, column: str, ages: AgeRange) -> str:
        tests = [f"{column} IS NOT NULL"]
        as_of = self.compiled.as_of
        if ages.older_than is not None:
            tests.append(f"{column} < {self.value(ages.older_than.cutoff(as_of))}")
        if ages.newer_than is not None:
            tests.append(f"{column} >= {self.value(ages.newer_than.cutoff(as_of))}")
        return " AND ".join(tests)

    def extension_test(self, extensions: frozenset[str]) -> str:
        self.needs_name = True
        return f"ext IN ({self.values(extensions)})"

    def name_test(self, globs: list[str]) -> str:
        """True when the lower-cased name matches any of GLOBS (each without '/')."""
        self.needs_name = True
        names = name_set(globs)
        tests = [f"name IN ({self.values(names.equals)})"] if names.equals else []
        tests += self.affix_tests("substr(name, -{length})", names.suffixes)
        tests += self.affix_tests("substr(name, 1, {length})", names.prefixes)
        tests += [f"instr(name, {self.value(text)}) > 0" for text in names.contains]
        for glob in names.others:
            pattern = _ascii_glob(glob)
            if pattern is not None:
                tests.append(f"name GLOB {self.value(pattern)}")
        return " OR ".join(tests) or "0"

    def affix_tests(self, part: str, affixes: tuple[str, ...]) -> list[str]:
        """PART (of the name, `{length}` characters long) is one of AFFIXES; '' always is."""
        by_length: dict[int, list[str]] = defaultdict(list)
        for affix in affixes:
            by_length[len(affix)].append(affix)
        return [
            "1" if length == 0 else f"{part.format(length=length)} IN ({self.values(group)})"
            for length, group in sorted(by_length.items())
        ]

    def path_test(self, globs: tuple[str, ...]) -> str:
        """As compile.py's path_test: folder parts from the folder bits, name parts as name
        tests; a glob with no such form has no exact SQL form here."""
        folders, names, both, whole = split_path_globs(globs)
        if whole:
            raise NotExpressible(f"path glob {whole[0]!r} must be matched against the whole path")
        tests = [f"fb & {1 << self.folder_slot(folders)} != 0"] if folders else []
        tests += [
            f"(fb & {1 << self.folder_slot([folder])} != 0 AND ({self.name_test(group)}))"
            for folder, group in both.items()
        ]
        if names:
            tests.append(self.name_test(names))
        return " OR ".join(f"({test})" for test in tests)

    def folder_slot(self, folders: list[str]) -> int:
        if len(self.folder_tests) == MAX_FOLDER_TESTS:
            raise NotExpressible(f"more than {MAX_FOLDER_TESTS} folder tests")
        self.folder_tests.append(ROOT if folders == [ROOT] else alternation(folders))
        return len(self.folder_tests) - 1


def _ascii_glob(glob: str) -> str | None:
    """An SQLite GLOB matching a lower-cased ASCII name exactly when `compile_glob(GLOB)`
    (case-insensitive) does; None when no such name can match. A name holds no '/', so '*',
    '**' and '?' are GLOB's own; each character set and literal becomes the set of ASCII
    characters its regular expression matches, found by trying each one."""
    out = []
    for kind, regex in glob_parts(glob):
        if kind in ("*", "**"):
            out.append("*")
        elif kind == "?":
            out.append("?")
        elif kind == "**/":
            return None  # cannot occur in a name glob; refuse rather than guess
        else:
            test = re.compile(regex, re.IGNORECASE | re.DOTALL)
            chars = [char for char in _NAME_ALPHABET if test.fullmatch(char)]
            if not chars:
                return None
            out.append(_glob_set(chars))
    return "".join(out)


def _glob_set(chars: list[str]) -> str:
    """CHARS as one GLOB element: a literal, or a set with ']' first, '^' not first and '-'
    last, as SQLite reads them."""
    if len(chars) == 1:
        return f"[{chars[0]}]" if chars[0] in "*?[" else chars[0]
    if sorted(chars) == ["-", "^"]:
        return "[-^]"
    middle = "".join(char for char in chars if char not in "]^-")
    first = "]" if "]" in chars else ""
    return f"[{first}{middle}{'^' if '^' in chars else ''}{'-' if '-' in chars else ''}]"
