"""`hdrive-migrate status UPN`: where one user's migration stands, for the service desk."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hdrive_migrate.cli.audit import OPERATOR_OPTION, operator
from hdrive_migrate.cli.common import WORKSPACE_OPTION
from hdrive_migrate.display import counted, size_text

if TYPE_CHECKING:
    from hdrive_migrate.migrate.status import FileLine, Report, Verification

EXAMPLE = (
    "Example: hdrive-migrate status alice@contoso.com -w ./wave1 --json; with file names: "
    "hdrive-migrate status alice@contoso.com --files --operator 'Jo Bloggs' -w ./wave1"
)


def status(
    upn: str = typer.Argument(..., help="The user's UPN (any case)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the summary."),
    files: bool = typer.Option(
        False,
        "--files",
        help="Also list the user's files with decision and outcome (names files; audited).",
    ),
    operator_name: str | None = OPERATOR_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Show one user's migration state (pending, scanned, planned, migrating, migrated,
    migrated-with-exceptions, failed or blocked, with the cause), what was scanned, planned,
    migrated and failed (by reason, with the fix), and what to do next. Counts only: no file or
    folder names, so it can be pasted into a ticket.

    --files also lists each planned file, tab-separated (with --json, as `files`): path,
    target path, decision, rule, outcome and reason. Every look-up is recorded in the audit
    log with the operator (status.viewed; status.files_viewed with --files) before anything
    is shown.
    """
    from hdrive_migrate.migrate.status import report, user_files
    from hdrive_migrate.store import record_event
    from hdrive_migrate.workspace import open_workspace

    actor = operator(operator_name)
    with open_workspace(workspace) as ws:
        found = report(ws.db, upn)
        action = "status.files_viewed" if files else "status.viewed"
        detail = {"files": sum(found.planned.values())} if files else {}
        record_event(ws.db, action, found.upn, detail, actor=actor)
        if files:
            _show_files(found, user_files(ws.db, found.upn), as_json)
            return
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2))
        return
    for line in card(found):
        typer.echo(line)


FILE_COLUMNS = ("path", "target_path", "decision", "rule", "outcome", "reason")


def _show_files(found: "Report", lines: "Iterator[FileLine]", as_json: bool) -> None:
    """The report, then LINES one by one as they are read: JSON with a `files` list, or the
    card and a tab-separated table."""
    if as_json:
        # The report's JSON object with `files` added last, written row by row.
        head = json.dumps(found.as_json(), indent=2).rstrip()[:-1].rstrip()
        typer.echo(f'{head},\n  "files": [')
        held = None  # each row is printed once the next shows whether it needs a comma
        for line in lines:
            if held is not None:
                typer.echo(f"{held},")
            held = "    " + json.dumps(line._asdict(), ensure_ascii=False)
        if held is not None:
            typer.echo(held)
        typer.echo("  ]\n}")
        return
    for text in card(found):
        typer.echo(text)
    typer.echo("")
    typer.echo("\t".join(FILE_COLUMNS))
    count = 0
    for line in lines:
        decision = f"{line.decision} (reviewed)" if line.reviewed else line.decision
        cells = (line.path, line.target_path, decision, line.rule, line.outcome, line.reason)
        typer.echo("\t".join(_cell(cell) for cell in cells))
        count += 1
    typer.echo(counted(count, "file"))


def _cell(value: str | None) -> str:
    """VALUE for one cell of a tab-separated line: "-" when empty, and a tab, newline or other
    unprintable character written as its escape, so each file stays on one line."""
    if not value:
        return "-"
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in value)


def card(found: "Report") -> list[str]:
    """The report as a short card of labelled lines."""
    state, cause = found.state
    wave = f" (wave {found.wave})" if found.wave else " (no wave)"
    rows = [("State", state + (f": {cause.explanation}" if cause else ""))]
    if found.scanned_files is not None:
        rows.append(("Scanned", _files(found.scanned_files, found.scanned_bytes)))
    if found.planned:
        planned = ", ".join(f"{action} {count:,}" for action, count in found.planned.items())
        rows.append(("Planned", planned))
    if found.outcomes:
        rows.append(("Migrated", found.progress_text))
    if found.failed_files:
        rows.append(("Failed", counted(found.failed_files, "file")))
        rows += [("", f"{f.count:,} {f.reason}. Fix: {f.fix}") for f in found.failures]
    if found.verification is not None:
        rows.append(("Verified", _verified(found.verification)))
    rows.append(("Last activity", found.last_activity or "-"))
    rows.append(("Next step", found.next_step))
    width = max(len(label) for label, _ in rows) + 2
    return [found.upn + wave] + [
        f"  {(label + ':') if label else '':<{width}}{text}" for label, text in rows
    ]


def _files(count: int, size: int | None) -> str:
    return counted(count, "file") + (f", {size_text(size)}" if size is not None else "")


def _verified(check: "Verification") -> str:
    counts = f"{check.ok:,} of {check.checked:,} intact"
    problems = [f"{getattr(check, kind):,} {kind}" for kind in ("missing", "changed", "unexpected")]
    return f"{check.at or 'running'}: {counts}, {', '.join(problems)}"
