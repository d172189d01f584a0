"""`hdrive-migrate plan ...`: decide every scanned file by policy, explain one decision, or see
what a new policy version would change."""

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.plan.holds import ALLOW_FLAG, Holds, UnmatchedHolds, read_holds

if TYPE_CHECKING:
    from hdrive_migrate.config import Config
    from hdrive_migrate.plan.run import PlanRequest, PlanResult

EXAMPLE = (
    "Example: hdrive-migrate plan -w ./wave1 --policy policies/personal-files.yaml "
    "--holds holds.csv --wave 'Wave 1'"
)
app = typer.Typer(
    help="Decide every scanned file by the records managers' policy.",
    epilog=EXAMPLE,
    invoke_without_command=True,
)
POLICY = typer.Option(None, "--policy", help="Policy YAML file (see policies/).")
HOLDS = typer.Option(
    None, "--holds", help="Hold register CSV upn,path; default [plan] holds in hdrive.toml."
)


@app.callback()
def plan_command(
    ctx: typer.Context,
    workspace: Path = WORKSPACE_OPTION,
    policy: Path | None = POLICY,
    holds: Path | None = HOLDS,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Reference date for ages, YYYY-MM-DD; default today."
    ),
    allow_future_as_of: bool = typer.Option(
        False, "--allow-future-as-of", help="Accept an --as-of after today, to plan ahead."
    ),
    allow_unmatched_holds: bool = typer.Option(
        False,
        ALLOW_FLAG,
        help="Plan even when hold register rows match no file of a user being planned (each is"
        " warned of).",
    ),
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
) -> None:
    """Plan the chosen users (default everyone scanned): a decision for every file, recorded
    with the deciding rule, every matched rule, the policy's id, version and SHA-256, the
    reference date and the run. Re-planning replaces a user's plan and keeps the old one.
    A hold register row whose path matches no file of a user being planned stops the plan
    (exit 2) unless --allow-unmatched-holds; a row naming a UPN not in the workspace is a
    warning naming its line."""
    from hdrive_migrate.plan.run import plan
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    if ctx.invoked_subcommand is not None:
        return
    if policy is None:
        raise HdriveError(
            "no policy given", fix="add --policy FILE, e.g. policies/personal-files.yaml"
        )
    day = reference_date(as_of, allow_future=allow_future_as_of)
    with open_workspace(workspace) as ws:
        upns = [chosen.upn for chosen in select_users(ws.db, wave=wave, upn=user)]
        request = plan_request(ws.config, policy, holds, day, allow_unmatched_holds)
        try:
            result = plan(ws.db, upns, request)
        except UnmatchedHolds as exc:
            warn(exc.warnings)
            raise _one_line_per_row(exc) from None
    warn(result.unmatched_holds)
    if result.planned_in_python:
        typer.echo(
            f"{policy}: note: planned file by file in Python, which is slower"
            f" ({result.planned_in_python}); the decisions are the same",
            err=True,
        )
    actions = "; ".join(f"{action} {count:,}" for action, count in sorted(result.by_action.items()))
    typer.echo(
        f"plan run {result.run_id}: {len(result.planned)} user(s), {result.decisions:,} files"
        f" ({actions or 'none'})"
    )
    typer.echo(holds_summary(result, request.holds))
    for upn in result.not_scanned:
        typer.echo(
            f"✗ {upn}: not planned: the latest scan has not completed."
            " Fix: run `hdrive-migrate scan` for this user"
        )
    raise typer.Exit(1 if result.not_scanned else 0)


