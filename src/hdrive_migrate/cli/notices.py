"""`hdrive-migrate notices`: tell each user, plainly, what happens to their H: drive."""

from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from hdrive_migrate.cli.audit import OPERATOR_OPTION, operator
from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.clock import SYSTEM_CLOCK
from hdrive_migrate.display import counted
from hdrive_migrate.errors import HdriveError

EXAMPLE = (
    "Example: hdrive-migrate notices --wave 'Wave 1' --stage before --date 2026-03-14 "
    "--out ./notices/wave1-before -w ./wave1; then the same with --send to mail them"
)


class Stage(StrEnum):
    BEFORE = "before"
    AFTER = "after"


def notices(
    stage: Stage = typer.Option(..., "--stage", help="before the wave, or after it."),
    out: Path = typer.Option(
        ..., "--out", help="Folder for the notices (UPN.txt and UPN.html).", file_okay=False
    ),
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
    moves_on: str | None = typer.Option(
        None,
        "--date",
        help="The day the wave moves (YYYY-MM-DD), for before-notices; without it they say "
        '"during wave NAME".',
    ),
    send: bool = typer.Option(
        False,
        "--send",
        help="Also mail each notice from [notices] mailbox through Graph (Mail.Send); a user "
        "already sent this stage's notice is not sent it again.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Also replace files in --out that no earlier notices run wrote."
    ),
    operator_name: str | None = OPERATOR_OPTION,
    workspace: Path = WORKSPACE_OPTION,
) -> None:
    """Write one plain message per user (default everyone; --wave, --user) from the IT team,
    as OUT/UPN.txt (its first line the subject) and OUT/UPN.html.

    Before the wave: when their H: drive moves, how many files will move, how many will not
    and why (counts by reason, never names), and what to look through by when ([notices]
    review_by_days). After it: where their files are in OneDrive, what did not move and why,
    and whom to call ([notices] service_desk). Users with nothing to be told yet (no plan;
    after: not migrated) are skipped and counted.

    The wording comes from WORKSPACE/templates/notices/{before,after}.{txt,html}.j2 (Jinja2),
    copied from the defaults the first time and then the team's to edit; the values they are
    given are in docs/notices.md. Each user's name and address come from the tenant.

    With --send, each sent notice is recorded per user and stage and in the audit log; a
    failure for one user is recorded and the rest still go. Exit 1 when any send failed.
    """
    from hdrive_migrate.notices.run import NoticeRequest, run_notices
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    actor = operator(operator_name)
    request = NoticeRequest(
        stage=str(stage), out=out, wave=wave, moves_on=_day(moves_on), send=send, force=force
    )
    with open_workspace(workspace) as ws:
        users = select_users(ws.db, wave=wave, upn=user)
        done = run_notices(ws, users, request, today=SYSTEM_CLOCK.now().date(), actor=actor)
    if done.copied_templates:
        typer.echo(
            f"copied the default templates to {done.templates}: edit them to change the wording"
        )
    typer.echo(f"wrote {counted(len(done.written), 'notice')} ({stage}) to {done.folder}")
    for why, upns in done.skipped.items():
        typer.echo(f"skipped {counted(len(upns), 'user')}, {why}: {', '.join(upns)}")
    if send:
        typer.echo(
            f"sent {done.sent:,} from {done.mailbox}; {done.already_sent:,} already sent "
            f"before; {len(done.failed):,} failed"
        )
        for upn, why in done.failed.items():
            typer.echo(f"  {upn}: {why}", err=True)
    raise typer.Exit(1 if done.failed else 0)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HdriveError(
            f"--date {text} is not a date", fix="give the day the wave moves as YYYY-MM-DD"
        ) from None
