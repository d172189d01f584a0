"""One user's planned files as the lines of items.csv, the records registers and the user's
manifest, built in SQLite.

A planned file is one with a decision in the user's current plan run; its decision is the
effective one (plan.current: a review of that run overrides the plan). Its outcome is its
transfer's state, else `not-started` (decided migrate) or `not-migrated` (decided otherwise).

A wave holds millions of files, and Python's csv module alone costs more per row than the
whole query: so each line is put together by the query itself, cell by cell with the rules of
outputs.CsvWriter (outputs.sql_csv_text), and Python only writes the lines and adds up counts.
Values the same for every file of a user (the UPN, the policy, the block) are cells made once
in Python (outputs.csv_cell) and bound as parameters.
"""

from collections.abc import Iterator
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.migrate.status import GOOD, Cause, reason_cause
from hdrive_migrate.outputs import (
    SqlCell,
    csv_cell,
    sql_csv_cell,
    sql_csv_line,
    sql_csv_plain,
    sql_csv_text,
    sql_csv_words,
    sql_literal,
)
from hdrive_migrate.plan.current import EFFECTIVE_SQL
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


class UserCells(NamedTuple):
    """What every line of one user shares, bound to the query as parameters."""

    upn: str
    upn_cell: str  # the UPN as a CSV cell (Task ID, and the registers' upn)
    prefix: str  # the user's home folder on the share, with the root's separator
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
    return UserCells(
        upn=upn,
        upn_cell=csv_cell(upn),
        prefix=source_root.rstrip("\\/") + sep + folder + sep,
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


def planned_lines(db: Database, cells: UserCells) -> Iterator[tuple]:
    """The planned files of the user CELLS describes, in path order, from a cursor (never all
    at once), each as (items.csv line, manifest line, register line or None when no register
    lists its decision, decision, outcome, size, failure reason or None, and the minute
    "YYYY-MM-DDTHH:MM" it reached a good outcome or None): plain tuples, a million of which
    cost less than named ones."""
    return db.execute(_LINES_SQL, cells._asdict())


def source_sql(path: str) -> str:
    """SQL for the file at PATH (an SQL expression) on the share: the bound :prefix (the home
    folder, `UserCells.prefix`) and PATH with the root's separators (`:backslash`)."""
    return f"(:prefix || CASE WHEN :backslash THEN replace({path}, '/', '\\') ELSE {path} END)"


# --- the query ------------------------------------------------------------------------------
# Two levels: the inner query joins a file's rows and derives its values once; the outer one
# makes the lines of them. The inner one is ordered and limited so that SQLite runs it as a
# co-routine rather than flattening it into the outer one, where every value would be derived
# again for each cell that shows it.

_FILE_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.upn AS upn, e.path AS path, e.action AS action,
           COALESCE(t.state, CASE WHEN e.action = 'migrate' THEN '{NOT_STARTED}'
                                  ELSE '{NOT_MIGRATED}' END) AS outcome,
           COALESCE(f.size, t.source_size, 0) AS size,
           {source_sql("e.path")} AS source,
           COALESCE(t.target_path, CASE WHEN e.action = 'migrate' THEN e.target_path END)
               AS target,
           -- rtrim() with every character but `/` strips back to the last `/`.
           substr(e.path, length(rtrim(e.path, replace(e.path, '/', ''))) + 1) AS name,
           CASE WHEN e.review_id IS NULL THEN e.rule_id ELSE '{REVIEW_RULE}' END AS rule,
           COALESCE(f.sha256, t.sha256) AS sha256,
           COALESCE(f.quick_xor, t.quick_xor) AS quick_xor,
           COALESCE(t.finished_at, t.started_at) AS time,
           t.item_id AS item_id, t.run_id AS job, t.reason AS failure, t.detail AS detail,
           f.modified AS modified, e.reason AS reason, e.rule_description AS rule_description,
           e.reviewer AS reviewer, e.label AS label,
           CASE WHEN e.action = 'dispose_after_approval' THEN (
               SELECT d.certificate FROM disposal_items AS i
               JOIN disposals AS d ON d.id = i.disposal_id
               WHERE i.upn = e.upn AND i.path = e.path ORDER BY d.id LIMIT 1) END AS certificate
    FROM effective AS e
    LEFT JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    LEFT JOIN transfers AS t ON t.upn = e.upn AND t.path = e.path
    ORDER BY e.path LIMIT -1
"""

# The extension of `name` without the dot, from the name up to its last dot (rtrim() as above):
# none for "a", ".profile" or "a.", as a spreadsheet user would expect.
_TO_DOT = "rtrim(name, replace(name, '.', ''))"
EXTENSION_SQL = f"CASE WHEN length({_TO_DOT}) > 1 THEN substr(name, length({_TO_DOT}) + 1) END"
# POSIX seconds as UTC ISO 8601 to the second, as the workspace stores times; floored first,
# so that strftime's rounding to milliseconds never moves a time to the next second.
_MODIFIED = (
    "strftime('%Y-%m-%dT%H:%M:%S+00:00', CAST(modified AS INTEGER)"
    " - (modified < CAST(modified AS INTEGER)), 'unixepoch')"
)


def _case(subject: str, cases: dict[str, str | None], default: str) -> str:
    whens = " ".join(
        f"WHEN {sql_literal(key)} THEN {sql_literal(value)}" for key, value in cases.items()
    )
    return f"CASE {subject} {whens} ELSE {default} END"


def _status() -> str:
    words = {outcome: status for outcome, (status, _) in STATUSES.items()}
    plain = _case("outcome", words, "outcome")
    return f"CASE WHEN outcome = '{NOT_STARTED}' AND :blocked THEN 'Blocked' ELSE {plain} END"


def _category() -> str:
    words = {outcome: category for outcome, (_, category) in STATUSES.items() if category}
    plain = _case("outcome", words, "outcome")
    return f"""CASE WHEN outcome IN ('failed', 'blocked') THEN COALESCE(failure, 'unknown')
        WHEN outcome = '{NOT_STARTED}' AND :blocked THEN :block_reason ELSE {plain} END"""


def _message() -> str:
    explanations = {code: reason_cause(code).explanation for code in REASONS}
    explanation = _case("failure", explanations, sql_literal(reason_cause(None).explanation))
    why = "COALESCE(NULLIF(reason, ''), rule_description)"
    return f"""CASE
        WHEN outcome IN ('failed', 'blocked')
            THEN {explanation} || COALESCE(' (' || NULLIF(detail, '') || ')', '')
        WHEN outcome = 'renamed' THEN {sql_literal(RENAMED_MESSAGE)}
        WHEN outcome = '{NOT_STARTED}' THEN CASE WHEN :blocked
            THEN 'user blocked: ' || :block_explanation ELSE 'not attempted yet' END
        WHEN outcome = '{NOT_MIGRATED}' THEN 'decision ' || action || ': ' ||
            CASE WHEN reviewer IS NOT NULL THEN 'reviewed by ' || reviewer ELSE {why} END
        ELSE '' END"""


# The cells more than one line shows, each made once per file (the middle level of the query).
_SHARED = {
    "source_cell": sql_csv_text("source"),
    "target_cell": sql_csv_text("target"),
    "item_id_cell": sql_csv_text("item_id"),
    "rule_cell": sql_csv_text("rule"),
    "quick_xor_cell": sql_csv_text("quick_xor"),
}
# Hex digits and ISO 8601 times never need quoting nor start like a formula.
_SHA256, _TIME = sql_csv_plain("sha256"), sql_csv_plain("time")


def _shared(name: str) -> SqlCell:
    return sql_csv_plain(name)


def _item_line() -> str:
    """columns.ITEM_COLUMNS, in order."""
    return sql_csv_line(
        _shared("source_cell"),
        _shared("target_cell"),
        sql_csv_text("name"),
        sql_csv_text(EXTENSION_SQL),
        sql_csv_plain("size"),
        sql_csv_plain("'File'"),
        sql_csv_words(_status()),
        sql_csv_words(_category()),
        sql_csv_words(_message()),
        None,
        _shared("item_id_cell"),
        None,
        sql_csv_plain("job"),
        None,
        sql_csv_plain(":upn_cell"),
        None,
        sql_csv_plain("action"),
        _shared("rule_cell"),
        sql_csv_plain(":policy_version"),
        _SHA256,
        _shared("quick_xor_cell"),
    )


def _manifest_line() -> str:
    """columns.MANIFEST_COLUMNS, in order."""
    return sql_csv_line(
        _shared("source_cell"),
        _shared("target_cell"),
        sql_csv_plain("size"),
        _SHA256,
        _shared("quick_xor_cell"),
        _shared("item_id_cell"),
        sql_csv_plain("outcome"),
        _TIME,
        sql_csv_plain("action"),
        _shared("rule_cell"),
        sql_csv_plain(":policy"),
    )


def _register_line() -> str:
    """columns.REGISTER_COLUMNS, in order, for the decisions a register lists."""
    listed = ", ".join(sql_literal(a) for actions in REGISTERS.values() for a in actions)
    line = sql_csv_line(
        sql_csv_plain(":upn_cell"),
        _shared("source_cell"),
        sql_csv_text("path"),
        sql_csv_plain("size"),
        sql_csv_plain(_MODIFIED),
        _SHA256,
        _shared("quick_xor_cell"),
        sql_csv_plain("action"),
        _shared("rule_cell"),
        sql_csv_text("rule_description"),
        sql_csv_text("reason"),
        sql_csv_text("reviewer"),
        sql_csv_text("label"),
        sql_csv_text("certificate"),
        sql_csv_plain(":policy"),
    )
    return f"CASE WHEN action IN ({listed}) THEN {line} END"


def _minute() -> str:
    good = ", ".join(sql_literal(outcome) for outcome in GOOD)
    return f"CASE WHEN outcome IN ({good}) THEN substr(time, 1, 16) END"


_CELLS_SQL = f"""
    SELECT *, {", ".join(f"{sql_csv_cell(cell)} AS {name}" for name, cell in _SHARED.items())}
    FROM ({_FILE_SQL}) AS file LIMIT -1
"""

_LINES_SQL = f"""
    SELECT {_item_line()}, {_manifest_line()}, {_register_line()},
           action, outcome, size,
           CASE WHEN outcome = 'failed' THEN COALESCE(failure, 'unknown') END,
           {_minute()}
    FROM ({_CELLS_SQL}) AS file
"""
