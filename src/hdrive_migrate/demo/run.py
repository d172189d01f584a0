"""The demo end to end: a sample share, a local tenant, and the pipeline's own commands run one
after the other as an engineer would type them, each shown before its output.

The commands are run through a Shell the caller gives (the command line runs them in its own
process), so the demo exercises exactly what people type and this module never imports the
command line.
"""

import csv
import json
import shlex
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple, Protocol

from hdrive_migrate import __version__
from hdrive_migrate.clock import SYSTEM_CLOCK, Clock
from hdrive_migrate.demo.sample import MAX_PEOPLE, Person, Sample, people, write_share
from hdrive_migrate.demo.summary import summarise
from hdrive_migrate.demo.tenant import LocalTenant
from hdrive_migrate.display import counted, size_text
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.policy.parse import load_policy
from hdrive_migrate.report.export import default_folder

PROGRAM = "hdrive-migrate"
WAVE = "Demo wave"
ORGANISATION = "Demo Constabulary"
MARKER = "demo.json"  # says a folder is a demo's, so --force may delete it
POLICY = "personal-files.yaml"
CASES = "personal-files.cases.yaml"
MIN_PEOPLE = 2  # one who moves and one who is blocked
# Exit codes of commands that report a blocked user or a failed file with 1, as they should.
FINDS_PROBLEMS = (0, 1)
INTERRUPTED = 130


class Shell(Protocol):
    def say(self, text: str) -> None:
        """Show TEXT, a line, to the person running the demo."""

    def run(self, args: list[str]) -> int:
        """Run `hdrive-migrate ARGS`, its output shown as it comes; its exit code."""


class DemoPaths(NamedTuple):
    """Where everything the demo makes lives, all below ROOT."""

    root: Path
    homes: Path  # the sample H: drives
    workspace: Path
    tenant: Path  # the local tenant's data
    tenant_log: Path
    tenant_users: Path  # the tenant's directory of people
    people_csv: Path  # the wave, for users import
    holds: Path
    policies: Path
    review: Path
    notices: Path
    report: Path


def demo_paths(root: Path) -> DemoPaths:
    workspace = root / "workspace"
    return DemoPaths(
        root=root,
        homes=root / "hdrives",
        workspace=workspace,
        tenant=root / "tenant",
        tenant_log=root / "tenant.log",
        tenant_users=root / "tenant-users.csv",
        people_csv=root / "people.csv",
        holds=root / "holds.csv",
        policies=root / "policies",
        review=root / "review.csv",
        notices=root / "notices",
        report=default_folder(workspace, WAVE),
    )


class DemoStopped(HdriveError):
    """A step ended with an exit code that means something went wrong; its output says what."""


