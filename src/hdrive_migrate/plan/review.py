"""The records managers' round trip: `review export` lists the files awaiting their decision,
`review import` records the decisions they wrote in, row by row.

A file awaits review when its effective decision (plan.current) is `review`: the plan said so
and no review of the current plan run has decided otherwise. Reviews are recorded against the
user's current plan run; after a re-plan they stay as history but no longer apply, so a file
the new plan sends to review is exported again.

Import accepts a row for a file awaiting review, or for a file a review of the current run has
already decided (the latest review wins, so a mistake can be corrected). It rejects a row for a
file the policy itself decided, or one already in a disposal certificate: those change only by
changing the policy, or not at all. Good rows are recorded even when others are rejected.
"""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate.csvfiles import csv_records, read_csv_text
from hdrive_migrate.display import counted
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import CSV_ENCODING, csv_writer, from_excel, open_output, person_name
from hdrive_migrate.plan.current import EFFECTIVE_SQL, Effective
from hdrive_migrate.store import record_event, transaction
from hdrive_migrate.users.csvfiles import RowError

EXPORT_COLUMNS = (
    "upn",
    "path",
    "size",
    "modified",
    "rule",
    "rule_description",
    "reason",
    "current_action",
    "plan_run",
    "decision",
    "label",
    "note",
)
REQUIRED_COLUMNS = ("upn", "path", "decision")
DECISIONS = ("migrate", "exclude", "hold", "dispose_after_approval", "divert_evidence", "review")

_AWAITING_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.upn, e.path, f.size, f.modified, e.rule_id, e.rule_description, e.reason,
           e.action, e.run_id,
           EXISTS (SELECT 1 FROM reviews AS r
                   WHERE r.upn = e.upn AND r.path = e.path AND r.run_id <> e.run_id) AS stale
    FROM effective AS e JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    WHERE e.action = 'review'
    ORDER BY e.path
"""

_ONE_FILE_SQL = f"WITH effective AS ({EFFECTIVE_SQL}) SELECT * FROM effective WHERE path = :path"


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: ROWS files awaiting review, STALE of them with reviews of an
    earlier plan run only (which no longer apply)."""

    file: str
    rows: int
    stale: int

    def summary(self) -> str:
        line = f"{self.file}: {counted(self.rows, 'file')} awaiting review"
        if self.stale:
            line += (
                f"; {self.stale} of them were reviewed under an earlier plan run, and those "
                "reviews no longer apply"
            )
        return line


def export_reviews(
    db: Database, upns: list[str], out: Path, *, workspace: Path, force: bool
) -> ExportReport:
    """Write OUT (replaced atomically), a CSV of EXPORT_COLUMNS with one row per file of UPNS
    awaiting review, user by user, in path order; decision, label and note are left empty for
    the records manager. The export is recorded in the audit log (a disclosure under s62).
    OUT may not be one of WORKSPACE's own files, nor an existing file unless FORCE
    (`open_output`)."""
    rows = stale = 0
    with open_output(out, workspace=workspace, force=force, encoding=CSV_ENCODING) as handle:
        writer = csv_writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for upn in upns:
            for row in db.execute(_AWAITING_SQL, {"upn": upn}):
                writer.writerow(_export_cells(*row))
                rows += 1
                stale += row[-1]
    detail = {"users": len(upns), "rows": rows, "stale": stale}
    record_event(db, "review.exported", str(out.resolve()), detail)
    return ExportReport(str(out), rows, stale)


def _export_cells(
    upn: str,
    path: str,
    size: int,
    modified: float | None,
    rule: str,
    description: str,
    reason: str | None,
    action: str,
    run_id: int,
    _stale: int,
) -> list:
    day = "" if modified is None else datetime.fromtimestamp(modified, UTC).date().isoformat()
    return [upn, path, size, day, rule, description, reason, action, run_id, "", "", ""]


