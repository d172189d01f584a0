"""A command imports only what it uses: the Graph SDK, azure-identity, the SMB client, the
local tenant's web server, the HTTP client, templates and the terminal display cost most of a
start-up, so a command that does not need one must not pull it in (the service desk runs
`status` all day; `--help` and `--version` should answer at once)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

POLICY = Path(__file__).parent.parent / "policies" / "personal-files.yaml"
ALICE = "alice@contoso.test"
# Top-level packages that only some commands need.
GRAPH = {"msgraph", "msgraph_core", "kiota_abstractions", "kiota_http", "azure", "httpx"}
HEAVY = GRAPH | {"smbprotocol", "aiohttp", "jinja2", "rich"}
# Nothing beyond the command line itself: no workspace, no policy, no async loop.
START = HEAVY | {"sqlite_utils", "yaml", "asyncio"}

# Run the console entry point with ARGS, then write the top-level modules it imported.
HARNESS = """
import json, sys
args, out = json.loads(sys.argv[1]), sys.argv[2]
try:
    from hdrive_migrate.cli import main
    main(args)
except SystemExit:
    pass
finally:
    with open(out, "w") as file:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), file)
"""


def imported(args: list[str], tmp_path: Path, harness: str = HARNESS) -> set[str]:
    """The top-level packages a whole `hdrive-migrate ARGS` process imports."""
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", harness, json.dumps(args), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), result.stderr
    return set(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace with alice's local home folder scanned and planned."""
    root = tmp_path_factory.mktemp("imports")
    (root / "homes" / "alice" / "Documents").mkdir(parents=True)
    (root / "homes" / "alice" / "Documents" / "notes.docx").write_text("notes")
    (root / "users.csv").write_text(f"folder,upn,wave\nalice,{ALICE},W1\n")
    ws = root / "ws"
    init = ["init", str(ws), "--source", str(root / "homes")]
    steps = [
        [*init, "--graph-url", "http://127.0.0.1:9", "--auth", "local"],
        ["users", "import", str(root / "users.csv"), "-w", str(ws)],
        ["scan", "-w", str(ws)],
        ["plan", "--policy", str(POLICY), "-w", str(ws)],
    ]
    for step in steps:
        from hdrive_migrate.cli import main

        with pytest.raises(SystemExit) as caught:
            main(step)
        assert caught.value.code in (0, None), step
    return ws


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["scan", "--help"], ["tenant", "serve", "--help"]]
)
def test_starting_up_imports_no_library(args, tmp_path):
    assert imported(args, tmp_path) & START == set()


@pytest.mark.parametrize(
    "args",
    [
        ["status", ALICE, "--json"],
        ["status", ALICE],
        ["scan", "summary", "--json"],
        ["scan"],  # a local source: no SMB client, no Graph
        ["wave", "list"],
        ["plan", "explain", ALICE, "Documents/notes.docx"],
        ["plan", "--policy", str(POLICY)],
    ],
    ids=" ".join,
)
def test_workspace_commands_import_nothing_they_do_not_use(args, workspace, tmp_path):
    found = imported([*args, "-w", str(workspace)], tmp_path)
    assert "sqlite_utils" in found  # the command ran and opened the workspace
    assert found & HEAVY == set()


def test_policy_check_reads_yaml_and_nothing_heavy(tmp_path):
    found = imported(["policy", "check", str(POLICY)], tmp_path)
    assert "yaml" in found
    assert found & HEAVY == set()


def test_the_check_sees_a_heavy_import(tmp_path):
    planted = HARNESS.replace("main(args)", "import hdrive_migrate.graph.client; main(args)")
    assert {"msgraph", "azure", "httpx"} <= imported(["--version"], tmp_path, planted)
