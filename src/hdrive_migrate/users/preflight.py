"""`preflight`: can each user be migrated yet?

Per user: the home folder exists and can be listed, the UPN names a user in the tenant (a UPN
guessed from a OneDrive URL is confirmed first), and their OneDrive is provisioned. Each user's
OneDrive is probed once per run, because repeated probes of missing OneDrives get the app
throttled. The findings replace the user's previous preflight findings, and `users.state`, the
preflight verdict, becomes "ready" (none) or "blocked".

The verdict is not the user's migration state: that is derived from the whole database
(migrate/status.py), which counts preflight findings only while nothing has been sent, so a
preflight run later (say after cutover, the H: drive gone) never sets a user back.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from hdrive_migrate.sources import EntryError, Source
from hdrive_migrate.store import now_text, record_event, transaction
from hdrive_migrate.users.resolve import Directory, Finding, Person, confirm_derived
from hdrive_migrate.users.roster import (
    PREFLIGHT_STAGE,
    User,
    home_folders,
    is_derived,
    opened_source,
    rename_user,
    select_users,
    unmark_derived,
    user,
)
from hdrive_migrate.users.upns import personal_segment
from hdrive_migrate.workspace import Workspace

STAGE = PREFLIGHT_STAGE
READY, BLOCKED = "ready", "blocked"
FIX_UPN = "correct the UPN in the user list and import it again"


@dataclass(frozen=True)
class UserCheck:
    """One user's preflight: their UPN (as confirmed), folder, and what blocks them."""

    upn: str
    folder: str
    findings: list[Finding]

    @property
    def ready(self) -> bool:
        return not self.findings


def run_preflight(
    workspace: Workspace, *, wave: str | None = None, upn: str | None = None
) -> list[UserCheck]:
    """Check the users of WAVE, or the user UPN, or everyone; record the outcome per user as
    it is known, and the run in the audit log. Users are checked one after another, in UPN
    order. An unusable source or a Graph failure other than "not found" raises HdriveError."""
    users = select_users(workspace.db, wave=wave, upn=upn)
    with opened_source(workspace.config) as source:
        checks = asyncio.run(_check_all(workspace, source, users))
    ready = sum(check.ready for check in checks)
    detail = {"wave": wave, "user": upn, "ready": ready, "blocked": len(checks) - ready}
    record_event(workspace.db, "preflight", wave or upn or "all users", detail)
    return checks


async def _check_all(workspace: Workspace, source: Source, users: list[User]) -> list[UserCheck]:
    # Imported here: the Graph SDK is only loaded by commands that talk to Graph.
    from hdrive_migrate.graph.client import GraphConnection
    from hdrive_migrate.graph.pacer import paced_by

    folders = home_folders(source)
    async with GraphConnection(workspace.config.graph) as connection:
        directory = Directory(connection, paced_by(workspace.config))
        return [await check_user(workspace.db, source, folders, directory, u) for u in users]


async def check_user(
    db: Database, source: Source, folders: Mapping[str, str], directory: Directory, person: User
) -> UserCheck:
    """Check PERSON against SOURCE (whose root holds FOLDERS, by lower-cased name) and the
    tenant, and record the outcome."""
    findings = folder_findings(source, folders, person.folder)
    upn, identity, problem = await _confirmed(db, directory, person.upn)
    drive_id = None
    if problem is not None:
        findings.append(problem)
    elif (drive_id := await directory.drive_id(upn)) is None:
        findings.append(
            Finding(
                "onedrive_not_provisioned",
                f"the OneDrive of {upn} is not provisioned",
                f"pre-provision it (SharePoint Online PowerShell: Request-SPOPersonalSite "
                f"-UserEmails {upn}), wait for the queue, then run preflight again",
            )
        )
    _record(db, upn, findings, drive_id, identity)
    return UserCheck(upn, person.folder, findings)


def folder_findings(source: Source, folders: Mapping[str, str], folder: str) -> list[Finding]:
    """Why FOLDER cannot be read from SOURCE: missing from FOLDERS, or unlistable; [] if it
    can."""
    listed = folders.get(folder.lower())
    if listed is None:
        return [
            Finding(
                "folder_missing",
                f"no folder {folder} under {source.describe()}",
                "restore or rename the folder, or correct the user list and import it again",
            )
        ]
    try:
        source.list_dir(listed)
    except EntryError as exc:
        fix = "give the migration account read access to the folder and everything in it"
        what = f"cannot list the home folder ({exc.detail})"
        return [Finding("folder_unreadable", what, fix)]
    return []


async def _confirmed(
    db: Database, directory: Directory, upn: str
) -> tuple[str, Person | None, Finding | None]:
    """UPN as the tenant confirms it and the person it names, or why it cannot be."""
    if not is_derived(db, upn):
        if (person := await directory.person(upn)) is None:
            return upn, None, Finding("user_not_found", f"no user {upn} in the tenant", FIX_UPN)
        return upn, person, None
    resolution = await confirm_derived(directory, personal_segment(upn))
    if resolution.upn is None:
        return upn, None, resolution.finding
    other = user(db, resolution.upn)
    if other is not None and other.upn.lower() != upn.lower():
        what = f"{resolution.upn}, confirmed from the OneDrive URL, already has {other.folder}"
        duplicate = Finding("duplicate_user", what, "keep one row per person in the user lists")
        return upn, None, duplicate
    with transaction(db):
        if resolution.upn != upn:
            rename_user(db, upn, resolution.upn)
        unmark_derived(db, resolution.upn)
    return resolution.upn, resolution.person, None


def _record(
    db: Database,
    upn: str,
    findings: list[Finding],
    drive_id: str | None,
    identity: Person | None,
) -> None:
    """UPN's findings and verdict, and the names the tenant gives them (IDENTITY, when it
    answered), by which the service desk finds them."""
    now = now_text()
    with transaction(db):
        db.execute("DELETE FROM findings WHERE upn = ? AND stage = ?", [upn, STAGE])
        for finding in findings:
            db.execute(
                "INSERT INTO findings(upn, stage, kind, detail, at) VALUES(?, ?, ?, ?, ?)",
                [upn, STAGE, finding.kind, finding.detail, now],
            )
        db.execute(
            "UPDATE users SET state = ?, drive_id = ?, updated_at = ? WHERE upn = ?",
            [BLOCKED if findings else READY, drive_id, now, upn],
        )
        if identity is not None:
            db.execute(
                "UPDATE users SET display_name = ?, sam_account_name = ? WHERE upn = ?",
                [identity.display_name, identity.sam_account_name, upn],
            )