@dataclass(frozen=True)
class ReviewRow:
    """A decided row of the CSV: the records manager's DECISION (lower case) for PATH of UPN,
    with LABEL and NOTE (None when empty), and the PLAN_RUN it was exported from (None when the
    file does not say)."""

    line: int
    upn: str
    path: str
    decision: str
    label: str | None
    note: str | None
    plan_run: int | None


@dataclass(frozen=True)
class Accepted:
    """A row that passed every check, for USER's current PLAN_RUN; UNCHANGED when the latest
    review of the file already says the same."""

    row: ReviewRow
    upn: str
    plan_run: int
    label: str | None
    unchanged: bool


@dataclass(frozen=True)
class ImportReport:
    """What an import did: RECORDED reviews, rows UNCHANGED from the latest review, rows left
    UNDECIDED (no decision), and one error per rejected row, in line order."""

    file: str
    recorded: int
    unchanged: int
    undecided: int
    errors: list[RowError]

    def summary(self) -> str:
        return (
            f"{self.file}: recorded {self.recorded}, unchanged {self.unchanged}, "
            f"undecided {self.undecided}, rejected {len(self.errors)}"
        )


def import_reviews(db: Database, path: Path, *, reviewer: str, now: datetime) -> ImportReport:
    """Record the decisions in the CSV at PATH as REVIEWER's, made at NOW, with the file and
    line each came from, and one audit event with the counts. Rows without a decision are
    skipped. A file that cannot be read, is not CSV, or whose header is wrong raises HdriveError
    and records nothing."""
    reviewer = _reviewer_name(reviewer)
    rows, errors, undecided = _parse(read_csv_text(path), str(path))
    rows, duplicates = _reject_duplicates(rows)
    with transaction(db):
        accepted, refused = _check_all(db, rows)
        fresh = [item for item in accepted if not item.unchanged]
        source = str(path.resolve())
        _record(db, fresh, reviewer, source, now)
        rejected = len(errors) + len(duplicates) + len(refused)
        detail = {
            "reviewer": reviewer,
            "recorded": len(fresh),
            "unchanged": len(accepted) - len(fresh),
            "undecided": undecided,
            "rejected": rejected,
            "decisions": dict(Counter(item.row.decision for item in fresh)),
        }
        if accepted:  # a file rejected whole leaves the workspace as it was
            record_event(db, "review.imported", source, detail, at=now)
    errors = sorted([*errors, *duplicates, *refused], key=lambda error: error.line)
    return ImportReport(str(path), len(fresh), len(accepted) - len(fresh), undecided, errors)


def _reviewer_name(name: str) -> str:
    return person_name(
        name,
        option="--reviewer",
        role="a reviewer",
        fix="give the records manager's name, e.g. --reviewer 'Jo Bloggs'",
    )


def _parse(text: str, file: str) -> tuple[list[ReviewRow], list[RowError], int]:
    """The decided rows, the rows in error, and how many rows had no decision."""
    records = list(csv_records(text, file))
    if not records:
        raise HdriveError(
            "the file is empty",
            fix="import the CSV `hdrive-migrate review export` wrote, with decisions filled in",
            where=file,
        )
    header_line, header = records[0]
    columns = _columns(header, f"{file}:{header_line}")
    rows: list[ReviewRow] = []
    errors: list[RowError] = []
    undecided = 0
    for line, cells in records[1:]:
        parsed = _parse_row(line, cells, columns)
        if parsed is None:
            undecided += 1
        elif isinstance(parsed, RowError):
            errors.append(parsed)
        else:
            rows.append(parsed)
    return rows, errors, undecided


