"""`hdrive-migrate scan ...`: inventory home folders, and summarise what scans found."""

import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hdrive_migrate.cli.common import USER_OPTION, WAVE_OPTION, WORKSPACE_OPTION
from hdrive_migrate.clock import SYSTEM_CLOCK
from hdrive_migrate.display import counted, size_text

if TYPE_CHECKING:
    from hdrive_migrate.scan.run import Progress, ScanResult
    from hdrive_migrate.scan.summary import UserSummary

EXAMPLE = "Example: hdrive-migrate scan -w ./wave1 --wave 'Wave 1' --hash"
app = typer.Typer(
    help="Inventory users' home folders into the workspace, with findings and deltas.",
    epilog=EXAMPLE,
    invoke_without_command=True,
)


@app.callback()
def scan(
    ctx: typer.Context,
    workspace: Path = WORKSPACE_OPTION,
    wave: str | None = WAVE_OPTION,
    user: str | None = USER_OPTION,
    hashed: bool = typer.Option(
        False, "--hash", help="Also read every new or changed file: SHA-256 and QuickXorHash."
    ),
    listers: int | None = typer.Option(
        None,
        "--listers",
        min=1,
        max=256,
        help="Processes listing folders beside the one writing the inventory "
        "(default [scan] listers, else one per core).",
    ),
) -> None:
    """Scan the chosen users (default everyone imported; --user with --wave: that user, who
    must be in that wave). A re-scan records what is new, changed, deleted and unchanged
    since the last one; a killed scan resumes where it was. The source is only read, never
    changed. Exits 1 when a user's folder could not be scanned."""
    from hdrive_migrate.scan.excludes import Excludes
    from hdrive_migrate.scan.run import ScanOptions, scan_users
    from hdrive_migrate.sources.open import open_source
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    if ctx.invoked_subcommand is not None:
        return
    with open_workspace(workspace) as ws:
        users = select_users(ws.db, wave=wave, upn=user)
        source = open_source(ws.config.source_root, ws.config.smb_user)
        options = ScanOptions(
            target_folder=ws.config.target_folder,
            excludes=Excludes(ws.config.scan_exclude),
            hashed=hashed,
            atime_trusted=ws.config.trust_access_time,
            workers=source.parallel_listings,
            listers=listers or ws.config.scan_listers,
        )
        # Each lister opens the source for itself: connections are not shared between processes.
        open_lister_source = partial(open_source, ws.config.source_root, ws.config.smb_user)
        try:
            with progress_display() as progress:
                chosen = [(person.upn, person.folder) for person in users]
                results = scan_users(ws.db, source, open_lister_source, chosen, options, progress)
        finally:
            source.close()
    for result in results:
        typer.echo(result_line(result))
    raise typer.Exit(1 if any(result.status != "complete" for result in results) else 0)


@app.command(epilog="Example: hdrive-migrate scan summary -w ./wave1 --wave 'Wave 1' --json")
def summary(
    workspace: Path = WORKSPACE_OPTION,
    wave: str | None = WAVE_OPTION,
    json_output: bool = typer.Option(False, "--json", help="One JSON list of objects."),
) -> None:
    """Per user: files, folders, bytes, what `[scan] exclude` left out, and findings by kind,
    from the latest complete scan. JSON keys: upn, wave, status, scanned_at, files, folders,
    bytes, new, changed, unchanged, deleted, excluded (files left out), excluded_folders
    (folders left out, not listed, so what they hold is not counted) and findings."""
    from hdrive_migrate.scan.summary import summarise
    from hdrive_migrate.users.roster import select_users
    from hdrive_migrate.workspace import open_workspace

    with open_workspace(workspace) as ws:
        users = [chosen.upn for chosen in select_users(ws.db, wave=wave, upn=None)]
        summaries = summarise(ws.db, users)
    if json_output:
        typer.echo(json.dumps([s.as_json() for s in summaries], indent=2))
        return
    for line in summary_lines(summaries):
        typer.echo(line)


def result_line(result: "ScanResult") -> str:
    if result.status != "complete":
        return f"✗ {result.upn}: not scanned: {result.problem}"
    c = result.counts
    return (
        f"✓ {result.upn}: {counted(c.files, 'file')}, {counted(c.folders, 'folder')},"
        f" {size_text(c.bytes)};"
        f" new {c.new:,}, changed {c.changed:,}, unchanged {c.unchanged:,},"
        f" deleted {c.deleted:,}; findings {result.findings:,}"
    )


def summary_lines(summaries: "list[UserSummary]") -> list[str]:
    lines = [
        f"{'user':<40} {'status':<12} {'files':>10} {'folders':>8} {'size':>10}"
        f" {'excluded':>10}  findings"
    ]
    for s in summaries:
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(s.findings.items()))
        lines.append(
            f"{s.upn:<40} {s.status:<12} {s.files:>10,} {s.folders:>8,}"
            f" {size_text(s.bytes):>10} {_excluded(s):>10}  {kinds or '-'}"
        )
    return lines


def _excluded(s: "UserSummary") -> str:
    """Files left out by `[scan] exclude`, with the folders left out unlisted as "+N dirs"."""
    return f"{s.excluded:,}" + (f"+{s.excluded_folders:,} dirs" if s.excluded_folders else "")


class TerminalProgress:
    """A scan's Progress drawn on a terminal: files, bytes and rate."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import TextColumn, TimeElapsedColumn

        self.bar = RichProgress(
            TextColumn("{task.description}"),
            TextColumn("{task.fields[files]:>12,} files"),
            TextColumn("{task.fields[size]:>10}"),
            TextColumn("{task.fields[rate]:>8,.0f} files/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.bar.add_task("scanning", files=0, size="0 B", rate=0.0)
        self.files = 0
        self.bytes = 0
        self.started = SYSTEM_CLOCK.monotonic()

    def start_user(self, upn: str) -> None:
        self.bar.update(self.task, description=f"scanning {upn}")

    def listed(self, files: int, size: int) -> None:
        self.files += files
        self.bytes += size
        rate = self.files / max(SYSTEM_CLOCK.monotonic() - self.started, 1e-6)
        self.bar.update(self.task, files=self.files, size=size_text(self.bytes), rate=rate)

    def hashed(self, files: int, size: int) -> None:
        self.bar.update(self.task, description="hashing")

    def __enter__(self) -> "TerminalProgress":
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()


def progress_display() -> "Progress":
    """TerminalProgress on a terminal; otherwise a Progress that shows nothing."""
    from hdrive_migrate.scan.run import Progress

    return TerminalProgress() if sys.stderr.isatty() else Progress()
