"""Mail from a service mailbox through Graph's sendMail, paced at Exchange Online's pace.

Exchange's limits are its own, not SharePoint's resource units: a mailbox may send 30 messages
a minute and reach 10,000 recipients a day. The mail pacer spends two "units" a message (a
write), so its budgets are those limits doubled; it is separate from the tenant's file pacer,
which a notice run never slows.
"""

from urllib.parse import quote

from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.graph.caller import GraphCaller
from hdrive_migrate.graph.client import GraphConnection
from hdrive_migrate.graph.errors import Fatal, GraphError
from hdrive_migrate.graph.pacer import Pacer, RequestKind, request_cost

RECIPIENTS_PER_DAY = 10_000  # Exchange Online's recipient rate limit per mailbox
SENT = 202  # sendMail accepts a message with 202 and an empty body
FIX_MAIL_SEND = (
    "in the Entra admin centre (App registrations > API permissions), add the Microsoft Graph "
    "application permission Mail.Send and grant admin consent; if an Exchange application "
    "access policy limits the app, add [notices] mailbox to its group"
)


def mail_pacer(messages_per_minute: int, clock: Clock = SYSTEM_CLOCK) -> Pacer:
    """A pacer letting MESSAGES_PER_MINUTE messages through a minute (plus one), and the
    day's recipient limit."""
    cost = request_cost(RequestKind.WRITE)
    # The pacer keeps one request's cost in hand (initial_state): added back here.
    return Pacer((messages_per_minute + 1) * cost, RECIPIENTS_PER_DAY * cost, clock=clock)


def message_json(subject: str, html: str, recipient: str) -> dict:
    """The sendMail body for one HTML message to RECIPIENT, kept in Sent Items."""
    return {
        "message": {
            "subject": subject,
            "body": {"contentType": "HTML", "content": html},
            "toRecipients": [{"emailAddress": {"address": recipient}}],
        },
        "saveToSentItems": True,
    }


class Mailer:
    """Sends messages from MAILBOX on CONNECTION, through PACER and the caller's retries."""

    def __init__(
        self,
        connection: GraphConnection,
        mailbox: str,
        pacer: Pacer,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.mailbox = mailbox
        self._caller = GraphCaller(connection, pacer, clock=clock)

    async def send(self, subject: str, html: str, recipient: str) -> None:
        """Send one message. Raises GraphError when the service refuses it: Fatal for a 403
        (the app may not send as the mailbox: Mail.Send) or a 404 (no such mailbox), which stop
        every message; another refusal (400 ErrorInvalidRecipients) is about this message."""
        url = f"/users/{quote(self.mailbox, safe='@')}/sendMail"
        try:
            await self._caller.request(
                "POST",
                url,
                kind=RequestKind.WRITE,
                json=message_json(subject, html, recipient),
                ok=(SENT,),
            )
        except GraphError as exc:
            if exc.status == 403:
                raise Fatal(exc.what, fix=FIX_MAIL_SEND, where=exc.where, status=403) from exc
            if exc.status == 404:
                # The mailbox, not the recipient: no message can go until it is corrected.
                raise Fatal(
                    f"no mailbox {self.mailbox} in the tenant ({exc.what})",
                    fix="set [notices] mailbox in hdrive.toml to the service mailbox's address",
                    where=exc.where,
                    status=404,
                ) from exc
            raise
