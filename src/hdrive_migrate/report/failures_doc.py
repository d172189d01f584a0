"""docs/failures.md, rendered from the one table of failure reasons (migrate/reasons.py), so
the document never drifts from what the engine records (a test compares them).

Regenerate it after changing REASONS:

    python -m hdrive_migrate.report.failures_doc > docs/failures.md
"""

import sys

from hdrive_migrate.migrate.reasons import REASONS, Reason

COMMAND = "python -m hdrive_migrate.report.failures_doc > docs/failures.md"


def render(reasons: dict[str, Reason] = REASONS) -> str:
    """The Markdown of docs/failures.md for REASONS, in the table's order."""
    lines = [
        "# Why a file failed or a user was blocked, and what to do",
        "",
        "<!-- Generated from src/hdrive_migrate/migrate/reasons.py: do not edit by hand.",
        f"     Regenerate with `{COMMAND}`. -->",
        "",
        "`hdrive-migrate status`, the wave report (summary.html, failures.csv, items.csv) and",
        "the migration log name a failure by its code. Each code below says what happened and",
        "how to fix it; after the fix, `hdrive-migrate migrate` tries the file (or the user)",
        "again. In a fix, UPN stands for the user's UPN.",
        "",
        "| Code | What happened |",
        "| --- | --- |",
    ]
    lines += [
        f"| [`{code}`](#{code}) | {_cell(reason.explanation)} |" for code, reason in reasons.items()
    ]
    for code, reason in reasons.items():
        lines += [
            "",
            f"## {code}",
            "",
            f"**What happened:** {_sentence(reason.explanation)}",
            "",
            f"**Fix:** {_sentence(reason.fix)}",
        ]
    return "\n".join(lines) + "\n"


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _cell(text: str) -> str:
    return _sentence(text).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(render())
