"""Finding people in the tenant: a UPN from an on-premises account name (sam), a UPN guessed
from a OneDrive URL confirmed, and whether a user and their OneDrive exist.

Every Graph call goes through the tenant's pacer and the retries of `GraphCaller.call_sdk`,
the one place requests wait and are tried again.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.graph.caller import GraphCaller
from hdrive_migrate.graph.client import GraphConnection
from hdrive_migrate.graph.errors import GraphError
from hdrive_migrate.graph.pacer import PER_DAY_RU, PER_MINUTE_RU, Pacer, RequestKind
from hdrive_migrate.store import transaction
from hdrive_migrate.users.csvfiles import FIX_GIVE_UPN
from hdrive_migrate.users.upns import MAX_CANDIDATES, candidate_upns

T = TypeVar("T")
# Entra Connect syncs every 30 minutes: an older answer, found or not, may be out of date.
SAM_CACHE_TTL = timedelta(hours=1)
FIX_SAM = (
    "fill in this row's upn column: the folder is not named after a synced on-premises account"
)


@dataclass(frozen=True)
class Finding:
    """Something that blocks a user: KIND as stored in `findings`, what is wrong, the fix."""

    kind: str
    what: str
    fix: str

    @property
    def detail(self) -> str:
        """One line for `findings.detail` and for people: `what. Fix: fix`."""
        return f"{self.what}. Fix: {self.fix}"


@dataclass(frozen=True)
class Person:
    """A user as the tenant names them: UPN, display name, on-premises account name
    (sAMAccountName; None for a cloud-only account) and mail address (None without a mailbox)."""

    upn: str
    display_name: str | None = None
    sam_account_name: str | None = None
    mail: str | None = None


@dataclass(frozen=True)
class Resolution:
    """The UPN found, or why none was; PERSON when the look-up also told who it is."""

    upn: str | None
    finding: Finding | None = None
    person: Person | None = None


def sam_filter(sam: str) -> str:
    """The OData filter for users whose on-premises account name is SAM."""
    quoted = sam.replace("'", "''")
    return f"onPremisesSamAccountName eq '{quoted}'"


class Directory:
    """The tenant's users and drives, as import and preflight ask about them. A 404 answer is
    None; any other failure raises GraphError once the caller's retries give up.

    PACER is the tenant's, shared with everything else talking to it; without one, the
    Directory paces itself at Microsoft's default budgets. CLOCK supplies every wait.
    """

    def __init__(
        self,
        connection: GraphConnection,
        pacer: Pacer | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sdk = connection.sdk
        pacer = pacer or Pacer(PER_MINUTE_RU, PER_DAY_RU, clock=clock)
        self._caller = GraphCaller(connection, pacer, clock=clock)

    async def users_with_sam(self, sam: str) -> list[str]:
        """UPNs of up to two users whose onPremisesSamAccountName is SAM (two: ambiguous)."""
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=sam_filter(sam), count=True, select=["userPrincipalName"], top=2
        )
        config = RequestConfiguration(query_parameters=query)
        # Filtering on this property is an advanced query: without these Graph answers 400.
        config.headers.add("ConsistencyLevel", "eventual")
        # A filtered query reads several users: a multi-item read.
        page = await self._caller.call_sdk(
            lambda: self._sdk.users.get(config), kind=RequestKind.LIST
        )
        users = page.value if page and page.value else []
        return [found.user_principal_name for found in users if found.user_principal_name]

    async def person(self, upn: str) -> Person | None:
        """The user UPN (any case) as the tenant spells it, with their names, in one request;
        None when there is no such user."""
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["userPrincipalName", "displayName", "onPremisesSamAccountName", "mail"]
        )
        config = RequestConfiguration(query_parameters=query)
        found = await self._unless_missing(lambda: self._sdk.users.by_user_id(upn).get(config))
        if found is None or not found.user_principal_name:
            return None
        return Person(
            found.user_principal_name,
            found.display_name,
            found.on_premises_sam_account_name,
            found.mail,
        )

    async def drive_id(self, upn: str) -> str | None:
        """The id of existing user UPN's OneDrive, or None when it is not provisioned."""
        drive = await self._unless_missing(lambda: self._sdk.users.by_user_id(upn).drive.get())
        return drive.id if drive else None

    async def _unless_missing(self, call: Callable[[], Awaitable[T]]) -> T | None:
        try:
            return await self._caller.call_sdk(call, kind=RequestKind.READ)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise


def is_fresh(resolved_at: str, now: datetime) -> bool:
    """Whether a sam_cache answer from RESOLVED_AT (ISO 8601) may still be used at NOW."""
    return now - datetime.fromisoformat(resolved_at) < SAM_CACHE_TTL


async def resolve_sam(db: Database, directory: Directory, sam: str, now: datetime) -> Resolution:
    """The UPN of the user whose on-premises account name is SAM, through `sam_cache`: fresh
    answers (found or not) are reused, others asked again and remembered; an ambiguous answer
    is never cached."""
    hit = db.execute("SELECT upn, resolved_at FROM sam_cache WHERE sam = ?", [sam]).fetchone()
    if hit is not None and is_fresh(hit[1], now):
        upns = [hit[0]] if hit[0] else []
    else:
        upns = await directory.users_with_sam(sam)
        if len(upns) <= 1:
            _remember(db, sam, upns[0] if upns else None, now)
    if len(upns) == 1:
        return Resolution(upns[0])
    if upns:
        what = f"{' and '.join(upns)} both have onPremisesSamAccountName {sam!r}"
        return Resolution(None, Finding("upn_ambiguous", what, FIX_SAM))
    what = f"no user in the tenant has onPremisesSamAccountName {sam!r}"
    return Resolution(None, Finding("user_not_found", what, FIX_SAM))


def _remember(db: Database, sam: str, upn: str | None, now: datetime) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO sam_cache(sam, upn, resolved_at) VALUES(?, ?, ?) ON CONFLICT(sam)"
            " DO UPDATE SET upn = excluded.upn, resolved_at = excluded.resolved_at",
            [sam, upn, now.isoformat()],
        )


async def confirm_derived(directory: Directory, segment: str) -> Resolution:
    """The one user whose UPN gives the OneDrive URL segment SEGMENT, asking the tenant about
    each candidate UPN (`candidate_upns`); none, several or too many candidates is a Finding."""
    candidates = candidate_upns(segment)
    if candidates is None:
        what = f"over {MAX_CANDIDATES} UPNs give the OneDrive URL segment {segment}"
        return Resolution(None, Finding("upn_ambiguous", what, FIX_GIVE_UPN))
    found: dict[str, Person] = {}
    for candidate in candidates:
        if (person := await directory.person(candidate)) is not None:
            found[person.upn.lower()] = person
    if len(found) == 1:
        (person,) = found.values()
        return Resolution(person.upn, person=person)
    if found:
        upns = " and ".join(person.upn for person in found.values())
        what = f"{upns} all give the OneDrive URL segment {segment}"
        return Resolution(None, Finding("upn_ambiguous", what, FIX_GIVE_UPN))
    tried = ", ".join(candidates)
    what = f"no user in the tenant gives the OneDrive URL segment {segment} (tried {tried})"
    return Resolution(None, Finding("user_not_found", what, FIX_GIVE_UPN))
