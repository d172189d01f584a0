"""A real Samba server on loopback, sharing one directory read-only, for integration tests.

Everything smbd writes (configuration, passdb, locks, state, logs) lives in a temporary
directory; nothing on the machine is touched. The share's only user maps to the Unix user
`nobody`, so smbd reads files as `nobody` even though the tests run as root: a folder with mode
000 is really permission-denied over SMB, and every other file must be readable by others.
"""

import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARE = "share"
USER = "nobody"  # an existing Unix account without rights of its own
PASSWORD = "Samba-test-1"
START_TIMEOUT = 20.0
INSTALL_HINT = "install Samba: apt-get install -y samba smbclient"


@dataclass(frozen=True)
class SambaShare:
    """A running share; `url` is the smb:// address hdrive-migrate accepts as a source, and
    `pid` the main smbd, which forks one child per client connection."""

    host: str
    port: int
    share: str
    user: str
    password: str
    pid: int

    @property
    def url(self) -> str:
        return f"smb://{self.host}:{self.port}/{self.share}"


@contextmanager
def samba_share(directory: Path) -> Iterator[SambaShare]:
    """Serve DIRECTORY read-only as //127.0.0.1:PORT/share until the block ends.

    DIRECTORY and all its ancestors must be searchable by others (smbd reads as `nobody`); a
    missing smbd or pdbedit fails the test with the install hint, never skips it.
    """
    smbd, pdbedit = _require("smbd"), _require("pdbedit")
    _check_reachable(directory)
    with tempfile.TemporaryDirectory(prefix="hdrive-samba-") as scratch:
        port = _free_port()
        conf = _write_config(Path(scratch), directory, port)
        _add_user(pdbedit, conf)
        log = Path(scratch) / "smbd.out"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                # smbd signals its whole process group when it stops; without a session of
                # its own that group is ours, and pytest itself would be killed.
                start_new_session=True,
            )
        try:
            _wait_for_port(port, process, log)
            yield SambaShare("127.0.0.1", port, SHARE, USER, PASSWORD, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def smbd_children(share: SambaShare) -> set[int]:
    """The smbd processes forked by SHARE's server: one per connection, plus its helpers."""
    children = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[1]) == share.pid:
            children.add(int(stat_file.parent.name))
    return children


def _require(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{name} is not installed, and the SMB tests need a real Samba: {INSTALL_HINT}")
    return found


def _check_reachable(directory: Path) -> None:
    """Fail early, with the reason, when `nobody` could not reach DIRECTORY."""
    for folder in [directory.resolve(), *directory.resolve().parents]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            pytest.fail(
                f"{folder} is not searchable by others, so smbd (reading as {USER}) cannot reach "
                f"{directory}: chmod o+x it, or share a directory made with tempfile.mkdtemp"
            )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write_config(scratch: Path, directory: Path, port: int) -> Path:
    dirs = {name: scratch / name for name in ("private", "lock", "state", "cache", "pid", "log")}
    for path in dirs.values():
        path.mkdir()
    conf = scratch / "smb.conf"
    conf.write_text(
        f"""[global]
server role = standalone server
smb ports = {port}
interfaces = lo
bind interfaces only = yes
private dir = {dirs["private"]}
lock directory = {dirs["lock"]}
state directory = {dirs["state"]}
cache directory = {dirs["cache"]}
pid directory = {dirs["pid"]}
log file = {dirs["log"]}/log.%m
passdb backend = tdbsam:{dirs["private"]}/passdb.tdb
disable spoolss = yes
load printers = no
printcap name = /dev/null
map to guest = never

[{SHARE}]
path = {directory.resolve()}
read only = yes
valid users = {USER}
# Pass names Windows forbids (a:b?.txt) through unchanged instead of as 8.3 stand-ins, so a test
# sees the names the disk holds.
mangled names = no
# DOS attributes from the Unix mode (READONLY: no owner write bit; HIDDEN: a leading dot), as
# the local source derives them. Taken from xattrs instead, which files the tests make lack,
# READONLY would never be reported.
store dos attributes = no
map readonly = yes
"""
    )
    return conf


def _add_user(pdbedit: str, conf: Path) -> None:
    result = subprocess.run(
        [pdbedit, "-s", str(conf), "-a", "-u", USER, "-t"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"pdbedit could not add {USER}: {result.stdout}{result.stderr}")


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"smbd exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    process.terminate()
    pytest.fail(f"smbd did not listen on port {port} within {START_TIMEOUT}s:\n{log.read_text()}")
