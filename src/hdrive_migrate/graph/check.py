"""`hdrive-migrate tenant check`: can this workspace reach Graph and do a migration's work?

Each check says what it found and, when it fails, exactly what to change. Checks run in order;
one that cannot run because an earlier one failed says so, with that check's fix, rather than
guessing.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.models.folder import Folder
from msgraph.generated.models.message import Message
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from hdrive_migrate.config import GraphSettings
from hdrive_migrate.graph.client import GraphConnection
from hdrive_migrate.graph.errors import GraphError, translated
from hdrive_migrate.graph.mail import FIX_MAIL_SEND

REACHABLE = "reachable"
AUTHENTICATED = "authenticated"
READ_USERS = "read users"
READ_DRIVE = "read drive"
WRITE_DRIVE = "write drive"
SEND_MAIL = "send mail"
CHECKS = (REACHABLE, AUTHENTICATED, READ_USERS, READ_DRIVE, WRITE_DRIVE)

# How many users to try, when no --user is given, looking for one whose OneDrive exists.
USERS_TO_TRY = 10
CONSENT = (
    "in the Entra admin centre (App registrations > API permissions), add the Microsoft Graph "
    "application permission {permission} and grant admin consent"
)
FIX_FILES = CONSENT.format(permission="Files.ReadWrite.All (or Sites.ReadWrite.All)")
FIX_USERS = CONSENT.format(permission="User.Read.All")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; `fix` says what to change when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


class _Stop(Exception):
    """A check failed in a way that leaves the later checks nothing to test."""


async def check_settings(
    settings: GraphSettings, user: str | None = None, mailbox: str | None = None
) -> list[CheckResult]:
    """Open a connection from SETTINGS and run `check_tenant` on it."""
    async with GraphConnection(settings) as connection:
        return await check_tenant(connection, user, mailbox)


async def check_tenant(
    connection: GraphConnection, user: str | None = None, mailbox: str | None = None
) -> list[CheckResult]:
    """Run the checks against CONNECTION, using USER's OneDrive (default: the first user
    listed whose OneDrive exists), and return one result per check, in CHECKS order; with
    MAILBOX (notices are sent from it), SEND_MAIL last."""
    results: list[CheckResult] = []
    names = (*CHECKS, SEND_MAIL) if mailbox else CHECKS
    try:
        await _check_reachable(connection, results)
        upns = await _check_users(connection, results)
        drive_id = await _check_drive(connection, user, upns, results)
        await _check_write(connection, drive_id, results)
        if mailbox:
            await _check_send(connection, mailbox, results)
    except _Stop:
        # The later checks cannot run; the fix that unblocks them is the failed check's.
        failed = results[-1]
        results += [
            CheckResult(name, False, f"not checked: {failed.name} failed", failed.fix)
            for name in names[len(results) :]
        ]
    return results


async def _check_reachable(connection: GraphConnection, results: list[CheckResult]) -> None:
    # Any HTTP answer at all proves the network path; this request carries no token.
    fix = "check [graph] url, the network and any proxy"
    with _stop_on_error(results, REACHABLE, fix, when=None):
        await connection.http.get(connection.url)
    results.append(CheckResult(REACHABLE, True, f"{connection.url} answers"))


async def _check_users(connection: GraphConnection, results: list[CheckResult]) -> list[str]:
    """Authenticated and allowed to list users; returns some user principal names."""
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=USERS_TO_TRY)
    accepted = CheckResult(AUTHENTICATED, True, "the service accepted our token")
    try:
        with translated():
            page = await connection.sdk.users.get(RequestConfiguration(query_parameters=query))
    except GraphError as exc:
        if exc.status != 403:  # 401, no token, or an answer that proves nothing either way
            results.append(CheckResult(AUTHENTICATED, False, exc.what, exc.fix))
            raise _Stop from exc
        results += [accepted, CheckResult(READ_USERS, False, exc.what, FIX_USERS)]
        return []
    users = page.value if page and page.value else []
    upns = [u.user_principal_name for u in users if u.user_principal_name]
    results += [accepted, CheckResult(READ_USERS, True, f"listed {len(upns)} user(s)")]
    return upns


async def _check_drive(
    connection: GraphConnection, user: str | None, upns: list[str], results: list[CheckResult]
) -> str:
    """USER's OneDrive readable, or the first of UPNS that has one; returns its drive id."""
    if user is None and not upns:
        results.append(
            CheckResult(
                READ_DRIVE,
                False,
                "no user to test: no users could be listed",
                "pass --user UPN, or fix read users",
            )
        )
        raise _Stop
    candidates = [user] if user else upns
    for upn in candidates:
        try:
            with translated():
                drive = await connection.sdk.users.by_user_id(upn).drive.get()
        except GraphError as exc:
            if exc.status == 404 and user is None:
                continue  # this user has no OneDrive; the check is about access, try the next
            results.append(_drive_failure(upn, exc))
            raise _Stop from exc
        results.append(CheckResult(READ_DRIVE, True, f"read the OneDrive of {upn}"))
        return drive.id
    results.append(
        CheckResult(
            READ_DRIVE,
            False,
            f"none of the {len(candidates)} users listed has a OneDrive",
            "pass --user UPN for a user whose OneDrive is provisioned",
        )
    )
    raise _Stop


