"""`notices`: one message per user, written to a folder and, when asked, sent by mail.

Each user is looked up in the tenant for the name to greet them by and their mail address;
their notice is rendered from the workspace's templates and written as UPN.txt and UPN.html.
A folder's notices are listed in its notices.txt, so a re-run replaces them and nothing else
(another file in the way is refused unless forced). Sending is recorded per user and stage in
`notices`: a user sent the stage's notice once is never sent it again, a refusal for one user
is recorded and the others still go, and each send is in the audit log (without the message).
A run stopped while a message is in flight may send that one message again.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlite_utils import Database

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.notices.facts import (
    BEFORE,
    MOVED_STATES,
    Outcome,
    PlanCounts,
    outcome,
    plan_counts,
)
from hdrive_migrate.notices.templates import Rendered, Templates, workspace_templates
from hdrive_migrate.outputs import check_output, open_output
from hdrive_migrate.store import now_text, record_event, transaction
from hdrive_migrate.users.roster import User
from hdrive_migrate.users.upns import is_upn
from hdrive_migrate.workspace import Workspace

INDEX = "notices.txt"
SENT, FAILED = "sent", "failed"


@dataclass(frozen=True)
class NoticeRequest:
    stage: str
    out: Path
    wave: str | None = None
    moves_on: date | None = None  # the day the wave moves, when it is known
    send: bool = False
    force: bool = False


@dataclass
class Notice:
    upn: str
    recipient: str
    rendered: Rendered


@dataclass
class NoticeResult:
    folder: Path
    written: list[Notice] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # why -> UPNs
    copied_templates: list[str] = field(default_factory=list)
    templates: Path | None = None
    sent: int = 0
    already_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # UPN -> why
    mailbox: str | None = None

    def skip(self, upn: str, why: str) -> None:
        self.skipped.setdefault(why, []).append(upn)


def run_notices(
    ws: Workspace, users: list[User], request: NoticeRequest, *, today: date, actor: str
) -> NoticeResult:
    """Write (and with REQUEST.send, send) REQUEST.stage's notice to each of USERS who has
    one to get: before, users with a plan; after, users whose files are in OneDrive."""
    mailbox = _mailbox(ws) if request.send else None
    folder, copied = workspace_templates(ws.dir)
    result = NoticeResult(request.out, copied_templates=copied, templates=folder, mailbox=mailbox)
    templates = Templates(folder)
    asyncio.run(_run(ws, users, request, templates, result, today, actor))
    return result


def _mailbox(ws: Workspace) -> str:
    mailbox = ws.config.notices.mailbox
    if mailbox is None:
        raise HdriveError(
            "--send needs the service mailbox notices are sent from",
            fix='set mailbox = "it-migration@example.org" under [notices] in hdrive.toml '
            "(the app needs the Graph permission Mail.Send)",
            where=str(ws.dir / "hdrive.toml"),
        )
    return mailbox


async def _run(ws, users, request, templates, result, today, actor) -> None:
    # Imported here: the Graph SDK is only loaded by commands that talk to Graph.
    from hdrive_migrate.graph.client import GraphConnection
    from hdrive_migrate.graph.pacer import paced_by
    from hdrive_migrate.users.resolve import Directory

    async with GraphConnection(ws.config.graph) as connection:
        directory = Directory(connection, paced_by(ws.config))
        for person in users:
            facts = _facts(ws.db, person.upn, request.stage)
            if isinstance(facts, str):
                result.skip(person.upn, facts)
                continue
            found = await directory.person(person.upn)
            if found is None:
                result.skip(person.upn, "not in the tenant (run preflight)")
                continue
            context = notice_context(
                ws, person, found.display_name or found.upn, facts, request, today
            )
            notice = Notice(
                person.upn, found.mail or found.upn, templates.render(request.stage, context)
            )
            result.written.append(notice)
        _write(ws, request, result)
        record_event(
            ws.db,
            "notices.written",
            str(request.out),
            {"stage": request.stage, "wave": request.wave, "users": len(result.written)},
            actor=actor,
        )
        if request.send and result.written:
            await _send_all(ws, connection, request, result, actor)


def _facts(db: Database, upn: str, stage: str) -> tuple[PlanCounts, Outcome | None] | str:
    """What UPN's notice of STAGE counts, or why they get none."""
    counts = plan_counts(db, upn)
    if counts is None:
        return "not planned yet (run plan first)"
    if stage == BEFORE:
        return counts, None
    done = outcome(db, upn)
    if done.state not in MOVED_STATES:
        return f"not migrated yet (state {done.state})"
    return counts, done


