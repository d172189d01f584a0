"""The workspace against what goes wrong around it: a lost state.db, another command holding the
write lock, a source given to init that cannot work, a mistake in a section the command does
not use, and Ctrl-C."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hdrive_migrate.cli import main
from hdrive_migrate.config import CONFIG_NAME, load_config
from hdrive_migrate.workspace import STATE_DB

GRAPH = ["--graph-url", "http://127.0.0.1:9/v1.0", "--auth", "local"]
ALICE = "alice@contoso.test"


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The console entry point, in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return caught.value.code, out, err


@pytest.fixture
def workspace(tmp_path, capsys) -> Path:
    """A workspace made by init over a source holding alice's home folder."""
    (tmp_path / "homes" / "alice").mkdir(parents=True)
    ws = tmp_path / "ws"
    assert run_main(capsys, "init", str(ws), "--source", str(tmp_path / "homes"), *GRAPH)[0] == 0
    return ws


def users_csv(tmp_path: Path) -> str:
    path = tmp_path / "users.csv"
    path.write_text(f"folder,upn,wave\nalice,{ALICE},W1\n")
    return str(path)


def roster(ws: Path) -> list[tuple]:
    with sqlite3.connect(ws / STATE_DB) as connection:
        return connection.execute("SELECT upn FROM users").fetchall()


# A lost database is never silently replaced by a new, empty one.


@pytest.mark.parametrize("loss", ["missing", "empty"])
@pytest.mark.parametrize("command", [["scan", "summary"], ["wave", "list"], ["users", "import"]])
def test_a_lost_state_db_is_refused_not_recreated(workspace, tmp_path, capsys, loss, command):
    for name in (STATE_DB, f"{STATE_DB}-wal", f"{STATE_DB}-shm"):
        (workspace / name).unlink(missing_ok=True)
    if loss == "empty":
        (workspace / STATE_DB).touch()
    args = [*command, users_csv(tmp_path)] if command[-1] == "import" else command
    code, out, err = run_main(capsys, *args, "-w", str(workspace))
    state = "missing" if loss == "missing" else "empty (0 bytes)"
    assert (code, out) == (2, "")
    assert err == (
        f"{workspace / STATE_DB}: {STATE_DB} is {state}, though {CONFIG_NAME} is beside it: the "
        "workspace's progress and audit log are not there. Fix: restore state.db from backup; "
        "only `hdrive-migrate init` starts a new one, in a new directory\n"
    )
    db = workspace / STATE_DB
    assert (db.exists(), db.stat().st_size if db.exists() else None) == (
        (False, None) if loss == "missing" else (True, 0)
    )


# Another command writing: wait a bounded time, then one line.


def test_a_command_waits_for_another_writer_then_says_so(workspace, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HDRIVE_LOCK_TIMEOUT", "0.5")
    other = sqlite3.connect(workspace / STATE_DB)
    other.execute("BEGIN IMMEDIATE")  # as another command part-way through its writes would
    started = time.monotonic()
    code, _, err = run_main(capsys, "users", "import", users_csv(tmp_path), "-w", str(workspace))
    waited = time.monotonic() - started
    other.rollback()
    other.close()
    assert code == 2
    assert err == (
        f"{workspace / STATE_DB}: another hdrive-migrate command is writing to this workspace; "
        "waited 0.5 s for it to finish. Fix: let that command finish (or stop it), then run this "
        "one again; HDRIVE_LOCK_TIMEOUT sets how many seconds to wait (default 30)\n"
    )
    assert 0.5 <= waited < 5
    assert roster(workspace) == []
    code, _, _ = run_main(capsys, "users", "import", users_csv(tmp_path), "-w", str(workspace))
    assert (code, roster(workspace)) == (0, [(ALICE,)])


def test_a_bad_lock_timeout_is_one_line(workspace, capsys, monkeypatch):
    monkeypatch.setenv("HDRIVE_LOCK_TIMEOUT", "soon")
    code, _, err = run_main(capsys, "scan", "summary", "-w", str(workspace))
    assert code == 2
    assert err.startswith('HDRIVE_LOCK_TIMEOUT: "soon" is not a number of seconds from 0 to ')
    assert err.count("\n") == 1


# init checks its source, keeps a local one absolute, and leaves nothing behind when it fails.


def test_init_stores_a_relative_source_as_an_absolute_path(tmp_path, capsys, monkeypatch):
    (tmp_path / "homes").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run_main(capsys, "init", "ws", "--source", "homes", *GRAPH)[0] == 0
    assert load_config(tmp_path / "ws").source_root == str(tmp_path / "homes")


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("no-such-homes", "does not exist"),
        ("a-file", "is not a folder"),
        ("smb://", "it names no server"),
        ("smb:///homes", "it names no server"),
        ("\\\\server", "it names no share after the server"),
        ("smb://files01:99999/homes", "port 99999 is not a number from 1 to 65535"),
        ("smb://files01:x/homes", "port x is not a number from 1 to 65535"),
    ],
)
def test_init_refuses_a_source_that_cannot_work_and_leaves_nothing(
    tmp_path, capsys, monkeypatch, source, why
):
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("not a folder")
    code, out, err = run_main(capsys, "init", "new/ws", "--source", source, *GRAPH)
    assert (code, out) == (2, "")
    assert err.startswith("init --source: ")
    assert why in err
    assert err.count("\n") == 1 and "Fix: " in err
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