def _columns(header: list[str], where: str) -> dict[str, int]:
    """Column name -> index. Any of EXPORT_COLUMNS may be left out but REQUIRED_COLUMNS; an
    unknown name is refused, since a misspelt label or note column would be silently lost."""
    names = [cell.strip().lower() for cell in header]
    unknown = [name for name in names if name not in EXPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if unknown:
        problem = "unknown column " + ", ".join(repr(name) for name in unknown)
    elif missing:
        problem = "no column " + ", ".join(missing)
    elif repeated:
        problem = "more than one column " + ", ".join(repeated)
    else:
        return {name: index for index, name in enumerate(names)}
    raise HdriveError(
        problem,
        fix=f"keep the header review export wrote ({','.join(EXPORT_COLUMNS)}); "
        "upn, path and decision are required",
        where=where,
    )


def _parse_row(line: int, cells: list[str], columns: dict[str, int]) -> ReviewRow | RowError | None:
    """A decided row, a RowError, or None for a row with no decision yet."""
    if len(cells) != len(columns):
        return RowError(
            line,
            f"{len(cells)} columns where the header has {len(columns)}",
            "write one value per header column, quoting any value that holds a comma",
        )
    # Export quotes every text cell a spreadsheet would take for a formula.
    cell = {name: from_excel(cells[index]) for name, index in columns.items()}.get
    decision = cell("decision", "").strip().lower()
    label, note = cell("label", "").strip(), cell("note", "").strip()
    if not decision:
        if label or note:
            return RowError(
                line,
                "a label or note but no decision",
                f"write a decision ({', '.join(DECISIONS)}) or clear the label and note",
            )
        return None
    upn, path, run = cell("upn").strip(), cell("path"), cell("plan_run", "").strip()
    problem = _row_problem(upn, path, decision, label, run)
    if problem is not None:
        return RowError(line, *problem)
    plan_run = int(run) if run else None
    return ReviewRow(line, upn, path, decision, label or None, note or None, plan_run)


def _row_problem(
    upn: str, path: str, decision: str, label: str, run: str
) -> tuple[str, str] | None:
    """(what, fix) for the first thing wrong with a decided row on its own, else None."""
    if not upn or not path:
        return f"no {'path' if upn else 'upn'}", "copy the upn and path from the export"
    if decision not in DECISIONS:
        return (
            f"decision {decision!r} is not one of {', '.join(DECISIONS)}",
            "write one of them exactly, e.g. exclude",
        )
    if label and decision != "migrate":
        return (
            f"a label with the decision {decision}",
            "only migrate takes a retention label: clear the label or decide migrate",
        )
    if run and not (run.isascii() and run.isdigit()):
        return f"plan_run {run!r} is not a plan run number", "copy it from the export"
    return None


def _reject_duplicates(rows: list[ReviewRow]) -> tuple[list[ReviewRow], list[RowError]]:
    """Every row of a file decided on more than one line is rejected: recording any one of
    them would be a guess at which the records manager meant."""
    lines = defaultdict(list)
    for row in rows:
        lines[row.upn.lower(), row.path].append(row.line)
    kept: list[ReviewRow] = []
    errors: list[RowError] = []
    for row in rows:
        others = [str(line) for line in lines[row.upn.lower(), row.path] if line != row.line]
        if others:
            errors.append(
                RowError(
                    row.line,
                    f"{row.path} of {row.upn} is decided again on line {', '.join(others)}",
                    "keep one row per file, with the decision you mean",
                )
            )
        else:
            kept.append(row)
    return kept, errors


def _check_all(db: Database, rows: list[ReviewRow]) -> tuple[list[Accepted], list[RowError]]:
    accepted: list[Accepted] = []
    refused: list[RowError] = []
    for row in rows:
        outcome = _check(db, row)
        (refused if isinstance(outcome, RowError) else accepted).append(outcome)
    return accepted, refused


class _Plan(NamedTuple):
    """A user's current plan run, and the retention labels its policy may apply."""

    run_id: int
    labels: tuple[str, ...]
    policy: str


def _current_plan(db: Database, upn: str) -> _Plan | None:
    found = db.execute(
        "SELECT run_id, policy_labels, policy_id || ' ' || policy_version FROM plan_users"
        " JOIN plan_runs ON plan_runs.id = plan_users.run_id WHERE upn = ?",
        [upn],
    ).fetchone()
    return None if found is None else _Plan(found[0], tuple(json.loads(found[1])), found[2])


def _check(db: Database, row: ReviewRow) -> Accepted | RowError:
    """Whether ROW can be recorded against its user's current plan."""
    user = db.execute("SELECT upn FROM users WHERE upn = ?", [row.upn]).fetchone()
    if user is None:
        return RowError(
            row.line, f"no user {row.upn} in this workspace", "copy the upn from the export"
        )
    upn = user[0]
    plan = _current_plan(db, upn)
    if plan is None:
        return RowError(row.line, f"{upn} has no plan yet", "plan them, then export again")
    if row.plan_run is not None and row.plan_run != plan.run_id:
        return RowError(
            row.line,
            f"exported from plan run {row.plan_run}, but {upn}'s current plan is run {plan.run_id}",
            "export again and decide the new rows: reviews of an earlier plan run do not apply",
        )
    current = db.execute(_ONE_FILE_SQL, {"upn": upn, "path": row.path}).fetchone()
    if current is None:
        return _not_planned(db, row, upn, plan.run_id)
    return _judge(db, row, Effective(*current), plan)


def _not_planned(db: Database, row: ReviewRow, upn: str, run_id: int) -> RowError:
    known = db.execute("SELECT 1 FROM files WHERE upn = ? AND path = ?", [upn, row.path])
    if known.fetchone() is None:
        return RowError(
            row.line,
            f"no file {row.path!r} in {upn}'s inventory",
            "copy the path exactly from the export (case matters)",
        )
    return RowError(
        row.line,
        f"{row.path!r} is not in {upn}'s current plan (run {run_id})",
        "plan them again so the plan covers what the latest scan found, then export again",
    )


def _judge(db: Database, row: ReviewRow, current: Effective, plan: _Plan) -> Accepted | RowError:
    """Accept ROW for a file awaiting review or already reviewed in this run, unless its label
    is not the policy's or the file is in a disposal certificate."""
    label = _policy_label(row.label, plan.labels)
    if row.label is not None and label is None:
        return RowError(
            row.line,
            f"label {row.label!r} is not one policy {plan.policy} uses",
            f"use one of: {', '.join(plan.labels) or '(none)'}; or leave it empty",
        )
    certified = db.execute(
        "SELECT certificate FROM disposal_items JOIN disposals ON disposals.id = disposal_id"
        " WHERE upn = ? AND path = ?",
        [current.upn, current.path],
    ).fetchone()
    if certified is not None:
        return RowError(
            row.line,
            f"already approved for disposal in certificate {certified[0]}",
            "remove the row: a certified disposal cannot be changed by review",
        )
    if current.review_id is None and current.action != "review":
        return RowError(
            row.line,
            f"not awaiting review: rule {current.rule_id} of the policy decided {current.action}",
            "remove the row; to decide it otherwise, change the policy and plan again",
        )
    latest = db.execute(
        "SELECT decision, label, note FROM reviews WHERE id = ?", [current.review_id]
    ).fetchone()
    unchanged = latest == (row.decision, label, row.note)
    return Accepted(row, current.upn, plan.run_id, label, unchanged)


def _policy_label(label: str | None, labels: tuple[str, ...]) -> str | None:
    """LABEL as the policy spells it (Purview label names ignore case), else None."""
    if label is None:
        return None
    return {name.lower(): name for name in labels}.get(label.lower())


def _record(db: Database, items: list[Accepted], reviewer: str, source: str, now: datetime) -> None:
    at = now.astimezone(UTC).isoformat(timespec="seconds")
    db.conn.executemany(
        "INSERT INTO reviews(run_id, upn, path, decision, label, note, reviewer, source_file,"
        " source_line, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                item.plan_run,
                item.upn,
                item.row.path,
                item.row.decision,
                item.label,
                item.row.note,
                reviewer,
                source,
                item.row.line,
                at,
            )
            for item in items
        ],
    )
