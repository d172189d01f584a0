"""One user's planned files as the lines of items.csv, the records registers and the user's
manifest.

A planned file is one with a decision in the user's current plan run; its decision is the
effective one (plan.current: a review of that run overrides the plan). Its outcome is its
transfer's state, else `not-started` (decided migrate) or `not-migrated` (decided otherwise).

A wave holds millions of files, and Python's csv module alone costs more per file than the
rest of the report: so one query reads each file's values, and each line is put together by
a `%` template with the cells made by `outputs.csv_cell` (CsvWriter's rules). What every line
of a user shares (the UPN, the policy) is part of that user's templates, and what many files
share (a rule, an outcome's words) is made once per user.
"""

from collections.abc import Iterator
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.migrate.status import GOOD, Cause, reason_cause
from hdrive_migrate.outputs import csv_cell
from hdrive_migrate.plan.current import EVERY_EFFECTIVE_SQL
from hdrive_migrate.report.columns import NOT_MIGRATED, NOT_STARTED, REGISTERS

REVIEW_RULE = "review"  # the `rule` of a file whose effective decision a reviewer made

# outcome -> (Status, Result category) in items.csv; failures take the reason code as the
# category. Status words follow SPMT's where it has one.
STATUSES = {
    "migrated": ("Migrated", "Succeeded"),
    "renamed": ("Migrated", "Renamed"),
    "skipped-identical": ("Skipped", "Identical file in OneDrive"),
    "failed": ("Failed", None),
    "blocked": ("Blocked", None),
    "sending": ("In progress", "In progress"),
    "removed": ("Removed", "Removed after source deletion"),
    NOT_STARTED: ("Not started", "Pending"),
    NOT_MIGRATED: ("Not migrated", "Filtered out"),
}
RENAMED_MESSAGE = "sent under another name: a different file already had the planned one"
FAILURES = ("failed", "blocked")
# Decisions a records register lists.
REGISTERED = frozenset(action for actions in REGISTERS.values() for action in actions)


class UserCells(NamedTuple):
    """What every line of one user shares."""

    upn: str
    upn_cell: str  # the UPN as a CSV cell (Task ID, and the registers' upn)
    # The user's home folder on the share, with the root's separator, as the start of a CSV
    # cell: every source cell starts so (`source_cell`).
    source_start: str
    backslash: bool  # the root's separator is `\`, so the paths' `/` become `\`
    policy: str  # the policy cells (columns.POLICY_COLUMNS) joined, for registers and manifests
    policy_version: str  # the policy version as a cell of items.csv
    blocked: bool  # the user is blocked: files not started say why
    block_reason: str | None
    block_explanation: str | None


class Policy(NamedTuple):
    """The policy of one plan run, as every register and manifest names it."""

    plan_run: int
    policy_id: str | None
    policy_version: str | None
    policy_sha256: str | None


def user_cells(
    db: Database, upn: str, *, source_root: str, folder: str, block: Cause | None
) -> UserCells:
    """The cells UPN's lines share: their home FOLDER under SOURCE_ROOT, the policy of their
    current plan run, and their BLOCK, if any."""
    backslash = "\\" in source_root
    sep = "\\" if backslash else "/"
    policy = _policy(db, upn)
    prefix = source_root.rstrip("\\/") + sep + folder + sep
    return UserCells(
        upn=upn,
        upn_cell=csv_cell(upn),
        source_start=csv_cell(prefix)[:-1],
        backslash=backslash,
        policy=",".join(csv_cell(value) for value in policy),
        policy_version=csv_cell(policy.policy_version),
        blocked=block is not None,
        block_reason=block.reason if block else None,
        block_explanation=block.explanation if block else None,
    )


def _policy(db: Database, upn: str) -> Policy:
    row = db.execute(
        "SELECT pu.run_id, r.policy_id, r.policy_version, r.policy_sha256 FROM plan_users AS pu"
        " LEFT JOIN plan_runs AS r ON r.id = pu.run_id WHERE pu.upn = ?",
        [upn],
    ).fetchone()
    return Policy(*row) if row else Policy(0, None, None, None)


def source_cell(cells: UserCells, path: str) -> str:
    """The file at PATH (in the user's home folder) on the share, with the root's separators,
    as a CSV cell (`csv_cell`) made from the cell's start made once: the prefix is never
    empty, and a formula is told by the first character alone."""
    tail = path.replace("/", "\\") if cells.backslash else path
    return cells.source_start + tail.replace('"', '""') + '"'


def extension(name: str) -> str | None:
    """What follows NAME's last dot: none for "a", ".profile" or "a.", as a spreadsheet user
    would expect ("a." has an empty one)."""
    dot = name.rfind(".")
    return name[dot + 1 :] if dot > 0 else None


def _words(text: str) -> str:
    """TEXT, the tool's own words that never start like a formula (tests hold them to that),
    as a quoted cell."""
    return '"' + text.replace('"', '""') + '"'