def test_a_failed_init_removes_the_directories_it_made(tmp_path, capsys):
    code, _, err = run_main(
        capsys, "init", str(tmp_path / "a" / "b"), "--source", str(tmp_path), "--graph-url",
        "http://graph.microsoft.com", "--auth", "local",
    )  # fmt: skip
    assert code == 2 and err.startswith("init --graph-url: ")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_init_in_an_existing_directory_leaves_it_as_it_was(tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("mine")
    (ws / STATE_DB).mkdir()  # so the database cannot be made after hdrive.toml was written
    code, _, err = run_main(capsys, "init", str(ws), "--source", str(tmp_path), *GRAPH)
    assert code == 2 and err.startswith(f"{ws / STATE_DB}: cannot use the workspace database")
    assert sorted(os.listdir(ws)) == ["notes.txt", STATE_DB]


def test_init_only_warns_when_the_smb_server_does_not_answer(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = f"smb://127.0.0.1:{port}/homes"
    code, _, err = run_main(capsys, "init", str(tmp_path / "ws"), "--source", source, *GRAPH)
    assert code == 0, err
    assert err.startswith(
        f"init --source: warning: cannot reach an SMB server at 127.0.0.1 port {port} "
    )
    assert err.count("\n") == 1 and "Fix: " in err
    assert load_config(tmp_path / "ws").source_root == source


def test_init_says_nothing_when_the_smb_server_answers(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as server:
        source = f"smb://127.0.0.1:{server.getsockname()[1]}/homes"
        code, _, err = run_main(capsys, "init", str(tmp_path / "ws"), "--source", source, *GRAPH)
    assert (code, err) == (0, "")


# A mistake in [graph] or [plan] stops only the commands that need those sections.


def test_a_graph_mistake_does_not_stop_a_read_only_command(workspace, tmp_path, capsys):
    run_main(capsys, "users", "import", users_csv(tmp_path), "-w", str(workspace))
    toml = workspace / CONFIG_NAME
    text = toml.read_text().replace("url = 'http://127.0.0.1:9/v1.0'", "url = 'ftp://graph'")
    toml.write_text(text.replace("[plan]\n", "[plan]\nholds = 'gone.csv'\n"))
    code, out, err = run_main(capsys, "scan", "summary", "-w", str(workspace))
    assert (code, err) == (0, "")
    assert ALICE in out
    code, out, err = run_main(capsys, "tenant", "check", "-w", str(workspace))
    assert code == 2
    assert err.startswith(f"{toml}:") and '[graph] url = "ftp://graph" is not' in err


# Ctrl-C: one line saying how to carry on, exit 130, no traceback.


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    script = Path(sys.executable).parent / "hdrive-migrate"
    command = subprocess.Popen(
        [str(script), "policy", "check", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = wait_for_reader(fifo, command)
    wait_until_reading(command)
    command.send_signal(signal.SIGINT)  # the command is blocked reading the empty FIFO
    try:
        _, err = command.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        signals = Path(f"/proc/{command.pid}/status").read_text()
        command.kill()
        raise AssertionError(f"Ctrl-C did not stop the command: {signals}") from None
    os.close(writer)
    assert command.returncode == 130
    assert err == (
        "stopped by Ctrl-C. Fix: run the same command again; it resumes, and what was finished "
        "is kept\n"
    )


def wait_until_reading(command: subprocess.Popen) -> None:
    """Wait until COMMAND sleeps in the kernel reading a pipe (Linux's wchan), so Ctrl-C comes
    while it reads, as a person's would, not while it is still opening the file."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and command.poll() is None:
        if "pipe" in Path(f"/proc/{command.pid}/wchan").read_text():
            return
        time.sleep(0.02)
    command.kill()
    raise AssertionError(f"the command never read its FIFO: {command.communicate()}")


def wait_for_reader(fifo: Path, command: subprocess.Popen) -> int:
    """Open FIFO for writing once COMMAND has opened it for reading (until then, ENXIO)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and command.poll() is None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.05)
    command.kill()
    raise AssertionError(f"the command never opened {fifo}: {command.communicate()}")
