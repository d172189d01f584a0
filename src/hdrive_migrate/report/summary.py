"""summary.html: one self-contained page a manager can read. Rendered from a Jinja2 template
with autoescaping (a name holding markup shows as text), its charts inline SVG from `charts`,
and nothing fetched from the network: no script, stylesheet, font or image from elsewhere."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

from jinja2 import Template

from hdrive_migrate import __version__
from hdrive_migrate.display import counted, size_text
from hdrive_migrate.html import html_template
from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.migrate.status import GOOD, STATES, Report, reason_cause
from hdrive_migrate.policy.record import ACTIONS
from hdrive_migrate.report.charts import bar_chart, time_chart
from hdrive_migrate.report.columns import OUTCOMES
from hdrive_migrate.report.tally import Tally, Timeline

TEMPLATE = "summary.html.j2"
FAILURES_DOC = "docs/failures.md"
# Users in these states need someone to act before their migration can finish.
NEEDS_ACTION = ("blocked", "failed", "migrated-with-exceptions")


@dataclass(frozen=True)
class WaveFailure:
    """One failure reason across the wave: files, bytes, the users affected, and the fix."""

    reason: str
    files: int
    bytes: int
    users: list[str]

    @property
    def explanation(self) -> str:
        return reason_cause(self.reason).explanation

    @property
    def fix(self) -> str:
        return reason_cause(self.reason).fix

    @property
    def documented(self) -> bool:
        return self.reason in REASONS


def wave_failures(tally: Tally, users_by_reason: dict[str, list[str]]) -> list[WaveFailure]:
    """The wave's failures by reason, most files first."""
    reasons = sorted(tally.failures, key=lambda reason: (-tally.failures[reason], reason))
    return [
        WaveFailure(
            reason, tally.failures[reason], tally.failed_bytes[reason], users_by_reason[reason]
        )
        for reason in reasons
    ]


def render_summary(
    *,
    title: str,
    generated_at: datetime,
    states: Counter,
    needing_action: list[Report],
    tally: Tally,
    timeline: Timeline,
    failures: list[WaveFailure],
) -> str:
    """The page: users by state (STATES), the status of the users NEEDING_ACTION, and the
    wave's TALLY, TIMELINE and FAILURES."""
    good = {o: tally.files_by_outcome[o] for o in GOOD}
    context = {
        "title": title,
        "generated_at": generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "users": sum(states.values()),
        "tally": tally,
        "to_migrate": tally.files_by_decision["migrate"],
        "to_migrate_bytes": tally.bytes_by_decision["migrate"],
        "good_files": sum(good.values()),
        "good_bytes": sum(tally.bytes_by_outcome[o] for o in GOOD),
        "failed_files": tally.files_by_outcome["failed"],
        "states": bar_chart([(state, states[state]) for state in STATES], _users),
        "decisions": _by(ACTIONS, tally.files_by_decision, tally.bytes_by_decision),
        "outcomes": _by(OUTCOMES, tally.files_by_outcome, tally.bytes_by_outcome),
        "decision_bytes": bar_chart([(a, tally.bytes_by_decision[a]) for a in ACTIONS], size_text),
        "outcome_bytes": bar_chart([(o, tally.bytes_by_outcome[o]) for o in OUTCOMES], size_text),
        "timeline": time_chart(timeline, _rate),
        "failures": failures,
        "failures_doc": FAILURES_DOC,
        "needing_action": needing_action,
    }
    return _template().render(context)


def _by(keys, files, sizes) -> dict:
    """A files chart and the table rows (key, files, size) for KEYS."""
    return {
        "chart": bar_chart([(key, files[key]) for key in keys], _files),
        "rows": [(key, f"{files[key]:,}", size_text(sizes[key])) for key in keys],
    }


def _users(count: int) -> str:
    return counted(count, "user")


def _files(count: int) -> str:
    return counted(count, "file")


def _rate(bytes_per_second: float) -> str:
    return f"{size_text(round(bytes_per_second))}/s"


@cache
def _template() -> Template:
    text = resources.files(__package__).joinpath("templates", TEMPLATE).read_text("utf-8")
    return html_template(text, size=size_text)
