"""The one way the tool makes HTML (reports, the service-desk page): Jinja2 templates with
autoescaping always on, so a display name or file name holding markup renders as text."""

from collections.abc import Callable

from jinja2 import Environment, StrictUndefined, Template


def html_template(text: str, **filters: Callable) -> Template:
    """TEXT as an HTML template: autoescaped, an undefined name an error rather than blank, the
    `number` filter (1,234) and FILTERS besides."""
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["number"] = "{:,}".format
    environment.filters.update(filters)
    return environment.from_string(text)
