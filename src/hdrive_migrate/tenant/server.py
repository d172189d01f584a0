"""Run the tenant as a process: `hdrive-migrate tenant serve`.

A start either serves or leaves the disk as it found it: everything that can fail is tried before
the tenant announces its URL, and a failure removes what that start created. Every refusal is a
SetupError whose message is one line, "where: what. Fix: how".
"""

import asyncio
import errno
import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from aiohttp import web

from .app import Tenant
from .errors import SetupError
from .options import TenantOptions
from .state import DB_NAME, TenantState, read_users_csv

LOCK_NAME = "tenant.lock"
REQUEST_LOG_NAME = "requests.jsonl"
LOCK_ATTEMPTS = 3


def serve(options: TenantOptions) -> None:
    """Serve until SIGINT or SIGTERM. Prints one line with the URL once it accepts requests;
    with port 0 the line carries the port the system chose."""
    users = read_users_csv(options.users_csv) if options.users_csv is not None else []
    refuse_file_as_data(options.data)
    log_path = options.request_log or options.data / REQUEST_LOG_NAME
    with listening_socket(options.host, options.port) as sock, DataClaim(options.data) as claim:
        claim.track_file(log_path)
        with open_request_log(log_path) as log, closing(open_state(options)) as state:
            state.load_users(users)
            claim.keep()
            asyncio.run(_serve(Tenant(options, state), sock, log, options.host))


def refuse_file_as_data(data: Path) -> None:
    if data.exists() and not data.is_dir():
        raise SetupError(
            f"{data}: is a file, not a directory."
            " Fix: give --data a directory for the tenant's state (it is created when missing)"
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening before anything is written, so a taken port costs nothing."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # IPv4 first: "localhost" then listens where every client looks for it.
    family, _, _, _, address = min(addresses, key=lambda found: found[0] != socket.AF_INET)
    try:
        return socket.create_server(address, family=family)
    except OSError as exc:
        raise SetupError(cannot_listen(host, port, exc)) from exc


def cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"--port {port}: another program is already listening on {host}:{port}."
            " Fix: stop it, or choose another port (--port 0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return (
            f"--port {port}: only a privileged user may listen on it."
            " Fix: choose a port from 1024 to 65535, or --port 0 for a free one"
        )
    return f"--host {host} --port {port}: cannot listen ({exc.strerror}). Fix: choose another port"


class DataClaim:
    """Holds the data directory for this process's life: creates it when missing and takes an
    exclusive lock, so two tenants never share one state. The lock is the kernel's (flock), so a
    crashed tenant leaves no stale lock behind.

    If the start fails before `keep()`, the claim removes what the start created, still holding
    the lock so that no other tenant is using the directory meanwhile.
    """

    def __init__(self, data: Path):
        self.data = data
        self.made_dirs: list[Path] = []  # outermost first
        self.existing: set[str] | None = None  # entries of DATA when the lock was taken
        self.new_files: list[Path] = []
        self.lock_fd: int | None = None
        self.kept = False

    def __enter__(self) -> "DataClaim":
        try:
            self.made_dirs = make_dirs(self.data)
            lock_file_is_new = not (self.data / LOCK_NAME).exists()
            self.lock_fd = lock_data_dir(self.data)
        except BaseException:
            # Not locked: another tenant may be using what is there, so remove only empty folders.
            remove_empty_dirs(self.made_dirs)
            raise
        self.existing = set(os.listdir(self.data))
        if lock_file_is_new:
            self.existing.discard(LOCK_NAME)
        return self

    def track_file(self, path: Path) -> None:
        """Remember PATH for removal on a failed start if it does not exist yet."""
        if not path.exists():
            self.new_files.append(path)

    def keep(self) -> None:
        """The tenant is starting to serve: from now on everything here is its state."""
        self.kept = True

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is not None and not self.kept:
                self._remove_what_the_start_created()
        finally:
            os.close(self.lock_fd)

    def _remove_what_the_start_created(self) -> None:
        for path in self.new_files:
            path.unlink(missing_ok=True)
        if self.made_dirs:
            shutil.rmtree(self.data, ignore_errors=True)
            remove_empty_dirs(self.made_dirs[:-1])  # its parents that this start created
            return
        for name in set(os.listdir(self.data)) - self.existing:
            entry = self.data / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def make_dirs(data: Path) -> list[Path]:
    """Create DATA and any missing parents; return those created, outermost first."""
    missing = [path for path in (data, *data.parents) if not path.exists()][::-1]
    made: list[Path] = []
    try:
        for path in missing:
            path.mkdir(exist_ok=True)
            made.append(path)
    except OSError as exc:
        remove_empty_dirs(made)
        raise SetupError(
            f"{data}: cannot create the directory ({exc.strerror})."
            " Fix: give --data a directory you can write to"
        ) from exc
    return made


def remove_empty_dirs(made: list[Path]) -> None:
    for path in reversed(made):
        try:
            path.rmdir()
        except OSError:
            return  # not empty: something else uses it


def lock_data_dir(data: Path) -> int:
    """An open descriptor holding DATA's lock file locked; refuses while another tenant holds it."""
    path = data / LOCK_NAME
    for _ in range(LOCK_ATTEMPTS):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SetupError(
                f"{data}: cannot write in it ({exc.strerror})."
                " Fix: give --data a directory you can write to"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise SetupError(held_by_another(data, holder)) from None
        if same_file(fd, path):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        # A failed start removed the lock file between our open and our lock: take the new one.
        os.close(fd)
    raise SetupError(held_by_another(data, ""))


def same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def held_by_another(data: Path, holder: str) -> str:
    process = f" (process {holder})" if holder.isdigit() else ""
    return (
        f"{data}: another tenant is serving this data directory{process}."
        " Fix: stop that `hdrive-migrate tenant serve`, or give another --data"
    )


def open_request_log(path: Path):
    try:
        return path.open("a", buffering=1, encoding="utf-8")
    except OSError as exc:
        raise SetupError(
            f"{path}: cannot write the request log ({exc.strerror})."
            " Fix: give --request-log a file in a directory you can write to"
        ) from exc


def open_state(options: TenantOptions) -> TenantState:
    try:
        return TenantState(options.data, options.drive_quota)
    except sqlite3.DatabaseError as exc:
        raise SetupError(
            f"{options.data / DB_NAME}: cannot be used ({exc})."
            " Fix: give --data an empty directory, or the directory of an earlier tenant"
        ) from exc
    except OSError as exc:
        raise SetupError(
            f"{exc.filename or options.data}: cannot hold the tenant's state ({exc.strerror})."
            " Fix: give --data a directory you can write to"
        ) from exc


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _serve(tenant: Tenant, sock: socket.socket, log, host: str) -> None:
    runner = web.AppRunner(tenant.application(log), access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    port = runner.addresses[0][1]
    print(f"local tenant listening on http://{url_host(host)}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    print("local tenant stopped", file=sys.stderr, flush=True)
