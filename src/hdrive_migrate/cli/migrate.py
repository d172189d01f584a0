"""`hdrive-migrate migrate`: move the chosen users' planned files into their OneDrives."""

import sys
from pathlib import Path

import typer

from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.display import counted, size_text
from hdrive_migrate.errors import HdriveError

EXAMPLE = (
    "Example: hdrive-migrate migrate -w ./wave1 --wave 'Wave 1' --window 19:00-07:00 --max-mbps 400"
)
MAX_CONCURRENCY = 256  # as [migrate] concurrency allows
# Exit codes: a signal's own (128 + its number), as shells report a process it ended.
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
OUTCOMES = ("migrated", "skipped-identical", "renamed", "failed", "blocked", "unchanged")


def migrate(
    workspace: Path = WORKSPACE_OPTION,
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print files, bytes, requests, resource units and the ETA per user; send nothing.",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        help=f"Files in flight at once (1-{MAX_CONCURRENCY}); default [migrate] concurrency.",
    ),
    max_mbps: float | None = typer.Option(
        None, "--max-mbps", help="Cap reads from the source, in megabits per second."
    ),
    window: str | None = typer.Option(
        None,
        "--window",
        help="Start new files only between these local times, HH:MM-HH:MM (e.g. 19:00-07:00); "
        "stop cleanly at the end.",
    ),
    apply_source_deletions: bool = typer.Option(
        False,
        "--apply-source-deletions",
        help="Move files migrated earlier and deleted at the source since to the OneDrive "
        "recycle bin, in a final pass. Without it they are only listed.",
    ),
) -> None:
    """Migrate every file whose current decision is `migrate` (after reviews) into the user's
    OneDrive at its planned target path, with its retention label; verified by QuickXorHash.
    --user with --wave: that user, who must be in that wave. A stopped or killed run resumes
    where it stopped when run again; a re-run after a re-scan sends only new and changed files.

    Each file ends migrated, skipped-identical, renamed, failed (with the reason and its fix) or
    blocked (the user's OneDrive cannot take files). Exits 0 when nothing failed or was
    blocked, 1 otherwise, 130 after Ctrl-C and 143 after SIGTERM (run again to resume).
    """
    from hdrive_migrate.migrate.limits import parse_window
    from hdrive_migrate.migrate.run import MigrateOptions, chunk_bytes
    from hdrive_migrate.workspace import open_workspace

    rate = _max_mbps(max_mbps)
    hours = parse_window(window) if window is not None else None
    with open_workspace(workspace) as ws:
        settings = ws.config.migrate
        options = MigrateOptions(
            wave=wave,
            upn=user,
            concurrency=_concurrency(settings.concurrency if concurrency is None else concurrency),
            max_mbps=rate,
            window=hours,
            chunk_bytes=chunk_bytes(settings.chunk_mib),
            per_minute_ru=settings.quota_ru_per_minute,
            per_day_ru=settings.quota_ru_per_day,
            apply_source_deletions=apply_source_deletions,
        )
        if dry_run:
            _dry_run(ws, options)
            return
        code = _migrate(ws, options)
    raise typer.Exit(code)


def _concurrency(value: int) -> int:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise HdriveError(
            f"--concurrency {value} is out of range",
            fix=f"give a number of files in flight from 1 to {MAX_CONCURRENCY}",
        )
    return value


def _max_mbps(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise HdriveError(
            f"--max-mbps {value:g} is not a rate",
            fix="give megabits per second above 0 (e.g. --max-mbps 400), or leave it out",
        )
    return value


def _dry_run(ws, options) -> None:
    from hdrive_migrate.migrate.forecast import forecast
    from hdrive_migrate.users.roster import select_users

    users = select_users(ws.db, wave=options.wave, upn=options.upn)
    per_user, total = forecast(
        ws.db,
        users,
        chunk=options.chunk_bytes,
        per_minute_ru=options.per_minute_ru,
        per_day_ru=options.per_day_ru,
        max_mbps=options.max_mbps,
    )
    typer.echo(f"{'user':<40} {'files':>10} {'size':>11} {'requests':>10} {'RU':>10} {'ETA':>10}")
    for item in [*per_user, total]:
        typer.echo(
            f"{item.upn:<40} {item.files:>10,} {size_text(item.bytes):>11}"
            f" {item.request_count:>10,} {item.resource_units:>10,} {_duration(item.seconds):>10}"
        )
    typer.echo(
        f"dry run: nothing was sent. Already migrated and unchanged: {total.unchanged:,};"
        f" refused without sending (links, paths over 400 characters): {total.refused:,}."
        f" Quotas: {options.per_minute_ru:,} RU a minute, {options.per_day_ru:,} RU a day"
    )


def _migrate(ws, options) -> int:
    from hdrive_migrate.migrate.progress import JsonLog, Observers, Terminal
    from hdrive_migrate.migrate.run import run_migration
    from hdrive_migrate.store import os_user

    log = JsonLog(ws.dir / "logs")
    observer = Observers(log, Terminal()) if sys.stderr.isatty() else log
    result = run_migration(ws, options, observer, operator=os_user())
    for line in summary_lines(result):
        typer.echo(line)
    if log.path is not None:
        typer.echo(f"run {result.run_id} {result.status}; log: {log.path}")
    if result.status == "stopped":
        return _stopped(result)
    return 1 if result.outcomes["failed"] or result.outcomes["blocked"] else 0


def _stopped(result) -> int:
    cause = result.stop_cause
    if cause == "window":
        typer.echo(
            "the window ended: files not started wait for the next one. Fix: run the same "
            "command again in the next window; it resumes where it stopped",
            err=True,
        )
        return 1 if result.outcomes["failed"] or result.outcomes["blocked"] else 0
    if cause == "SIGTERM":
        typer.echo(
            "stopped by SIGTERM. Fix: run the same command again; it resumes, and what was "
            "finished is kept",
            err=True,
        )
    # SIGINT: the command line's own handler says the same for Ctrl-C (cli/__init__.py).
    return EXIT_SIGNAL.get(cause, 1)


def summary_lines(result) -> list[str]:
    """One line per outcome, the failures by reason with their fixes, blocked users, and
    files deleted at the source since they were migrated."""
    from hdrive_migrate.migrate.reasons import explain

    lines = [f"{state:<18} {counted(result.outcomes[state], 'file')}" for state in OUTCOMES]
    for reason, count in sorted(result.reasons.items()):
        why = explain(reason)
        lines.append(f"  {reason}: {counted(count, 'file')}: {why.explanation}. Fix: {why.fix}")
    for upn, (reason, detail) in sorted(result.blocked.items()):
        lines.append(f"✗ {upn}: blocked, {reason}: {detail}. Fix: {explain(reason).fix}")
    for upn, (count, shown) in sorted(result.deleted.items()):
        lines.append(f"{upn}: {counted(count, 'file')} deleted at the source since migrated:")
        lines += [f"  {gone.target}" for gone in shown]
        if count > len(shown):
            lines.append(f"  … and {count - len(shown):,} more (listed in the log)")
    if result.deleted and not result.removed:
        lines.append(
            "those files are kept in OneDrive; --apply-source-deletions moves them to the "
            "recycle bin"
        )
    lines.append(
        f"sent {size_text(result.sent)} in {counted(result.requests, 'request')}"
        f" ({result.resource_units:,} RU), throttled {result.throttled:,};"
        f" moved to the recycle bin {result.removed:,}"
    )
    return lines


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"