def _drive_failure(upn: str, exc: GraphError) -> CheckResult:
    if exc.status == 404 and exc.code == "Request_ResourceNotFound":
        return CheckResult(READ_DRIVE, False, f"no user {upn} in the tenant", "check the UPN")
    if exc.status == 404:
        return CheckResult(
            READ_DRIVE,
            False,
            f"the OneDrive of {upn} is not provisioned",
            f"pre-provision it (SharePoint Online PowerShell: Request-SPOPersonalSite "
            f"-UserEmails {upn}), wait for the queue, then check again",
        )
    fix = FIX_FILES if exc.status == 403 else exc.fix
    return CheckResult(READ_DRIVE, False, exc.what, fix)


async def _check_write(
    connection: GraphConnection, drive_id: str, results: list[CheckResult]
) -> None:
    """Create a uniquely named folder under the drive root, then delete it."""
    name = f"hdrive-migrate-check-{secrets.token_hex(4)}"
    items = connection.sdk.drives.by_drive_id(drive_id).items
    folder = DriveItem(
        name=name, folder=Folder(), additional_data={"@microsoft.graph.conflictBehavior": "fail"}
    )
    with _stop_on_error(results, WRITE_DRIVE, FIX_FILES, when=403):
        root = await connection.sdk.drives.by_drive_id(drive_id).root.get()
        created = await items.by_drive_item_id(root.id).children.post(folder)
    leftover = f"delete the folder {name} by hand; {FIX_FILES}"
    with _stop_on_error(results, WRITE_DRIVE, leftover, when=403):
        await items.by_drive_item_id(created.id).delete()
    results.append(CheckResult(WRITE_DRIVE, True, f"created and deleted the folder {name}"))


async def _check_send(connection: GraphConnection, mailbox: str, results: list) -> None:
    """Whether the app may send as MAILBOX, without sending anything: a message with no
    recipient is refused (400 ErrorInvalidRecipients) only once the service has authorised
    the request, so that answer proves Mail.Send while a 403 says it is missing."""
    probe = SendMailPostRequestBody(message=Message(subject="hdrive-migrate tenant check"))
    probe.save_to_sent_items = False
    try:
        with translated():
            await connection.sdk.users.by_user_id(mailbox).send_mail.post(probe)
    except GraphError as exc:
        if exc.status == 400:
            results.append(CheckResult(SEND_MAIL, True, f"the app may send mail as {mailbox}"))
            return
        fix = FIX_MAIL_SEND if exc.status == 403 else exc.fix
        if exc.status == 404:
            fix = "set [notices] mailbox in hdrive.toml to the service mailbox's address"
        results.append(CheckResult(SEND_MAIL, False, exc.what, fix))
        return
    results.append(CheckResult(SEND_MAIL, True, f"the app may send mail as {mailbox}"))


@contextmanager
def _stop_on_error(
    results: list[CheckResult], name: str, fix: str, *, when: int | None
) -> Iterator[None]:
    """Record a GraphError in the body as the failure of check NAME, then stop the checks.
    FIX replaces the error's own fix when the error's status is WHEN (None: no answer)."""
    try:
        with translated():
            yield
    except GraphError as error:
        chosen = fix if error.status == when else error.fix
        results.append(CheckResult(name, False, error.what, chosen))
        raise _Stop from error
