"""The service-desk page over HTTP: the standard library's threading server, one GET form.

Each look-up reads state.db through a read-only connection in one read transaction, so it
sees one consistent moment and never holds a lock a running migration waits for; the
consultation is then appended to the audit log in a short write of its own, and only once it
is recorded is anything shown.
"""

import errno
import signal
import socket
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlite_utils import Database

from hdrive_migrate.clock import SYSTEM_CLOCK
from hdrive_migrate.config import Config, lock_timeout
from hdrive_migrate.desk.access import Access, Refused, listening_names
from hdrive_migrate.desk.card import status_card
from hdrive_migrate.desk.lookup import find_users
from hdrive_migrate.desk.page import Message, render_page, security_headers
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.migrate.status import report
from hdrive_migrate.store import is_locked, open_store, record_event
from hdrive_migrate.workspace import STATE_DB, open_workspace

VIA = "service-desk page"
# How long a look-up waits for a migration's write to finish before saying the log is busy.
AUDIT_WAIT_SECONDS = 10.0
NOT_RECORDED = Message(
    "Not shown: the look-up could not be recorded",
    "Every look-up goes into the audit log before it is shown, and the workspace was too busy "
    "to take it. Try again in a moment.",
)


@dataclass(frozen=True)
class Answer:
    status: int
    html: str


class Desk:
    """Answers look-ups from the workspace in DIRECTORY, whose settings are CONFIG."""

    def __init__(self, directory: Path, config: Config, *, audit_wait: float) -> None:
        self.database = directory / STATE_DB
        self.config = config
        self.audit_wait = audit_wait

    def answer(self, query: str, operator: str, now: datetime) -> Answer:
        """The page for QUERY as OPERATOR asked it at NOW: the card of the one user it names,
        a pick list of several, or a notice that nobody matches. Recorded before it is shown."""
        if not query:
            return Answer(200, render_page(operator=operator))
        with self._reading() as db:
            found = find_users(db, query)
            card = None
            if len(found.matches) == 1:
                (match,) = found.matches
                card = self._card(db, match.upn, match.display_name, now)
        if card is not None:
            recorded = self._record("status.viewed", card.upn, {"query": query}, operator)
            page = {"card": card}
        else:
            upns = [match.upn for match in found.matches]
            recorded = self._record("status.searched", query, {"matches": upns}, operator)
            page = {"matches": found.matches, "more": found.more}
            if not upns:
                page = {"message": _nobody(query)}
        if not recorded:
            return Answer(503, render_page(query=query, operator=operator, message=NOT_RECORDED))
        return Answer(200, render_page(query=query, operator=operator, **page))

    def _card(self, db: Database, upn: str, display_name: str | None, now: datetime):
        try:
            found = report(db, upn)
        except HdriveError:  # renamed or removed between the look-up and the report
            return None
        folder = _target_folder(db, upn) or self.config.target_folder
        return status_card(found, display_name, folder, now)

    @contextmanager
    def _reading(self) -> Iterator[Database]:
        """state.db opened read-only, in one read transaction for the block."""
        uri = self.database.resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            connection.execute("PRAGMA query_only = ON")
            connection.execute("BEGIN")
            try:
                yield Database(connection)
            finally:
                connection.rollback()

    def _record(self, action: str, subject: str, detail: dict, operator: str) -> bool:
        """Append the consultation to the audit log; False when the workspace stayed locked."""
        try:
            db = open_store(self.database, self.audit_wait)
        except HdriveError:
            return False
        try:
            record_event(db, action, subject, {"via": VIA, **detail}, actor=operator)
        except sqlite3.OperationalError as exc:
            if is_locked(exc):
                return False
            raise
        finally:
            db.close()
        return True


def _target_folder(db: Database, upn: str) -> str | None:
    """The folder of UPN's OneDrive their current plan sends files to."""
    found = db.execute(
        "SELECT p.target_folder FROM plan_users AS u JOIN plan_runs AS p ON p.id = u.run_id"
        " WHERE u.upn = ?",
        [upn],
    ).fetchone()
    return found[0] if found else None