def run_demo(
    shell: Shell,
    folder: Path,
    users: int,
    *,
    force: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Make the sample share and a tenant in FOLDER for USERS people, then run the pipeline.

    FOLDER must be new, empty or an earlier demo's (replaced only with FORCE). The tenant is
    stopped however the demo ends. DemoStopped when a step fails or Ctrl-C stops the demo.
    """
    check_people(users)
    paths = demo_paths(folder)
    prepare_folder(paths.root, force=force, users=users)
    started = clock.monotonic()
    try:
        sample = make_sample(shell, paths, users, clock.now().timestamp())
        labels = list(load_policy(paths.policies / POLICY).labels)
        with LocalTenant(paths.tenant, paths.tenant_users, labels, paths.tenant_log) as tenant:
            shell.say(f"local tenant at {tenant.url}; its OneDrives and log: {paths.tenant}")
            pipeline(Steps(shell, paths), tenant, sample)
    except KeyboardInterrupt:
        raise stopped_by_ctrl_c(paths.root) from None
    shell.say(f"local tenant at {tenant.url} stopped")
    finish(shell, paths, sample.people, clock.monotonic() - started)


def stopped_by_ctrl_c(root: Path) -> "DemoStopped":
    return DemoStopped(
        "the demo was stopped by Ctrl-C, and its local tenant with it",
        fix=f"explore what it made in {root}, or start afresh with "
        f"`{typed('demo', '--dir', root, '--force')}`",
    )


def make_sample(shell: Shell, paths: DemoPaths, users: int, now: float) -> Sample:
    staff = people(users)
    say_step(shell, f"A sample H: drive share for {counted(users, 'person', 'people')}")
    sample = write_share(paths.homes, staff, now)
    write_inputs(paths, sample)
    shell.say(
        f"{counted(sample.files, 'file')} ({size_text(sample.bytes)}) in {paths.homes}; "
        f"{staff[-1].display_name} has no OneDrive yet"
    )
    return sample


def check_people(users: int) -> None:
    if not MIN_PEOPLE <= users <= MAX_PEOPLE:
        raise HdriveError(
            f"--users {users} is out of range",
            fix=f"give from {MIN_PEOPLE} (one who moves, one who is blocked) to {MAX_PEOPLE}",
        )


def prepare_folder(root: Path, *, force: bool, users: int) -> None:
    """Make ROOT ready: created when missing; an earlier demo's replaced only with FORCE; any
    other folder with something in it refused, with or without FORCE."""
    if root.exists() and not root.is_dir():
        raise HdriveError(f"{root} is a file", fix="give --dir a folder for the demo")
    if root.is_dir() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise HdriveError(
                f"{root} is not empty and no demo made it",
                fix="give --dir a new or empty folder; the demo deletes only its own",
            )
        if not force:
            raise HdriveError(
                f"{root} holds an earlier demo",
                fix=f"explore it, or start afresh with `{typed('demo', '--dir', root, '--force')}`"
                " (which deletes it first), or give another --dir",
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    marker = {"made_by": f"{PROGRAM} demo", "version": __version__, "users": users}
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def write_inputs(paths: DemoPaths, sample: Sample) -> None:
    """What a wave starts from: the tenant's directory, the people to move, the hold register
    and the shipped policy with its cases."""
    _write_csv(
        paths.tenant_users,
        ["upn", "display_name", "sam_account_name", "provisioned"],
        [[p.upn, p.display_name, p.sam, str(p.provisioned).lower()] for p in sample.people],
    )
    _write_csv(
        paths.people_csv, ["folder", "upn", "wave"], [[p.sam, p.upn, WAVE] for p in sample.people]
    )
    _write_csv(paths.holds, ["upn", "path"], [list(sample.held)] if sample.held else [])
    paths.policies.mkdir()
    shipped = resources.files(__package__)
    for name in (POLICY, CASES):
        (paths.policies / name).write_bytes(shipped.joinpath(name).read_bytes())


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([header, *rows])


@dataclass
class Steps:
    """Shows each step's heading and each command before running it in the demo's workspace."""

    shell: Shell
    paths: DemoPaths

    def heading(self, title: str) -> None:
        say_step(self.shell, title)

    def command(self, *args: object, accept: tuple[int, ...] = (0,), in_workspace=True) -> None:
        workspace = ["-w", str(self.paths.workspace)] if in_workspace else []
        argv = [str(arg) for arg in args] + workspace
        self.shell.say(f"$ {typed(*argv)}")
        code = self.shell.run(argv)
        if code == INTERRUPTED:
            raise stopped_by_ctrl_c(self.paths.root)
        if code not in accept:
            raise DemoStopped(
                f"the demo stopped: `{typed(*argv)}` exited with {code}",
                fix="its message above says why; fix that, then start afresh with "
                f"`{typed('demo', '--dir', self.paths.root, '--force')}`",
            )


def say_step(shell: Shell, title: str) -> None:
    shell.say("")
    shell.say(f"== {title}")


def pipeline(run: Steps, tenant: LocalTenant, sample: Sample) -> None:
    """init -> users import -> preflight -> scan -> plan -> migrate -> verify -> report ->
    notices, with the looks an engineer, a records manager and the service desk take."""
    set_up_wave(run, tenant.url, sample)
    scan_and_plan(run, sample)
    migrate_and_verify(run, tenant)
    look_back(run, sample)


def set_up_wave(run: Steps, url: str, sample: Sample) -> None:
    paths, blocked = run.paths, sample.people[-1]
    run.heading("init: a workspace for the H: drives, pointed at the local tenant")
    run.command(
        "init", paths.workspace, "--source", paths.homes, "--graph-url", f"{url}/v1.0",
        "--auth", "local", "--organisation", ORGANISATION, in_workspace=False,
    )  # fmt: skip
    run.command("tenant", "check")
    run.heading("users import: who moves in this wave, and where each H: drive is")
    run.command("users", "import", paths.people_csv)
    run.heading(f"preflight: {blocked.display_name} has no OneDrive yet, so is blocked")
    run.command("preflight", "--wave", WAVE, accept=FINDS_PROBLEMS)


def scan_and_plan(run: Steps, sample: Sample) -> None:
    paths = run.paths
    policy, cases = paths.policies / POLICY, paths.policies / CASES
    run.heading("scan: every file and folder, hashed, with what OneDrive would refuse")
    run.command("scan", "--wave", WAVE, "--hash")
    run.command("scan", "summary", "--wave", WAVE)
    run.heading("The records managers' policy, checked and tested against their cases")
    run.command("policy", "check", policy, in_workspace=False)
    run.command("policy", "test", policy, cases, in_workspace=False)
    run.heading("plan: a decision for every file, with the hold register")
    run.command("plan", "--policy", policy, "--holds", paths.holds, "--wave", WAVE)
    run.heading("plan explain: why a name changes in OneDrive, and why a file is for disposal")
    for upn, path in (sample.renamed, sample.old):
        run.command("plan", "explain", upn, path)
    run.command("review", "export", "--wave", WAVE, "--out", paths.review)


def migrate_and_verify(run: Steps, tenant: LocalTenant) -> None:
    run.heading("migrate --dry-run: what the wave will cost before anything is sent")
    run.command("migrate", "--wave", WAVE, "--dry-run")
    run.heading("migrate: large files go in chunks, every file ends in a recorded state")
    run.command("migrate", "--wave", WAVE, accept=FINDS_PROBLEMS)
    say_chunks(run.shell, tenant)
    run.heading("verify: every migrated file is in OneDrive with the size and hash sent")
    run.command("verify", "--wave", WAVE)


def look_back(run: Steps, sample: Sample) -> None:
    run.heading("status: what the service desk sees (counts, never file names)")
    run.command("status", sample.people[0].upn)
    run.command("status", sample.people[-1].upn)
    run.heading("report: the wave's report, registers and manifests")
    run.command("report", "--wave", WAVE)
    notices_step(run)
    run.heading("audit verify: the log of who did and looked at what is intact")
    run.command("audit", "verify")


def say_chunks(shell: Shell, tenant: LocalTenant) -> None:
    """How the large files reached the tenant, as its request log shows."""
    uploads = sorted(tenant.chunked_uploads(), reverse=True)
    if uploads:
        pieces = ", ".join(f"{size_text(size)} in {count}" for size, count in uploads)
        shell.say(
            f"the tenant took {counted(len(uploads), 'large file')} in chunks ({pieces}), "
            f"as its request log {tenant.data / 'requests.jsonl'} shows"
        )


def notices_step(run: Steps) -> None:
    """Each person's message after the wave, written to paths.notices and not sent."""
    run.heading("notices: what each person is told about their files")
    run.command("notices", "--wave", WAVE, "--stage", "after", "--out", run.paths.notices)


def finish(shell: Shell, paths: DemoPaths, staff: list[Person], seconds: float) -> None:
    """Where to look next, and what the wave came to."""
    summary = summarise(paths.workspace, staff)
    ws = ["-w", paths.workspace]
    say_step(shell, f"Done in {seconds:.0f} s. Everything is in {paths.root}:")
    places = [
        ("H: drives", f"{paths.homes} (the source: only ever read)"),
        ("workspace", f"{paths.workspace} (hdrive.toml, state.db, logs, reports)"),
        ("report", str(paths.report / "summary.html")),
        (
            "review",
            f"{paths.review}: fill in the decisions, then "
            f"`{typed('review', 'import', paths.review, '--reviewer', 'A. Manager', *ws)}`",
        ),
        ("service desk", f"`{typed('serve', *ws)}`, then open the address it shows"),
        ("one person", f"`{typed('status', staff[0].upn, *ws)}`"),
    ]
    if paths.notices.exists():
        places.append(("notices", str(paths.notices)))
    width = max(len(label) for label, _ in places) + 2
    for label, where in places:
        shell.say(f"  {label + ':':<{width}}{where}")
    for line in summary.lines(len(staff)):
        shell.say(line)
    shell.say(f"Start afresh: `{typed('demo', '--dir', paths.root, '--force')}`")


def typed(*args: object) -> str:
    """`hdrive-migrate ARGS` as someone would type it, quoted for the shell."""
    return f"{PROGRAM} {shlex.join(str(arg) for arg in args)}"
