"""A table of the mistakes a newcomer makes, each run through the installed command line against
a real scanned and planned workspace: every one must exit non-zero with exactly one clear line
on stderr (`WHERE: what. Fix: how`, never a traceback) and leave the workspace as it was."""

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require_binary

POLICY = Path(__file__).resolve().parents[1] / "policies" / "personal-files.yaml"
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
SECRET = "Sup3r-secret-value"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [str(require_binary("hdrive-migrate")), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def make_homes(root: Path) -> None:
    for person in ("alice", "bob"):
        docs = root / person / "Documents"
        docs.mkdir(parents=True)
        (docs / "report.docx").write_bytes(person.encode() + b" report")
        (docs / "notes.txt").write_bytes(b"notes")
    (root / "alice" / "Documents" / "Cases").mkdir()
    (root / "alice" / "Documents" / "Cases" / "statement.docx").write_bytes(b"statement")


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Path:
    """A folder holding `homes` (the source) and `ws`, a workspace made through the command
    line: alice and bob imported in wave W1, scanned with hashes and planned."""
    folder = tmp_path_factory.mktemp("planned")
    make_homes(folder / "homes")
    ws = str(folder / "ws")
    graph = ["--graph-url", "http://127.0.0.1:9/v1.0", "--auth", "local"]
    users = folder / "users.csv"
    users.write_text(f"folder,upn,wave\nalice,{ALICE},W1\nbob,{BOB},W1\n")
    steps = [
        ["init", ws, "--source", str(folder / "homes"), *graph],
        ["users", "import", str(users), "-w", ws],
        ["scan", "--hash", "-w", ws],
        ["plan", "--policy", str(POLICY), "-w", ws],
    ]
    for step in steps:
        result = run(*step)
        assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
    users.unlink()
    return folder


@pytest.fixture
def folder(planned, tmp_path) -> Path:
    """A private copy of the planned workspace and its source, for one case to spoil."""
    copy = tmp_path / "case"
    shutil.copytree(planned, copy)
    return copy


def snapshot(folder: Path) -> dict[str, object]:
    """Everything a bad command could change: state.db's content (as SQL) and every other
    file's bytes under FOLDER, directories included, so a file left behind shows too."""
    seen: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.name in ("state.db", "state.db-wal", "state.db-shm"):
            continue  # compared by content below; a checkpoint may move pages between them
        seen[name] = path.read_bytes() if path.is_file() else "<dir>"
    db = folder / "ws" / "state.db"
    seen["state.db"] = database_dump(db) if db.exists() else "<absent>"
    return seen


def database_dump(db: Path) -> list[str] | str:
    if db.stat().st_size == 0:
        return "<empty file>"
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@dataclass(frozen=True)
class Case:
    """A bad input: `prepare(folder)` writes the files it needs and returns the arguments
    (`-w` is added unless the command takes no workspace); the one stderr line must contain
    every string of `says` and none of `hides`."""

    name: str
    prepare: Callable[[Path], list[str]]
    says: tuple[str, ...] = ()
    hides: tuple[str, ...] = ()
    workspace: bool = True


def write(path: Path, content: str | bytes) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def plan_with(folder: Path, *args: str) -> list[str]:
    return ["plan", "--policy", str(POLICY), *args]


def policy_args(content: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["plan", "--policy", write(folder / "policy.yaml", content)]


def users_args(content: str | bytes) -> Callable[[Path], list[str]]:
    return lambda folder: ["users", "import", write(folder / "users.csv", content)]


def review_args(content: str, reviewer: str = "A. Manager") -> Callable[[Path], list[str]]:
    return lambda folder: [
        "review",
        "import",
        write(folder / "review.csv", content),
        "--reviewer",
        reviewer,
    ]


def holds_args(content: str) -> Callable[[Path], list[str]]:
    return lambda folder: plan_with(folder, "--holds", write(folder / "holds.csv", content))


def spoil_config(change: Callable[[str], str | bytes]) -> Callable[[Path], Path]:
    def spoil(folder: Path) -> Path:
        toml = folder / "ws" / "hdrive.toml"
        write(toml, change(toml.read_text()))
        return toml

    return spoil


def after(prepare: Callable[[Path], object], args: list[str]) -> Callable[[Path], list[str]]:
    """Spoil the workspace with PREPARE, then run ARGS."""

    def both(folder: Path) -> list[str]:
        prepare(folder)
        return args

    return both


def add_to_section(section: str, line: str) -> Callable[[str], str]:
    return lambda text: text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


def existing_review(folder: Path) -> list[str]:
    filled = write(folder / "review.csv", "upn,path,decision\nalice,Documents/x,exclude\n")
    return ["review", "export", "--out", filled]


def init_args(source: str) -> Callable[[Path], list[str]]:
    return lambda folder: [
        "init",
        str(folder / "new-ws"),
        "--source",
        source,
        "--graph-url",
        "http://127.0.0.1:9/v1.0",
        "--auth",
        "local",
    ]


def remove_db(folder: Path) -> None:
    (folder / "ws" / "state.db").unlink()
    for extra in ("state.db-wal", "state.db-shm"):
        (folder / "ws" / extra).unlink(missing_ok=True)


def empty_db(folder: Path) -> None:
    remove_db(folder)
    (folder / "ws" / "state.db").touch()


CASES = [
    # Policies
    Case(
        "policy-malformed-yaml", policy_args("policy: {id: [unclosed\nrules:\n"), ("policy.yaml",)
    ),
    Case(
        "policy-unknown-key",
        lambda folder: [
            "plan",
            "--policy",
            write(folder / "policy.yaml", POLICY.read_text() + "retention_period: 7y\n"),
        ],
        ("policy.yaml", "retention_period"),
    ),
    Case(
        "policy-missing-file",
        lambda folder: ["plan", "--policy", str(folder / "no.yaml")],
        ("no.yaml",),
    ),
    # Users CSV
    Case("users-wrong-header", users_args(f"name,email\nalice,{ALICE}\n"), ("users.csv",)),
    Case(
        "users-semicolons",
        # Once told "N columns; an SPMT CSV row has six" on every row, whatever was wrong.
        users_args("folder;upn;wave\ncarol;carol@contoso.test;W2\n"),
        ("users.csv:2", "carol"),
    ),
    Case(
        "users-unbalanced-quote",
        users_args('folder,upn\n"carol,carol@contoso.test\ndave,dave@contoso.test\n'),
        ("users.csv:2",),
    ),
    Case(
        "users-not-utf8",
        users_args(b"folder,upn\ncaf\xe9,cafe@contoso.test\n"),
        ("users.csv:2",),
    ),
    Case("users-empty-file", users_args(""), ("users.csv",)),
    # Review CSV
    Case(
        "review-unknown-decision",
        review_args(f"upn,path,decision\n{ALICE},Documents/report.docx,shred\n"),
        ("review.csv:2",),
    ),
    Case(
        "review-unknown-file",
        review_args(f"upn,path,decision\n{ALICE},Documents/nowhere.docx,exclude\n"),
        ("review.csv:2",),
    ),
    Case("review-wrong-header", review_args("who,what\nx,y\n"), ("review.csv",)),
    Case("review-not-a-csv", review_args("\x00\x01PK\x03\x04 zip"), ("review.csv",)),
    Case(
        "review-formula-reviewer",
        review_args(
            f"upn,path,decision\n{ALICE},Documents/report.docx,migrate\n", "=cmd|' /C calc'!A0"
        ),
        ("reviewer",),
    ),
    # Outputs over the workspace's own files or over a filled-in review
    Case(
        "out-over-state-db",
        lambda folder: ["review", "export", "--out", str(folder / "ws" / "state.db")],
        ("state.db",),
    ),
    Case(
        "out-over-hdrive-toml",
        lambda folder: ["review", "export", "--out", str(folder / "ws" / "hdrive.toml")],
        ("hdrive.toml",),
    ),
    Case("out-over-existing-review", existing_review, ("review.csv", "--force")),
    # Dates
    Case("as-of-year-1", lambda folder: plan_with(folder, "--as-of", "0001-01-01"), ("--as-of",)),
    Case(
        "as-of-year-9999", lambda folder: plan_with(folder, "--as-of", "9999-12-31"), ("--as-of",)
    ),
    Case(
        "as-of-not-a-date", lambda folder: plan_with(folder, "--as-of", "31/12/2024"), ("--as-of",)
    ),
    # Unknown waves and users
    Case("scan-unknown-wave", lambda folder: ["scan", "--wave", "W9"], ("W9",)),
    Case("scan-unknown-user", lambda folder: ["scan", "--user", "zed@contoso.test"], ("zed@",)),
    Case("plan-unknown-wave", lambda folder: plan_with(folder, "--wave", "W9"), ("W9",)),
    Case("plan-unknown-user", lambda folder: plan_with(folder, "--user", "zed@x.test"), ("zed@",)),
    Case("summary-unknown-wave", lambda folder: ["scan", "summary", "--wave", "W9"], ("W9",)),
    Case(
        "review-export-unknown-wave",
        lambda folder: ["review", "export", "--out", str(folder / "r.csv"), "--wave", "W9"],
        ("W9",),
    ),
    Case("preflight-unknown-wave", lambda folder: ["preflight", "--wave", "W9"], ("W9",)),
    Case("wave-show-unknown", lambda folder: ["wave", "show", "W9"], ("W9",)),
    Case(
        "explain-unknown-user",
        lambda folder: ["plan", "explain", "zed@contoso.test", "Documents/report.docx"],
        ("zed@",),
    ),
    Case(
        "explain-unknown-path",
        lambda folder: ["plan", "explain", ALICE, "Documents/nowhere.docx"],
        ("nowhere.docx",),
    ),
    # Hold registers (a UPN not in the workspace is a warning: see below)
    Case(
        "holds-no-such-file",
        holds_args(f"upn,path\n{ALICE},Documents/Operation Nowhere/**\n"),
        ("holds.csv:2",),
    ),
    Case("holds-wrong-header", holds_args("who,what\nx,y\n"), ("holds.csv",)),
    Case(
        "holds-not-utf8",
        lambda folder: plan_with(
            folder, "--holds", write(folder / "holds.csv", b"upn,path\nalice,Caf\xe9/**\n")
        ),
        ("holds.csv:2",),
    ),
    Case(
        "plan-diff-bad-policy",
        lambda folder: ["plan", "diff", "--policy", write(folder / "v2.yaml", "rules: [\n")],
        ("v2.yaml",),
    ),
    # A lost database
    Case("state-db-missing", after(remove_db, ["scan", "summary"]), ("state.db",)),
    Case("state-db-empty", after(empty_db, ["scan", "summary"]), ("state.db",)),
    Case(
        "state-db-missing-plan", after(remove_db, ["plan", "--policy", str(POLICY)]), ("state.db",)
    ),
    # hdrive.toml
    Case(
        "toml-broken",
        after(spoil_config(lambda text: text.replace("[graph]", "[graph", 1)), ["scan", "summary"]),
        ("hdrive.toml",),
    ),
    Case(
        "toml-unknown-key",
        after(spoil_config(add_to_section("source", 'rooot = "x"')), ["scan", "summary"]),
        ("hdrive.toml", "rooot"),
    ),
    Case(
        "toml-client-secret",
        after(
            spoil_config(add_to_section("graph", f'client_secret = "{SECRET}"')),
            ["tenant", "check"],
        ),
        ("hdrive.toml", "HDRIVE_CLIENT_SECRET"),
        (SECRET,),
    ),
    Case(
        "toml-certificate-password",
        after(
            spoil_config(add_to_section("graph", f'certificate_password = "{SECRET}"')),
            ["tenant", "check"],
        ),
        ("hdrive.toml", "HDRIVE_CERTIFICATE_PASSWORD"),
        (SECRET,),
    ),
    Case(
        "toml-smb-password",
        after(spoil_config(add_to_section("source", f'smb_password = "{SECRET}"')), ["scan"]),
        ("hdrive.toml", "HDRIVE_SMB_PASSWORD"),
        (SECRET,),
    ),
    Case(
        "toml-missing",
        after(lambda folder: (folder / "ws" / "hdrive.toml").unlink(), ["scan", "summary"]),
        ("hdrive.toml",),
    ),
    # init: nothing may be left behind (the snapshot would show new-ws)
    Case("init-missing-source", init_args("/no/such/homes"), ("/no/such/homes",), workspace=False),
    Case("init-smb-no-host", init_args("smb://"), ("smb://",), workspace=False),
    Case("init-unc-no-share", init_args("\\\\server"), ("server",), workspace=False),
    Case("init-smb-bad-port", init_args("smb://files01:99999/homes"), ("99999",), workspace=False),
    # Disposal
    Case(
        "dispose-formula-approver",
        lambda folder: ["dispose", "approve", "--approver", "@SUM(A1)"],
        ("@SUM(A1)",),
    ),
    # The local tenant
    Case(
        "tenant-port-out-of-range",
        lambda folder: ["tenant", "serve", "--data", str(folder / "tenant"), "--port", "99999"],
        ("99999",),
        workspace=False,
    ),
    Case(
        "tenant-data-is-a-file",
        lambda folder: [
            "tenant",
            "serve",
            "--data",
            write(folder / "data.txt", "x"),
            "--port",
            "0",
        ],
        ("data.txt",),
        workspace=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_input_is_one_clear_line_and_changes_nothing(case, folder):
    args = case.prepare(folder)
    if case.workspace:
        args += ["-w", str(folder / "ws")]
    before = snapshot(folder)
    result = run(*args, cwd=folder)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, f"exit 0 for {args}:\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    assert "Fix:" in lines[0], lines[0]
    for expected in case.says:
        assert expected in lines[0], f"{expected!r} not in {lines[0]!r}"
    for secret in case.hides:
        assert secret not in result.stdout + result.stderr
    assert snapshot(folder) == before, "the bad input changed the workspace or its files"


def test_a_notepad_bom_in_hdrive_toml_is_accepted_or_named(folder):
    """Notepad saves UTF-8 with a byte-order mark: either read the file as it is, or say so
    in one line; never a traceback, never a change."""
    toml = folder / "ws" / "hdrive.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    before = snapshot(folder)
    result = run("scan", "summary", "-w", str(folder / "ws"))
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode != 0:
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "hdrive.toml" in result.stderr and "Fix:" in result.stderr
    else:
        assert ALICE in result.stdout
    assert snapshot(folder) == before


def test_a_hold_for_a_user_not_in_the_workspace_is_one_warning_line(folder):
    args = holds_args("upn,path\nmallory@contoso.test,Documents/**\n")(folder)
    result = run(*args, "-w", str(folder / "ws"), cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{folder / 'holds.csv'}:2: warning: no user mallory@contoso.test in this workspace."
        " Fix: correct the UPN, or import the user with `hdrive-migrate users import`"
    ]