@app.command(
    epilog="Example: hdrive-migrate plan explain jdoe@force.police.uk 'Cases/note.docx' --json"
)
def explain(
    upn: str = typer.Argument(..., help="The user's UPN."),
    path: str = typer.Argument(..., help="The file's path relative to the H: root."),
    workspace: Path = WORKSPACE_OPTION,
    json_output: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """Why a file has its decision: deciding rule, every matched rule, action, label, target."""
    from hdrive_migrate.plan.explain import explain as explain_decision
    from hdrive_migrate.store import record_event
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        found = explain_decision(ws.db, upn, path)
        # A consultation showing a file's name (DPA 2018 s62): the name may be logged.
        record_event(ws.db, "plan.explained", found.upn, {"path": found.path})
    if json_output:
        typer.echo(json.dumps(found.as_json(), indent=2))
        return
    typer.echo(f"{found.upn}: {found.path}")
    typer.echo(f"  action      {found.action}" + (f" (label {found.label})" if found.label else ""))
    typer.echo(f"  decided by  {found.rule}: {found.rule_description}")
    typer.echo(f"  matched     {', '.join(found.matched)}")
    if found.reason:
        typer.echo(f"  reason      {found.reason}")
    if found.target_path:
        typer.echo(f"  target      {found.target_path}")
    policy = found.policy
    typer.echo(
        f"  policy      {policy['id']} {policy['version']} (sha256 {policy['sha256'][:12]}),"
        f" as of {found.as_of}, run {found.run_id}"
    )


@app.command(epilog="Example: hdrive-migrate plan diff -w ./wave1 --policy personal-files-v2.yaml")
def diff(
    workspace: Path = WORKSPACE_OPTION,
    policy: Path = typer.Option(..., "--policy", help="The new policy version."),
    holds: Path | None = HOLDS,
    wave: str | None = WAVE_OPTION,
    json_output: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """What a new policy would change: files by old action -> new action, with sample paths.
    No plan is written; the audit log records the consultation, which shows file names."""
    from hdrive_migrate.plan.diff import diff_plans
    from hdrive_migrate.store import record_event
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        upns = [chosen.upn for chosen in select_users(ws.db, wave=wave, upn=None)]
        request = plan_request(ws.config, policy, holds, today())
        result = diff_plans(ws.db, upns, request)
        shown = sum(len(change["samples"]) for change in result.as_json()["changes"])
        record_event(ws.db, "plan.diffed", str(policy), {"users": len(upns), "samples": shown})
    if json_output:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    for change in result.as_json()["changes"]:
        typer.echo(f"{change['from']} -> {change['to']}: {change['files']:,} files")
        for sample in change["samples"]:
            typer.echo(f"    {sample}")
    typer.echo(f"unchanged: {result.unchanged:,} files")
    for upn in result.not_planned:
        typer.echo(f"not planned yet: {upn}")


def plan_request(
    config: "Config",
    policy: Path,
    holds: Path | None,
    as_of: date,
    allow_unmatched_holds: bool = False,
) -> "PlanRequest":
    from hdrive_migrate.plan.names import NameMapping
    from hdrive_migrate.plan.run import PlanRequest

    holds_file = holds or config.holds_file
    return PlanRequest(
        policy_file=policy,
        holds=read_holds(holds_file) if holds_file else Holds(),
        as_of=as_of,
        atime_trusted=config.trust_access_time,
        target_folder=config.target_folder,
        mapping=NameMapping(style=config.name_mapping, replacement=config.replacement),
        allow_unmatched_holds=allow_unmatched_holds,
    )


def warn(rows: list[HdriveError]) -> None:
    """One warning line for each hold register row that holds nothing."""
    for row in rows:
        typer.echo(f"{row.where}: warning: {row.what}. Fix: {row.fix}", err=True)


def holds_summary(result: "PlanResult", holds: Holds) -> str:
    """Which register the plan used and what it held, so records managers can see a hold
    register that was left out or held nothing."""
    if holds.source is None:
        return "holds: no hold register given, so no file is on hold"
    line = f"holds: {result.held:,} file(s) held by {holds.source}"
    if result.unmatched_holds:
        line += f"; {len(result.unmatched_holds)} row(s) matched nothing"
    return line


def today() -> date:
    """Today where the command runs (ages are counted in the organisation's own days)."""
    from hdrive_migrate.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK.now().astimezone().date()


def reference_date(text: str | None, *, allow_future: bool) -> date:
    """The --as-of date (default today), refused outside the range ages are measured in."""
    from hdrive_migrate.plan.run import check_reference_date

    day_now = today()
    if text is None:
        return day_now
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HdriveError(f"--as-of {text!r} is not a date", fix="write it as YYYY-MM-DD") from None
    check_reference_date(day, day_now, allow_future=allow_future)
    return day


def _one_line_per_row(exc: UnmatchedHolds) -> HdriveError:
    """The error to end with: the only bad row itself, or, after printing each bad row, the
    summary; either way every bad row is one line naming its file and line."""
    if len(exc.rows) == 1:
        row = exc.rows[0]
        return HdriveError(row.what, where=row.where, fix=f"{row.fix}; or add {ALLOW_FLAG}")
    for row in exc.rows:
        typer.echo(str(row), err=True)
    return exc