def _nobody(query: str) -> Message:
    return Message(
        "Nobody found",
        f"No one in this migration matches “{query}”. Check the spelling, or try their UPN "
        "(user@domain) or their account name.",
    )


class DeskServer(ThreadingHTTPServer):
    """The HTTP server: each request in its own thread, each answered by DESK under ACCESS."""

    daemon_threads = True

    def __init__(self, host: str, address: tuple, family: int, desk: Desk, access: Access):
        self.address_family = family
        self.desk = desk
        self.access = access
        super().__init__(address, DeskHandler)
        self.names = listening_names(host, self.server_address[1])


class DeskHandler(BaseHTTPRequestHandler):
    server: DeskServer
    server_version = "hdrive-migrate"
    sys_version = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            operator = self.server.access.analyst(
                self.client_address[0], self.headers, self.server.names
            )
        except Refused as refused:
            title = {401: "Sign in first", 403: "Not allowed"}.get(refused.status, "Refused")
            return self._send(refused.status, render_page(message=Message(title, refused.message)))
        if url.path != "/":
            message = Message("Not found", "This page has one address: go back to the form.")
            return self._send(404, render_page(operator=operator, message=message))
        query = parse_qs(url.query).get("q", [""])[0].strip()
        try:
            answer = self.server.desk.answer(query, operator, SYSTEM_CLOCK.now())
        except Exception:
            traceback.print_exc(file=sys.stderr)
            message = Message("Something went wrong", "The error is in the page's log.")
            return self._send(500, render_page(query=query, operator=operator, message=message))
        self._send(answer.status, answer.html)

    def _refuse_method(self) -> None:
        message = Message("Read-only", "This page only answers GET requests: use the form.")
        self._send(405, render_page(message=message), {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _send(self, status: int, html: str, extra: dict[str, str] | None = None) -> None:
        body = html.encode("utf-8")
        self.send_response(status)
        for name, value in {**security_headers(), **(extra or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The query names the person looked up: the audit log records it, the console not.
        self.log_message('"%s %s" %s', self.command, urlsplit(self.path).path, code)


def serve_desk(
    workspace: Path,
    host: str,
    port: int,
    access: Access,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the page for WORKSPACE on HOST:PORT (0: a free port) until SIGINT or SIGTERM.
    ANNOUNCE gets one line with the address once it accepts requests."""
    with open_workspace(workspace) as ws:
        desk = Desk(ws.dir, ws.config, audit_wait=min(lock_timeout(), AUDIT_WAIT_SECONDS))
        server = _listen(host, port, desk, access)
        url = _url(host, server.server_address[1])
        mode = f"behind a proxy ({access.user_header})" if access.behind_proxy else "local"
        record_event(ws.db, "desk.started", url, {"mode": mode}, actor=access.operator)
    signal.signal(signal.SIGTERM, _stop)
    with server:
        announce(f"service-desk page listening on {url} ({mode}; Ctrl-C stops it)")
        with suppress(KeyboardInterrupt):
            server.serve_forever()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _listen(host: str, port: int, desk: Desk, access: Access) -> DeskServer:
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # IPv4 first: "localhost" then listens where every client looks for it.
        family, *_, address = min(addresses, key=lambda found: found[0] != socket.AF_INET)
        return DeskServer(host, address[:2], family, desk, access)
    except OSError as exc:
        what = _cannot_listen(host, port, exc)
        raise HdriveError(what, fix=_fix(exc), where=f"--port {port}") from exc


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"another program is already listening on {host}:{port}"
    if exc.errno == errno.EACCES:
        return f"only a privileged user may listen on port {port}"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc})"


def _fix(exc: OSError) -> str:
    if exc.errno == errno.EACCES:
        return "choose a port from 1024 to 65535, or --port 0 for a free one"
    return "stop the other program, or choose another port (--port 0 picks a free one)"


def _url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"
