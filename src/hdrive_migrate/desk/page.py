"""The service-desk page's HTML: one Jinja2 template with autoescaping (a display name holding
markup shows as text), its style inline and named in the Content-Security-Policy by hash, so
the page loads nothing, from anywhere, and runs no script."""

import base64
import hashlib
import re
from functools import cache
from importlib import resources
from typing import NamedTuple

from jinja2 import Template
from markupsafe import Markup, escape

from hdrive_migrate.desk.card import Card
from hdrive_migrate.desk.lookup import Match
from hdrive_migrate.html import html_template

TEMPLATE = "page.html.j2"
STYLE = "desk.css"
_CODE = re.compile(r"`([^`]+)`")


class Message(NamedTuple):
    """A short notice in place of a result: a heading and a sentence."""

    title: str
    text: str


def render_page(
    *,
    query: str = "",
    operator: str | None = None,
    card: Card | None = None,
    matches: list[Match] | None = None,
    more: bool = False,
    message: Message | None = None,
) -> str:
    """The page: the look-up form holding QUERY, then CARD, or the MATCHES to choose from
    (MORE: others match too), or MESSAGE. OPERATOR is who the audit log records."""
    return _template().render(
        query=query,
        operator=operator,
        card=card,
        matches=matches or [],
        more=more,
        message=message,
        style=Markup(_style()),
    )


def security_headers() -> dict[str, str]:
    """Headers for every answer: nothing may load but the page's own inline style, the page
    may not be framed, and neither it nor the address (which holds the query) is kept."""
    policy = (
        f"default-src 'none'; style-src '{style_hash()}'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }


@cache
def style_hash() -> str:
    """The CSP source naming the page's inline style: sha256 of its exact text, base64."""
    digest = hashlib.sha256(_style().encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def code_spans(text: str) -> Markup:
    """TEXT escaped, with each `quoted command` as <code>: fixes name commands that way."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


@cache
def _style() -> str:
    return _read(STYLE)


@cache
def _template() -> Template:
    return html_template(_read(TEMPLATE), code=code_spans)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text("utf-8")
