"""The command line: help with examples, init, and one-line errors with exit code 2."""

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hdrive_migrate import __version__
from hdrive_migrate.cli import app, main
from hdrive_migrate.cli.tenant import parse_size
from hdrive_migrate.config import CONFIG_NAME, Auth, load_config
from hdrive_migrate.store import open_store
from hdrive_migrate.tenant.options import ONE_TIB, TenantOptions

runner = CliRunner()
HOMES = str(Path(__file__).parent)  # init refuses a source that does not exist; any folder will do
LOCAL_INIT = ["--source", HOMES, "--graph-url", "http://127.0.0.1:9", "--auth", "local"]


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group below COMMAND, as argument paths."""
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*path, name))
    return paths


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the console entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def write_config_text(workspace: Path, text: str) -> Path:
    """A workspace made by init, whose hdrive.toml is then replaced by TEXT."""
    assert runner.invoke(app, ["init", str(workspace), *LOCAL_INIT]).exit_code == 0
    (workspace / CONFIG_NAME).write_text(text)
    return workspace


def test_every_command_has_an_example_in_its_help():
    paths = command_paths(typer.main.get_command(app))
    assert ("init",) in paths and ("tenant", "check") in paths and ("tenant", "serve") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert "Example: hdrive-migrate" in result.output, path


def test_help_shows_no_type_beside_plain_flags():
    """A flag takes no value, so nothing should suggest one (typer's rich help showed <bool>)."""
    for path in command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert "<bool>" not in result.output, path
    scan_help = runner.invoke(app, ["scan", "--help"], terminal_width=200).output
    assert re.search(r"^  --hash +Also read", scan_help, re.MULTILINE), scan_help


def test_version(capsys):
    code, out, _ = run_main(["--version"], capsys)
    assert (code, out) == (0, f"hdrive-migrate {__version__}\n")


def test_init_creates_the_settings_and_the_database(tmp_path):
    workspace = tmp_path / "wave1"
    result = runner.invoke(app, ["init", str(workspace), *LOCAL_INIT, "--target-folder", "H"])
    assert result.exit_code == 0, result.output
    config = load_config(workspace)
    assert config.graph.url == "http://127.0.0.1:9/v1.0"
    assert config.graph.auth is Auth.LOCAL
    assert config.target_folder == "H"
    db = open_store(workspace / "state.db")
    (event,) = db["events"].rows
    assert event["action"] == "workspace.created"
    db.close()


def test_init_resolves_a_relative_certificate_path_from_the_current_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("app.pem").write_text("certificate")
    args = [
        "init", "ws", "--source", HOMES, "--graph-url", "https://graph.microsoft.com",
        "--tenant-id", "contoso.onmicrosoft.com", "--client-id",
        "72f988bf-86f1-41af-91ab-2d7cd011db47", "--certificate-path", "app.pem",
        "--organisation", "Contoso",
    ]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    assert load_config(tmp_path / "ws").graph.certificate_path == tmp_path / "app.pem"


def test_init_refuses_to_overwrite_a_workspace(tmp_path, capsys):
    assert run_main(["init", str(tmp_path), *LOCAL_INIT], capsys)[0] == 0
    code, _, err = run_main(["init", str(tmp_path), *LOCAL_INIT], capsys)
    assert code == 2
    assert err == (
        f"{tmp_path / CONFIG_NAME}: {CONFIG_NAME} already exists. Fix: edit "
        f"{tmp_path / CONFIG_NAME} directly, or choose a new workspace directory\n"
    )


def test_init_points_at_the_option_that_was_wrong(tmp_path, capsys):
    workspace = str(tmp_path / "ws")
    code, _, err = run_main(
        ["init", workspace, "--source", HOMES, "--graph-url", "http://g.com", "--auth", "local"],
        capsys,
    )
    assert code == 2
    assert err.startswith('init --graph-url: [graph] auth = "local" sends a placeholder token')
    assert not (tmp_path / "ws" / CONFIG_NAME).exists()
    code, _, err = run_main(
        ["init", workspace, "--source", HOMES, "--graph-url", "https://g.com"], capsys
    )
    assert code == 2
    assert err.startswith('init --tenant-id: [graph] tenant_id is required for auth = "certif')
    assert err.rstrip().endswith("(init option --tenant-id)")


# Each kind of mistake in hdrive.toml: one line on stderr naming file:line and the fix, exit 2.
GRAPH = '[graph]\nurl = "http://127.0.0.1:9"\nauth = "local"\n'
MISTAKES = {
    "syntax": ("[source]\nroot = /srv/home\n" + GRAPH, 2, "not valid TOML"),
    "unknown key": ('[source]\nroot = "/x"\nrute = "/y"\n' + GRAPH, 3, "did you mean root?"),
    "missing key": ('[source]\nroot = "/x"\n[graph]\nauth = "local"\n', 3, "[graph] url is"),
    "bad value": ('[source]\nroot = "/x"\n[graph]\nurl = "x"\nauth = "locl"\n', 5, "did you mean"),
    "local off this machine": (
        '[source]\nroot = "/x"\n[graph]\nurl = "http://graph.microsoft.com"\nauth = "local"\n',
        4,
        "not this machine",
    ),
    "real auth over http": (
        '[source]\nroot = "/x"\n[graph]\nurl = "http://graph.microsoft.com"\n'
        'auth = "managed-identity"\norganisation = "Contoso"\n',
        4,
        "plain http",
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_config_mistakes_are_one_line_with_file_line_and_fix(tmp_path, capsys, mistake):
    text, line, words = MISTAKES[mistake]
    workspace = write_config_text(tmp_path / "ws", text)
    code, out, err = run_main(["tenant", "check", "-w", str(workspace)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"{workspace / CONFIG_NAME}:{line}: ")
    assert words in err
    assert "Fix: " in err


def test_missing_workspace_found_through_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HDRIVE_WORKSPACE", str(tmp_path / "nowhere"))
    code, _, err = run_main(["tenant", "check"], capsys)
    assert code == 2
    assert err.startswith(f"{tmp_path / 'nowhere' / CONFIG_NAME}: no {CONFIG_NAME} in ")


def test_console_script_prints_no_traceback(tmp_path):
    script = Path(sys.executable).parent / "hdrive-migrate"
    result = subprocess.run(
        [str(script), "tenant", "check", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Fix: run `hdrive-migrate init DIR ...` first" in result.stderr


@pytest.mark.parametrize(
    ("text", "size"),
    [("1TB", ONE_TIB), ("1 TiB", ONE_TIB), ("500GB", 500 * 1024**3), ("1.5kb", 1536), ("42", 42)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "TB", "1 PB", "-1GB", "1e3"])
def test_bad_sizes(text):
    with pytest.raises(typer.BadParameter):
        parse_size(text)


def test_serve_builds_tenant_options_from_its_flags(tmp_path, monkeypatch):
    served: list[TenantOptions] = []
    fake = types.ModuleType("hdrive_migrate.tenant.server")
    fake.serve = served.append
    monkeypatch.setitem(sys.modules, "hdrive_migrate.tenant.server", fake)
    args = [
        "tenant", "serve", "--data", str(tmp_path), "--port", "0", "--users", "u.csv",
        "--drive-quota", "2GB", "--throttle-rate", "0.1", "--app-permissions",
        "User.Read.All, Files.ReadWrite.All", "--seed", "3",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (options,) = served
    assert options == TenantOptions(
        data=tmp_path,
        users_csv=Path("u.csv"),
        port=0,
        drive_quota=2 * 1024**3,
        throttle_rate=0.1,
        app_permissions=frozenset({"User.Read.All", "Files.ReadWrite.All"}),
        seed=3,
    )
