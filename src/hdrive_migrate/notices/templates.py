"""The notice templates: kept in the workspace (WS/templates/notices/) so the business change
team can reword them, copied there from the packaged defaults the first time they are needed.

Each stage has a text template, whose first line is `Subject: ...` (the message's subject),
and an HTML template rendered with autoescaping, so a display name holding markup shows as
text. Jinja2 reports a mistake with its own traceback; here it becomes one line naming the
template file, the line and the fix.
"""

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)

from hdrive_migrate.errors import HdriveError
from hdrive_migrate.notices.facts import STAGES

FOLDER = Path("templates") / "notices"
SUBJECT = "Subject:"
FIX_DEFAULT = "or delete the file to get the packaged default back at the next run"


def template_names(stage: str) -> tuple[str, str]:
    """(text, HTML) template file names of STAGE."""
    return f"{stage}.txt.j2", f"{stage}.html.j2"


def workspace_templates(workspace: Path) -> tuple[Path, list[str]]:
    """WORKSPACE's template folder and the names of the templates copied into it now from the
    packaged defaults (only those missing: an edited template is never replaced)."""
    folder = workspace / FOLDER
    copied = []
    for stage in STAGES:
        for name in template_names(stage):
            target = folder / name
            if target.exists():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            default = resources.files(__package__).joinpath("templates", name)
            target.write_text(default.read_text("utf-8"), encoding="utf-8")
            copied.append(name)
    return folder, copied


@dataclass(frozen=True)
class Rendered:
    """One user's notice: the subject, the whole text (its Subject line first) and the HTML."""

    subject: str
    text: str
    html: str


class Templates:
    """The templates of FOLDER, rendering notices; every mistake raises HdriveError."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.environment = Environment(
            loader=FileSystemLoader(folder),
            autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters["number"] = "{:,}".format

    def render(self, stage: str, context: dict) -> Rendered:
        text_name, html_name = template_names(stage)
        text = self._render(text_name, context)
        first, _, _ = text.partition("\n")
        if not first.startswith(SUBJECT) or not first[len(SUBJECT) :].strip():
            raise HdriveError(
                "the first line of a notice must be its subject, `Subject: ...`",
                fix=f"start the template with a line such as `Subject: Your H: drive is moving`, "
                f"{FIX_DEFAULT}",
                where=f"{self.folder / text_name}:1",
            )
        subject = first[len(SUBJECT) :].strip()
        html = self._render(html_name, {**context, "subject": subject})
        return Rendered(subject, text, html)

    def _render(self, name: str, context: dict) -> str:
        try:
            return self.environment.get_template(name).render(context)
        except TemplateSyntaxError as exc:
            raise HdriveError(
                f"the notice template is not valid Jinja2: {exc.message}",
                fix="correct that line (each {% if %} needs its {% endif %}, each {{ its }}), "
                + FIX_DEFAULT,
                where=f"{self.folder / name}:{exc.lineno}",
            ) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            line = _template_line(exc, self.folder / name)
            where = f"{self.folder / name}:{line}" if line else str(self.folder / name)
            raise HdriveError(
                f"the notice template cannot be rendered: {exc}",
                fix="use only the values docs/notices.md lists, as it shows them, " + FIX_DEFAULT,
                where=where,
            ) from None


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The line of template PATH where EXC was raised: Jinja2 rewrites tracebacks so that the
    template's own frames carry its file name and line numbers."""
    line = None
    trace = exc.__traceback__ or sys.exc_info()[2]
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename) == path:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