def notice_context(ws, person: User, name: str, facts, request, today: date) -> dict:
    """The values a notice template is given (docs/notices.md lists them)."""
    counts, done = facts
    review_by = today + timedelta(days=ws.config.notices.review_by_days)
    if request.moves_on is not None:
        review_by = min(review_by, request.moves_on - timedelta(days=1))
    context = {
        "stage": request.stage,
        "display_name": name,
        "upn": person.upn,
        "wave": person.wave or request.wave,
        "moves_on": long_date(request.moves_on) if request.moves_on else None,
        "when": _when(request.moves_on, person.wave or request.wave),
        "review_by": long_date(max(review_by, today)),
        "target_folder": counts.target_folder,
        "moving": counts.moving,
        "renamed": counts.renamed,
        "not_moving": counts.not_moving,
        "staying": counts.staying,
        "service_desk": ws.config.notices.service_desk,
    }
    if done is not None:
        context |= {
            "moved": done.moved,
            "failed": done.failed,
            "blocked": done.blocked,
            "waiting": done.waiting,
            "not_moved": done.not_moved,
        }
    return context


def _when(moves_on: date | None, wave: str | None) -> str:
    """When the user's H: drive moves, as a notice says it."""
    if moves_on is not None:
        return f"on {long_date(moves_on)}"
    return f"during wave {wave}" if wave else "during the next migration wave"


def long_date(day: date) -> str:
    """DAY as a letter writes it: Saturday 14 March 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _write(ws: Workspace, request: NoticeRequest, result: NoticeResult) -> None:
    """Each notice as UPN.txt and UPN.html in the folder, and the folder's index; every file
    is checked before any is written."""
    folder = request.out
    ours = _previous(folder)
    files = []
    for notice in result.written:
        if not is_upn(notice.upn):
            raise HdriveError(
                f"the UPN {notice.upn!r} cannot name a notice file",
                fix="correct the UPN in the user list and import it again",
            )
        files += [(f"{notice.upn}.txt", notice.rendered.text)]
        files += [(f"{notice.upn}.html", notice.rendered.html)]
    names = sorted(ours | {name for name, _ in files})
    writes = [*files, (INDEX, "".join(f"{n}\n" for n in names))]

    def may_replace(name: str) -> bool:
        return request.force or name in ours or (name == INDEX and bool(ours))

    for name, _ in writes:
        check_output(folder / name, workspace=ws.dir, force=may_replace(name))
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in writes:
        with open_output(folder / name, workspace=ws.dir, force=may_replace(name)) as handle:
            handle.write(text)


def _previous(folder: Path) -> set[str]:
    """The notice files an earlier run wrote in FOLDER (its index), which a re-run replaces."""
    try:
        text = (folder / INDEX).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return set()
    return {
        line
        for line in text.splitlines()
        if line.endswith((".txt", ".html")) and "/" not in line and line != INDEX
    }


async def _send_all(ws, connection, request, result: NoticeResult, actor: str) -> None:
    from hdrive_migrate.graph.errors import Fatal, GraphError
    from hdrive_migrate.graph.mail import Mailer, mail_pacer

    sent = sent_to(ws.db, request.stage)
    pacer = mail_pacer(ws.config.notices.messages_per_minute)
    mailer = Mailer(connection, result.mailbox, pacer)
    for notice in result.written:
        if notice.upn.lower() in sent:
            result.already_sent += 1
            continue
        try:
            await mailer.send(notice.rendered.subject, notice.rendered.html, notice.recipient)
        except GraphError as exc:
            _record_send(ws.db, notice, request, FAILED, str(exc), actor)
            result.failed[notice.upn] = str(exc)
            if isinstance(exc, Fatal):
                raise
            continue
        _record_send(ws.db, notice, request, SENT, None, actor)
        result.sent += 1


def sent_to(db: Database, stage: str) -> set[str]:
    """Lower-cased UPNs already sent STAGE's notice."""
    rows = db.execute("SELECT upn FROM notices WHERE stage = ? AND status = ?", [stage, SENT])
    return {upn.lower() for (upn,) in rows}


def _record_send(db, notice: Notice, request, status: str, reason: str | None, actor) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO notices(upn, stage, status, recipient, wave, reason, attempts, at)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT(upn, stage) DO UPDATE SET"
            " status = excluded.status, recipient = excluded.recipient, wave = excluded.wave,"
            " reason = excluded.reason, attempts = notices.attempts + 1, at = excluded.at",
            [notice.upn, request.stage, status, notice.recipient, request.wave, reason, now_text()],
        )
        detail = {"stage": request.stage, "wave": request.wave, "to": notice.recipient}
        if reason is not None:
            detail["reason"] = reason
        action = "notice.sent" if status == SENT else "notice.failed"
        record_event(db, action, notice.upn, detail, actor=actor)