class _Outcomes:
    """The Status, Result category and Message cells of one user's outcomes, made once."""

    def __init__(self, cells: UserCells) -> None:
        self.cells = cells
        self.status_and_category = {
            outcome: f"{_words(self._status(outcome))},{_words(self._category(outcome, None))}"
            for outcome in STATUSES
            if outcome not in FAILURES
        }
        self.failure_status = {outcome: _words(STATUSES[outcome][0]) for outcome in FAILURES}
        self.explanations = {code: reason_cause(code).explanation for code in REASONS}
        self.unknown = reason_cause(None).explanation
        self.not_started = _words(
            f"user blocked: {cells.block_explanation}" if cells.blocked else "not attempted yet"
        )
        self.renamed = _words(RENAMED_MESSAGE)
        # The outcomes whose cells are the same for every file.
        self.fixed = {
            outcome: self.cells_of(outcome, "", None, None, None, None, None)
            for outcome in self.status_and_category
            if outcome != NOT_MIGRATED
        }

    def _status(self, outcome: str) -> str:
        if outcome == NOT_STARTED and self.cells.blocked:
            return "Blocked"
        return STATUSES.get(outcome, (outcome,))[0]

    def _category(self, outcome: str, failure: str | None) -> str:
        if outcome in FAILURES:
            return failure or "unknown"
        if outcome == NOT_STARTED and self.cells.blocked:
            return self.cells.block_reason or ""
        return STATUSES.get(outcome, (None, None))[1] or outcome

    def cells_of(self, outcome, action, failure, detail, reason, description, reviewer) -> str:
        """`Status,Result category,Message` of one file."""
        if outcome in FAILURES:
            explanation = self.explanations.get(failure, self.unknown)
            if detail:
                explanation += f" ({detail})"
            words = f"{self.failure_status[outcome]},{_words(failure or 'unknown')}"
            return f"{words},{_words(explanation)}"
        status_and_category = self.status_and_category.get(outcome)
        if status_and_category is None:  # an outcome this version does not know
            status_and_category = f"{_words(outcome)},{_words(outcome)}"
        if outcome == NOT_MIGRATED:
            why = f"reviewed by {reviewer}" if reviewer is not None else reason or description or ""
            message = _words(f"decision {action}: {why}")
        elif outcome == NOT_STARTED:
            message = self.not_started
        elif outcome == "renamed":
            message = self.renamed
        else:
            message = '""'
        return f"{status_and_category},{message}"


def _template(*cells: str) -> str:
    """A line's `%` template of CELLS (`%s`, or a fixed cell with its `%` doubled)."""
    return ",".join(cells) + "\r\n"


def _fixed(cell: str) -> str:
    return cell.replace("%", "%%")


_FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z
_PAST_LAST_SECOND = 253_402_300_800  # 10000-01-01T00:00:00Z


def utc_second_sql(seconds: str) -> str:
    """SQL for the POSIX SECONDS column as UTC ISO 8601 to the second, as the workspace stores
    times: floored, so a time never moves to the next second; NULL outside years 1 to 9999,
    which no calendar cell shows."""
    whole = f"CAST({seconds} AS INTEGER)"
    return (
        f"CASE WHEN {seconds} >= {_FIRST_SECOND} AND {seconds} < {_PAST_LAST_SECOND}"
        f" THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', {whole} - ({seconds} < {whole}),"
        " 'unixepoch') END"
    )


# Only a register shows a file's modified time.
_REGISTERED_SQL = ", ".join(f"'{action}'" for action in sorted(REGISTERED))
# A disposed file's certificate is its first disposal's; a user's are gathered once.
_FILE_SQL = f"""
    WITH effective AS ({EVERY_EFFECTIVE_SQL})
    SELECT e.path, e.action, t.state, COALESCE(f.size, t.source_size, 0),
           COALESCE(t.target_path, CASE WHEN e.action = 'migrate' THEN e.target_path END),
           CASE WHEN e.review_id IS NULL THEN e.rule_id ELSE '{REVIEW_RULE}' END,
           COALESCE(f.sha256, t.sha256), COALESCE(f.quick_xor, t.quick_xor),
           COALESCE(t.finished_at, t.started_at), t.item_id, t.run_id, t.reason, t.detail,
           CASE WHEN e.action IN ({_REGISTERED_SQL}) THEN {utc_second_sql("f.modified")} END,
           e.reason, e.rule_description, e.reviewer, e.label,
           CASE WHEN e.action = 'dispose_after_approval' THEN c.certificate END
    FROM effective AS e
    LEFT JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    LEFT JOIN (
        SELECT i.path AS disposed_path, d.certificate AS certificate, MIN(d.id)
        FROM disposal_items AS i JOIN disposals AS d ON d.id = i.disposal_id
        WHERE i.upn = :upn GROUP BY i.path) AS c ON c.disposed_path = e.path
    ORDER BY e.path
"""


