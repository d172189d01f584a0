"""`hdrive-migrate policy ...`: check a retention policy and run its records managers' cases."""

from pathlib import Path

import typer

from hdrive_migrate.cli.common import WORKSPACE_ENV
from hdrive_migrate.config import load_config

app = typer.Typer(
    help="Check retention policies and run their regression cases.",
    epilog="Example: hdrive-migrate policy check policies/personal-files.yaml",
    no_args_is_help=True,
)

POLICY_FILE = typer.Argument(..., help="The policy file (YAML).", dir_okay=False)
WORKSPACE = typer.Option(
    None,
    "--workspace",
    "-w",
    envvar=WORKSPACE_ENV,
    help="A workspace whose [source] trust_access_time allows rules on last access time "
    "(accessed); without one, such rules are refused.",
    file_okay=False,
)


@app.callback()
def _policy() -> None:
    """Check retention policies and run their regression cases."""


@app.command(epilog="Example: hdrive-migrate policy check policies/personal-files.yaml -w ./wave1")
def check(file: Path = POLICY_FILE, workspace: Path | None = WORKSPACE) -> None:
    """Report every error and warning in the policy FILE, one line each.

    Errors are FILE:LINE:COL: what. Fix: how; warnings (rules that can never decide, labels no
    rule applies, ...) are FILE:LINE: warning: .... Labels are not looked up in the tenant.
    Exits 1 when there is an error, 0 when there are only warnings or none.
    """
    from hdrive_migrate.policy.lint import check_file

    report = check_file(file, atime_trusted=_atime_trusted(workspace))
    for line in report.lines():
        typer.echo(line, err=True)
    typer.echo(report.summary())
    raise typer.Exit(1 if report.failed else 0)


@app.command(
    name="test",
    epilog="Example: hdrive-migrate policy test policies/personal-files.yaml "
    "policies/personal-files.cases.yaml",
)
def run_tests(
    file: Path = POLICY_FILE,
    cases: Path = typer.Argument(..., help="The cases file (YAML).", dir_okay=False),
    workspace: Path | None = WORKSPACE,
) -> None:
    """Run every case in CASES against the policy FILE: one line per failing case, then
    "N passed, M failed". Exits 1 when a case fails or either file has a mistake."""
    from hdrive_migrate.policy.cases import run_cases

    report = run_cases(file, cases, atime_trusted=_atime_trusted(workspace))
    for error in report.errors:
        typer.echo(str(error), err=True)
    if report.errors:
        raise typer.Exit(1)
    for failure in report.failures:
        typer.echo(str(failure))
    typer.echo(report.summary())
    raise typer.Exit(1 if report.failures else 0)


def _atime_trusted(workspace: Path | None) -> bool:
    return workspace is not None and load_config(workspace).trust_access_time