class Chunk(NamedTuple):
    """Some planned files of one user, in path order: their lines, and what they add up to."""

    items: list[str]  # items.csv lines
    manifest: list[str]
    registers: dict[str, list[str]]  # decision -> lines of its register
    groups: dict[tuple[str, str, str | None], list[int]]  # (decision, outcome, failure) ->
    # [files, bytes]
    good: dict[str, list[int]]  # minute "YYYY-MM-DDTHH:MM" of a good outcome -> [files, bytes
    # sent], where a skipped-identical file sent nothing


CHUNK = 1024  # files per chunk: one write of many lines costs what one line's write does


# Extension cells kept for one user at most; a user has few distinct extensions.
_MAX_CACHED = 10_000


def planned_lines(db: Database, cells: UserCells) -> Iterator[Chunk]:
    """The planned files of the user CELLS describes, in path order, a chunk at a time from a
    cursor (never all at once)."""
    cursor = db.execute(_FILE_SQL, {"upn": cells.upn})
    lines = _Lines(cells)
    while rows := cursor.fetchmany(CHUNK):
        yield lines.chunk(rows)


class _Lines:
    """The templates and cells one user's lines share, and the lines of a chunk of rows."""

    def __init__(self, cells: UserCells) -> None:
        self.cells = cells
        # columns.ITEM_COLUMNS, MANIFEST_COLUMNS and REGISTER_COLUMNS, in order; an item's
        # Status, Result category and Message are one `%s`.
        upn, version, policy = map(_fixed, (cells.upn_cell, cells.policy_version, cells.policy))
        self.item = _template(
            *["%s"] * 5, "File", "%s", "", "%s", "", "%s", "", upn, "", *["%s"] * 2, version,
            *["%s"] * 2,
        )  # fmt: skip
        self.manifest = _template(*["%s"] * 10, policy)
        self.register = _template(upn, *["%s"] * 13, policy)
        self.outcomes = _Outcomes(cells)
        self.rule_cells: dict[str | None, str] = {}  # as many as the policy has rules
        self.extension_cells: dict[str | None, str] = {}

    def chunk(self, rows: list[tuple]) -> Chunk:
        """ROWS (_FILE_SQL's) as a chunk. One loop with everything at hand in local names: it
        runs once per file of the wave."""
        outcomes, outcome_words, text = self.outcomes, self.outcomes.fixed, csv_cell
        cells = self.cells
        rule_cells, extension_cells = self.rule_cells, self.extension_cells
        item_template, manifest_template = self.item, self.manifest
        register_template = self.register
        chunk = Chunk([], [], {}, {}, {})
        items, manifest, registers = chunk.items, chunk.manifest, chunk.registers
        groups, good = chunk.groups, chunk.good
        for (
            path, action, state, size, target, rule, sha256, quick_xor, time, item_id, job,
            failure, detail, modified_at, reason, description, reviewer, label, certificate,
        ) in rows:  # fmt: skip
            outcome = state or (NOT_STARTED if action == "migrate" else NOT_MIGRATED)
            source = source_cell(cells, path)
            target_cell, item_cell, quick_xor_cell = text(target), text(item_id), text(quick_xor)
            rule_cell = rule_cells.get(rule)
            if rule_cell is None:
                rule_cell = rule_cells[rule] = text(rule)
            sha256 = sha256 or ""
            name = path[path.rfind("/") + 1 :]
            suffix = extension(name)
            extension_cell = extension_cells.get(suffix)
            if extension_cell is None:
                if len(extension_cells) >= _MAX_CACHED:
                    extension_cells.clear()
                extension_cell = extension_cells[suffix] = text(suffix)
            words = outcome_words.get(outcome) or outcomes.cells_of(
                outcome, action, failure, detail, reason, description, reviewer
            )
            items.append(
                item_template % (
                    source, target_cell, text(name), extension_cell, size, words,
                    item_cell, "" if job is None else job, action, rule_cell, sha256,
                    quick_xor_cell,
                )
            )  # fmt: skip
            manifest.append(
                manifest_template % (
                    source, target_cell, size, sha256, quick_xor_cell, item_cell, outcome,
                    time or "", action, rule_cell,
                )
            )  # fmt: skip
            if action in REGISTERED:
                line = register_template % (
                    source, text(path), size, modified_at or "", sha256,
                    quick_xor_cell, action, rule_cell, text(description), text(reason),
                    text(reviewer), text(label), text(certificate),
                )  # fmt: skip
                registers.setdefault(action, []).append(line)
            key = (action, outcome, (failure or "unknown") if outcome == "failed" else None)
            group = groups.get(key)
            if group is None:
                groups[key] = [1, size]
            else:
                group[0] += 1
                group[1] += size
            if time is not None and outcome in GOOD:
                minute = good.get(time[:16])
                if minute is None:
                    minute = good[time[:16]] = [0, 0]
                minute[0] += 1
                if outcome != "skipped-identical":
                    minute[1] += size
        return chunk
