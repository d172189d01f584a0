"""Sources: the same tree read through the local source and through SMB from a real Samba on
loopback, the read-only guarantee, and parsing `[source] root`."""

import os
import shutil
import signal
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.config import SMB_PASSWORD_ENV, SMB_USER_ENV
from hdrive_migrate.sources import (
    DIRECTORY,
    HIDDEN,
    READONLY,
    REPARSE_POINT,
    Entry,
    EntryError,
    Source,
    SourceError,
)
from hdrive_migrate.sources import smb as smb_module
from hdrive_migrate.sources.local import LocalSource
from hdrive_migrate.sources.open import LocalRoot, SmbRoot, open_source, parse_source
from hdrive_migrate.sources.smb import (
    FILETIME_EPOCH,
    SmbSource,
    filetime_to_posix,
    parse_directory_buffer,
)

from samba import SambaShare, samba_share, smbd_children

DAY = 86400
NOBODY = 65534
LONG = [f"{n}-long-folder-name-".ljust(60, "x") for n in range(7)]
MID_FILE = "/".join(["alice", "deep", *LONG[:4], "mid.txt"])  # past Windows' 260 characters
FAR_FILE = "/".join(["alice", "deep", *LONG, "far.txt"])  # about 450 characters
FILES = {
    "alice/Documents/report 2024.docx": b"quarterly " * 400,
    "alice/Documents/naïve café ☕ 日本語.txt": "unicode ✓".encode(),
    "alice/Documents/a:b?.txt": b"forbidden in OneDrive",
    "alice/Documents/readonly.txt": b"no write bit",
    "alice/.hidden.txt": b"hidden",
    "alice/empty.txt": b"",
    MID_FILE: b"mid",
    FAR_FILE: b"far",
    "bob/notes.txt": b"bob's notes",
    "bob/locked.txt": b"nobody may read this",
    "bob/secret/private.txt": b"private",
    "carol/big.bin": bytes(range(256)) * (3 * 4096 + 17),  # several 1 MiB SMB reads
}
# Enough long names that a listing takes several 1 MiB SMB answers.
MANY = [f"{n:05d}-{'n' * 54}.txt" for n in range(12000)]
MODES = {"alice/Documents/readonly.txt": 0o444, "bob/locked.txt": 0o000, "bob/secret": 0o000}
# Links live under dave/ and undecodable names under erin/: there the two sources (or rather
# the server behind SMB) differ, and their own tests say how.
LINKS = {
    "dave/shortcut": "../alice/Documents",
    "dave/report.docx": "../alice/Documents/report 2024.docx",
    "dave/escape": "/etc",
}
BAD_NAME = b"erin/bad\xff name.txt"
NOT_COMPARED = ("dave", "erin")


def build_tree(root: Path) -> None:
    """FILES, LINKS, MANY and BAD_NAME under ROOT, readable by others except what MODES locks."""
    for name, content in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    for name, target in LINKS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / name)
    (root / "frank" / "many").mkdir(parents=True)
    for name in MANY:
        (root / "frank" / "many" / name).touch()
    (root / "erin").mkdir()
    (root / os.fsdecode(BAD_NAME)).write_bytes(b"bad name")
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(
                    path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if name in dirs else 0)
                )
    for name, mode in MODES.items():
        (root / name).chmod(mode)


@pytest.fixture(scope="session")
def tree() -> Iterator[Path]:
    # Not under pytest's tmp_path: smbd reads as `nobody`, who must be able to reach the tree.
    root = Path(tempfile.mkdtemp(prefix="hdrive-sources-"))
    try:
        root.chmod(0o755)
        build_tree(root)
        yield root
    finally:
        shutil.rmtree(root)  # root may delete inside mode-000 folders


@pytest.fixture(scope="session")
def share(tree: Path) -> Iterator[SambaShare]:
    with samba_share(tree) as running:
        yield running


def smb_environ(share: SambaShare) -> dict[str, str]:
    return {SMB_USER_ENV: share.user, SMB_PASSWORD_ENV: share.password}


@pytest.fixture(params=["local", "smb"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def source(kind: str, tree: Path, request) -> Iterator[Source]:
    if kind == "local":
        opened = open_source(str(tree))
    else:
        share = request.getfixturevalue("share")
        opened = open_source(share.url, environ=smb_environ(share))
    yield opened
    opened.close()


@pytest.fixture
def smb(share: SambaShare) -> Iterator[SmbSource]:
    opened = SmbSource(share.host, share.port, share.share, "", share.user, share.password)
    yield opened
    opened.close()


@contextmanager
def as_nobody() -> Iterator[None]:
    """Run the block with nobody's file permissions, as smbd serves the share; root would be
    let into a folder of mode 000."""
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def reading_as_smbd_does(kind: str):
    return as_nobody() if kind == "local" else nullcontext()


def walk(source: Source) -> tuple[dict[str, Entry], dict[str, str]]:
    """Every entry reachable without following links, and the kind of error of each folder
    that could not be listed."""
    entries: dict[str, Entry] = {}
    errors: dict[str, str] = {}
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            listed = source.list_dir(folder)
        except EntryError as exc:
            errors[folder] = exc.kind
            continue
        for entry in listed:
            path = f"{folder}/{entry.name}" if folder else entry.name
            entries[path] = entry
            if entry.is_dir and not entry.is_link:
                pending.append(path)
    return entries, errors


def lstat_tree(root: Path) -> dict[str, os.stat_result]:
    """lstat of everything below ROOT. Folders are opened with O_NOATIME and links are never
    resolved (resolving one moves its access time), so taking the picture changes nothing."""
    found: dict[str, os.stat_result] = {}
    pending = [""]
    while pending:
        folder = pending.pop()
        fd = os.open(root / folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOATIME)
        try:
            with os.scandir(fd) as listing:
                for item in listing:
                    path = f"{folder}/{item.name}" if folder else item.name
                    found[path] = item.stat(follow_symlinks=False)
                    if stat.S_ISDIR(found[path].st_mode):
                        pending.append(path)
        finally:
            os.close(fd)
    return found


def on_disk(root: Path) -> dict[str, os.stat_result]:
    """What nobody can see below ROOT: everything but the contents of mode-000 folders."""
    tree = lstat_tree(root)
    locked = [p for p, s in tree.items() if stat.S_ISDIR(s.st_mode) and not s.st_mode & 0o777]
    return {p: s for p, s in tree.items() if not p.startswith(tuple(f"{f}/" for f in locked))}


def read(source: Source, path: str) -> bytes:
    with source.open_file(path) as file:
        return file.read()


# --- The same tree through both sources --------------------------------------------------


def test_lists_the_tree_as_it_is_on_disk(source: Source, kind: str, tree: Path) -> None:
    with reading_as_smbd_does(kind):
        entries, errors = walk(source)
    expected = {p: s for p, s in on_disk(tree).items() if not p.startswith(NOT_COMPARED)}
    listed = {p: e for p, e in entries.items() if not p.startswith(NOT_COMPARED)}
    assert sorted(listed) == sorted(expected)
    assert errors == {"bob/secret": "unreadable_folder"}
    for path, entry in listed.items():
        disk = expected[path]
        assert entry.is_dir == stat.S_ISDIR(disk.st_mode), path
        assert entry.is_link is False, path
        assert entry.size == (0 if entry.is_dir else disk.st_size), path
        assert entry.modified == pytest.approx(disk.st_mtime, abs=1e-6), path
        assert bool(entry.attributes & DIRECTORY) == entry.is_dir, path
        assert bool(entry.attributes & HIDDEN) == entry.name.startswith("."), path


def test_names_people_use_are_listed_and_read(source: Source) -> None:
    names = ["report 2024.docx", "naïve café ☕ 日本語.txt", "a:b?.txt"]
    assert set(names) <= {entry.name for entry in source.list_dir("alice/Documents")}
    for name in names[:2]:
        assert read(source, f"alice/Documents/{name}") == FILES[f"alice/Documents/{name}"]


def test_names_windows_forbids(source: Source, kind: str) -> None:
    """Listed as they are either way, for the scanner to flag; a Samba server (told not to
    mangle them) cannot open them, since ':' and '?' mean something else in SMB, and that is
    an entry error, not a crash."""
    path = "alice/Documents/a:b?.txt"
    if kind == "local":
        assert read(source, path) == FILES[path]
        return
    with pytest.raises(EntryError) as refused:
        read(source, path)
    assert refused.value.kind == "unreadable_file"
    assert "name the server cannot open" in refused.value.detail


def test_paths_longer_than_windows_allows(source: Source) -> None:
    assert 260 < len(MID_FILE) < 300
    assert len(FAR_FILE) > 440
    for path in (MID_FILE, FAR_FILE):
        folder, name = path.rsplit("/", 1)
        assert name in {entry.name for entry in source.list_dir(folder)}
        assert read(source, path) == FILES[path]


def test_hidden_and_readonly_attributes(source: Source) -> None:
    alice = {entry.name: entry for entry in source.list_dir("alice")}
    assert alice[".hidden.txt"].attributes & HIDDEN
    assert not alice["empty.txt"].attributes & (HIDDEN | READONLY)
    documents = {entry.name: entry for entry in source.list_dir("alice/Documents")}
    assert documents["readonly.txt"].attributes & READONLY
    assert not documents["report 2024.docx"].attributes & READONLY


def test_denied_folder_is_an_entry_error_and_its_siblings_list(source: Source, kind: str) -> None:
    with reading_as_smbd_does(kind):
        with pytest.raises(EntryError) as denied:
            source.list_dir("bob/secret")
        siblings = {entry.name for entry in source.list_dir("bob")}
    assert denied.value.kind == "unreadable_folder"
    assert "bob/secret" in denied.value.detail
    assert siblings == {"secret", "notes.txt", "locked.txt"}


def test_denied_file_is_an_entry_error(source: Source, kind: str) -> None:
    with reading_as_smbd_does(kind), pytest.raises(EntryError) as denied:
        read(source, "bob/locked.txt")
    assert denied.value.kind == "unreadable_file"
    assert read(source, "bob/notes.txt") == FILES["bob/notes.txt"]


def test_file_that_vanishes_after_listing(source: Source, tree: Path) -> None:
    ephemeral = tree / "carol" / "ephemeral.txt"
    ephemeral.write_bytes(b"here now")
    ephemeral.chmod(0o644)
    assert "ephemeral.txt" in {entry.name for entry in source.list_dir("carol")}
    ephemeral.unlink()
    with pytest.raises(EntryError) as gone:
        read(source, "carol/ephemeral.txt")
    assert gone.value.kind == "vanished"


def test_folder_that_vanishes_after_listing(source: Source, tree: Path) -> None:
    (tree / "carol" / "gone").mkdir(mode=0o755)
    assert "gone" in {entry.name for entry in source.list_dir("carol")}
    (tree / "carol" / "gone").rmdir()
    with pytest.raises(EntryError) as gone:
        source.list_dir("carol/gone")
    assert gone.value.kind == "vanished"


def test_folder_too_big_for_one_answer(source: Source) -> None:
    assert sorted(entry.name for entry in source.list_dir("frank/many")) == MANY


def test_big_file_reads_whole_and_in_pieces(source: Source) -> None:
    expected = FILES["carol/big.bin"]
    assert read(source, "carol/big.bin") == expected
    with source.open_file("carol/big.bin") as file:
        pieces = iter(lambda: file.read(65536), b"")
        assert b"".join(pieces) == expected
    size = {entry.name: entry.size for entry in source.list_dir("carol")}["big.bin"]
    assert size == len(expected)


def test_smb_reads_a_whole_file_in_large_requests(smb: SmbSource, monkeypatch) -> None:
    lengths = []
    real_read = smb_module._Channel.read

    def counting_read(channel, file_id: bytes, offset: int, length: int) -> bytes:
        lengths.append(length)
        return real_read(channel, file_id, offset, length)

    monkeypatch.setattr(smb_module._Channel, "read", counting_read)
    assert read(smb, "carol/big.bin") == FILES["carol/big.bin"]
    assert len(lengths) <= len(FILES["carol/big.bin"]) // smb_module.CHUNK + 2


def test_describe_names_the_root_without_credentials(
    source: Source, kind: str, tree: Path, request
) -> None:
    if kind == "local":
        assert source.describe() == str(tree)
    else:
        share = request.getfixturevalue("share")
        assert source.describe() == share.url
        assert share.password not in source.describe()


# --- Links and names only the local source sees as they are ------------------------------


def test_local_links_are_recorded_not_followed(tree: Path) -> None:
    source = LocalSource(tree)
    dave = {entry.name: entry for entry in source.list_dir("dave")}
    assert set(dave) == {"shortcut", "report.docx", "escape"}
    for name, entry in dave.items():
        assert entry.is_link and entry.attributes & REPARSE_POINT
        assert not entry.is_dir
        assert entry.size == len(LINKS[f"dave/{name}"])  # the link itself, not its target
    entries, _ = walk(source)
    assert not [path for path in entries if path.startswith("dave/shortcut/")]
    with pytest.raises(EntryError) as folder:
        source.list_dir("dave/shortcut")
    with pytest.raises(EntryError) as file:
        read(source, "dave/report.docx")
    assert (folder.value.kind, file.value.kind) == ("unreadable_folder", "unreadable_file")


def test_local_source_refuses_to_open_a_fifo(tmp_path: Path) -> None:
    """A FIFO in a home folder is listed as a file, but reading one would wait for a writer
    forever; the open is refused at once instead (checked in a thread, so a hang fails)."""
    os.mkfifo(tmp_path / "pipe")
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            LocalSource(tmp_path).open_file("pipe")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], EntryError), outcome
    assert outcome[0].kind == "unreadable_file"


def test_samba_follows_links_itself(smb: SmbSource) -> None:
    """Samba 4.17 resolves links inside the share on the server and hides those leading out
    (wide links = no): a client sees the targets, never a reparse point, so SmbSource cannot
    record them. Servers that report links as reparse points (Windows, OneFS) are covered by
    test_reparse_points_are_links."""
    dave = {entry.name: entry for entry in smb.list_dir("dave")}
    assert set(dave) == {"shortcut", "report.docx"}
    assert dave["shortcut"].is_dir and not dave["shortcut"].is_link
    assert not dave["report.docx"].is_link
    assert read(smb, "dave/report.docx") == FILES["alice/Documents/report 2024.docx"]


def test_local_lists_names_that_are_not_utf8(tree: Path) -> None:
    (entry,) = LocalSource(tree).list_dir("erin")
    assert entry.name == "bad\udcff name.txt"  # the scanner reports the lone surrogate
    assert read(LocalSource(tree), f"erin/{entry.name}") == b"bad name"


def test_samba_hides_names_that_are_not_utf8(smb: SmbSource) -> None:
    """smbd cannot convert such a name to UTF-16 and leaves the file out of the listing: a
    migration over SMB from a Samba server never sees it."""
    assert smb.list_dir("erin") == []


# --- Read-only: listing and reading change no times --------------------------------------


def age_everything(root: Path) -> dict[str, os.stat_result]:
    """Set every time below ROOT to 4 days (modified) and 3 days (accessed) ago, old enough
    that a relatime mount updates the access time on the next read; the lstat picture after."""
    now = time.time()
    atime, mtime = int(now - 3 * DAY) * 10**9, int(now - 4 * DAY) * 10**9
    for path in lstat_tree(root):
        os.utime(root / path, ns=(atime, mtime), follow_symlinks=False)
    aged = lstat_tree(root)
    assert {(s.st_atime_ns, s.st_mtime_ns) for s in aged.values()} == {(atime, mtime)}
    return aged


def changed(before: dict, after: dict, which: str, folders: bool) -> list[str]:
    """Paths among the folders (or the regular files) whose WHICH ("atime" or "mtime") moved."""
    key = f"st_{which}_ns"
    kind = stat.S_ISDIR if folders else stat.S_ISREG
    return sorted(
        p
        for p, s in before.items()
        if kind(s.st_mode) and getattr(s, key) != getattr(after[p], key)
    )


def test_plain_read_moves_access_time_but_open_file_does_not(tree: Path) -> None:
    """The proof that the mount would update access times (relatime), so that the second half
    means something: the same read through LocalSource leaves the time alone."""
    path = tree / "bob" / "notes.txt"
    before = age_everything(tree)["bob/notes.txt"]
    with path.open("rb") as plain:
        plain.read()
    assert path.stat().st_atime_ns != before.st_atime_ns, "this mount never updates atimes"
    before = age_everything(tree)["bob/notes.txt"]
    assert read(LocalSource(tree), "bob/notes.txt") == FILES["bob/notes.txt"]
    after = path.stat()
    assert (after.st_atime_ns, after.st_mtime_ns) == (before.st_atime_ns, before.st_mtime_ns)


def test_local_listing_and_reading_change_no_time(tree: Path) -> None:
    source = LocalSource(tree)
    before = age_everything(tree)
    entries, errors = walk(source)
    for path, entry in entries.items():
        if not entry.is_dir and not entry.is_link:
            read(source, path)
    assert errors == {}  # root lists even the mode-000 folder, so every folder was read
    after = lstat_tree(tree)
    assert sorted(entries) == sorted(before)
    for name in ("atime", "mtime"):
        assert changed(before, after, name, folders=True) == []
        assert changed(before, after, name, folders=False) == []
    assert [p for p in before if before[p] != after[p]] == []


def test_local_read_without_ownership_falls_back_and_reads(tree: Path) -> None:
    """O_NOATIME is for the owner and root: anyone else gets a plain read-only open (and the
    mount's access-time policy), never an error."""
    with as_nobody():
        assert read(LocalSource(tree), "bob/notes.txt") == FILES["bob/notes.txt"]


def test_smb_listing_changes_no_file_time(smb: SmbSource, tree: Path) -> None:
    before = age_everything(tree)
    walk(smb)
    after = lstat_tree(tree)
    assert changed(before, after, "atime", folders=False) == []
    assert changed(before, after, "mtime", folders=False) == []
    assert changed(before, after, "mtime", folders=True) == []


def test_samba_moves_access_times_of_folders_it_lists(smb: SmbSource, tree: Path) -> None:
    """Not ours to prevent: smbd reads each folder as `nobody` without O_NOATIME (only an
    owner may ask for it), so a relatime mount moves the folder's access time. Shares on
    OneFS (access times off by default) or Windows (last-access updates off) keep theirs."""
    before = age_everything(tree)
    smb.list_dir("alice/Documents")
    assert changed(before, lstat_tree(tree), "atime", folders=True) == ["alice/Documents"]


def test_smb_reading_keeps_modified_times_but_samba_moves_access_times(
    smb: SmbSource, tree: Path
) -> None:
    """SmbSource asks the server not to update access times (LastAccessTime = -1); Samba
    refuses that on a handle opened only for reading, and smbd reads as `nobody` without
    O_NOATIME, so a relatime mount moves them. Modified times never change."""
    files = [p for p in FILES if not p.startswith("bob/") and "?" not in p]
    before = age_everything(tree)
    for path in files:
        assert read(smb, path) == FILES[path]
    after = lstat_tree(tree)
    assert changed(before, after, "mtime", folders=False) == []
    assert changed(before, after, "atime", folders=False) == sorted(files)


# --- SMB specifics -------------------------------------------------------------------------


def test_parallel_listing_over_one_source_matches_sequential(smb: SmbSource) -> None:
    sequential, errors = walk(smb)
    folders = [""] + [p for p, e in sequential.items() if e.is_dir and p not in errors]
    with ThreadPoolExecutor(max_workers=8) as pool:
        listings = list(pool.map(lambda folder: _names(smb, folder), folders * 3))
    assert listings == [_names(smb, folder) for folder in folders * 3]


def _names(source: Source, folder: str) -> list[str]:
    return sorted(entry.name for entry in source.list_dir(folder))


def test_dropped_connection_is_replaced(share: SambaShare) -> None:
    before = smbd_children(share)
    source = SmbSource(share.host, share.port, share.share, "", share.user, share.password)
    (serving,) = smbd_children(share) - before
    os.kill(serving, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while serving in smbd_children(share) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serving not in smbd_children(share)
    assert _names(source, "bob") == ["locked.txt", "notes.txt", "secret"]
    source.close()


def test_a_connection_lost_while_the_base_folder_is_checked_is_replaced(share: SambaShare):
    """Samba 4.17's smbd for one connection can panic opening a folder other connections open
    at once (listers opening the base together): the source connects again, not gives up."""
    with relay_cutting_first_create(share.host, share.port) as (port, cut):
        source = SmbSource(share.host, port, share.share, "", share.user, share.password)
        assert cut.is_set()
        assert _names(source, "bob") == ["locked.txt", "notes.txt", "secret"]
        source.close()


SMB2_CREATE = 5


@contextmanager
def relay_cutting_first_create(host: str, port: int) -> Iterator[tuple[int, threading.Event]]:
    """A loopback TCP relay to HOST:PORT that closes its first connection when the client's
    first SMB2 CREATE arrives (unsent), as a server process that dies on it would; later
    connections pass untouched. Yields the relay's port and an event set once it has cut."""
    listener = socket.create_server(("127.0.0.1", 0))
    cut = threading.Event()

    def pump(source: socket.socket, sink: socket.socket, cut_on_create: bool) -> None:
        with suppress(OSError):
            while header := source.recv(4, socket.MSG_WAITALL):
                body = source.recv(struct.unpack(">I", header)[0] & 0xFFFFFF, socket.MSG_WAITALL)
                if cut_on_create and struct.unpack_from("<H", body, 12)[0] == SMB2_CREATE:
                    cut.set()
                    break
                sink.sendall(header + body)
        for side in (source, sink):
            with suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        first = True
        with suppress(OSError):
            while True:
                client, _ = listener.accept()
                server = socket.create_connection((host, port))
                threading.Thread(target=pump, args=(client, server, first), daemon=True).start()
                threading.Thread(target=pump, args=(server, client, False), daemon=True).start()
                first = False

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], cut
    finally:
        listener.close()


def test_server_gone_is_a_source_error() -> None:
    with tempfile.TemporaryDirectory(prefix="hdrive-gone-") as folder:
        Path(folder).chmod(0o755)
        with samba_share(Path(folder)) as gone:
            source = SmbSource(gone.host, gone.port, gone.share, "", gone.user, gone.password)
            assert source.list_dir("") == []
    with pytest.raises(SourceError, match="cannot reach"):
        source.list_dir("")
    source.close()


def test_user_from_environment_wins_over_config(share: SambaShare) -> None:
    source = open_source(share.url, smb_user="somebody-else", environ=smb_environ(share))
    source.close()
    environ = {SMB_PASSWORD_ENV: share.password}
    source = open_source(share.url, smb_user=share.user, environ=environ)
    assert source.list_dir("")
    source.close()


def test_missing_user_or_password_names_the_variable(share: SambaShare) -> None:
    with pytest.raises(SourceError, match=SMB_PASSWORD_ENV):
        open_source(share.url, smb_user=share.user, environ={})
    with pytest.raises(SourceError, match=SMB_USER_ENV):
        open_source(share.url, environ={SMB_PASSWORD_ENV: share.password})


def test_refused_login_never_shows_the_password(share: SambaShare, caplog) -> None:
    wrong = "Wrong-password-1234"
    caplog.set_level("DEBUG")
    environ = {SMB_USER_ENV: share.user, SMB_PASSWORD_ENV: wrong}
    with pytest.raises(SourceError, match="refused the login") as refused:
        open_source(share.url, environ=environ)
    assert wrong not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert wrong not in caplog.text
    assert share.password not in caplog.text


@pytest.mark.parametrize(
    ("path", "message"),
    [("/no-such-share", "no share named"), ("/share/no/such/folder", "cannot open the folder")],
)
def test_wrong_share_or_folder_is_a_source_error(share: SambaShare, path: str, message: str):
    url = f"smb://{share.host}:{share.port}{path}"
    with pytest.raises(SourceError, match=message):
        open_source(url, environ=smb_environ(share))


def test_unreachable_server_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="cannot reach"):
        # Port 9 (discard) on loopback: nothing listens there in a test environment.
        open_source("smb://127.0.0.1:9/share", environ={SMB_USER_ENV: "u", SMB_PASSWORD_ENV: "p"})


def test_missing_local_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a folder"):
        open_source(str(tmp_path / "absent"))


def directory_record(name: str, attributes: int, size: int = 0, last: bool = False) -> bytes:
    encoded = name.encode("utf-16-le", "surrogatepass")
    length = (80 + len(encoded) + 7) // 8 * 8
    times = [FILETIME_EPOCH + 10**7 * n for n in (1, 2, 3, 4)]
    fields = (0 if last else length, 0, *times, size, size, attributes, len(encoded), 0, 0, 0)
    return (struct.pack("<IIqqqqqqIIIIQ", *fields) + encoded).ljust(length, b"\0")


def test_reparse_points_are_links() -> None:
    buffer = (
        directory_record(".", DIRECTORY)
        + directory_record("junction", DIRECTORY | REPARSE_POINT)
        + directory_record("file.txt", 0x20, size=5, last=True)
    )
    junction, file = parse_directory_buffer(buffer)
    assert (junction.name, junction.is_dir, junction.is_link) == ("junction", True, True)
    assert (file.name, file.is_dir, file.is_link, file.size) == ("file.txt", False, False, 5)
    assert (file.created, file.accessed, file.modified) == (1.0, 2.0, 3.0)


def test_directory_buffer_keeps_unpaired_surrogates() -> None:
    (entry,) = parse_directory_buffer(directory_record("odd\ud800.txt", 0, last=True))
    assert entry.name == "odd\ud800.txt"


def test_filetime_to_posix() -> None:
    assert filetime_to_posix(FILETIME_EPOCH) == 0.0
    assert filetime_to_posix(FILETIME_EPOCH + 15 * 10**6) == 1.5
    assert filetime_to_posix(0) == -11644473600.0


# --- Parsing [source] root ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "parsed"),
    [
        ("/mnt/home", LocalRoot(Path("/mnt/home"))),
        ("  /mnt/home  ", LocalRoot(Path("/mnt/home"))),
        ("~/h", LocalRoot(Path("~/h").expanduser())),
        (r"\\files01\home", SmbRoot("files01", 445, "home")),
        (r"\\files01\home\staff\\", SmbRoot("files01", 445, "home", ("staff",))),
        (r"\\files01\home/staff\a b", SmbRoot("files01", 445, "home", ("staff", "a b"))),
        ("smb://files01/home", SmbRoot("files01", 445, "home")),
        ("SMB://Files01:1445/Home/./staff/", SmbRoot("Files01", 1445, "Home", ("staff",))),
        ("smb://[::1]:4450/home/a%20b", SmbRoot("::1", 4450, "home", ("a b",))),
        ("smb://files01/home/Team #1", SmbRoot("files01", 445, "home", ("Team #1",))),
        ("smb://files01/home/100%25", SmbRoot("files01", 445, "home", ("100%",))),
    ],
)
def test_parse_source(root: str, parsed) -> None:
    assert parse_source(root) == parsed


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("", "empty"),
        (r"\\files01", "no share"),
        (r"\\\home", "no server"),
        (r"\\?\UNC\files01\home", "Windows-only"),
        ("smb://files01", "no share"),
        ("smb://files01:0/home", "port 0"),
        ("smb://files01:99999/home", "port 99999"),
        ("smb://files01:x/home", "port x"),
        ("smb:///home", "no server"),
        ("smb://files01/home/../etc", "'..'"),
        ("smb://files01/home/%FF", "not UTF-8"),
        ("smb://files01/home/a%5Cb", "cannot contain"),
        ("cifs://files01/home", "cifs://"),
    ],
)
def test_parse_source_rejects(root: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("?", r"\?")):
        parse_source(root)


def test_parse_source_never_quotes_a_password() -> None:
    with pytest.raises(SourceError, match="credentials") as refused:
        parse_source("smb://alice:Secret-99@files01/home")
    assert "Secret-99" not in str(refused.value)


HOSTS = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]{1,10}){0,3}", fullmatch=True
)
NAMES = st.text(
    st.one_of(st.characters(blacklist_characters="/\\"), st.sampled_from(["\ud800", "\udfff"])),
    min_size=1,
    max_size=20,
).filter(lambda name: name not in (".", "..") and name == name.strip())


@given(HOSTS, st.integers(1, 65535), NAMES, st.lists(NAMES, max_size=4))
def test_smb_urls_read_back_as_written(host: str, port: int, share: str, path: list[str]):
    root = SmbRoot(host, port, share, tuple(path))
    assert parse_source(root.url) == root


@given(HOSTS, NAMES, st.lists(NAMES, max_size=4))
def test_unc_and_url_forms_agree(host: str, share: str, path: list[str]) -> None:
    unc = "\\\\" + "\\".join([host, share, *path])
    assert parse_source(unc) == SmbRoot(host, 445, share, tuple(path))
    assert parse_source(unc) == parse_source(SmbRoot(host, 445, share, tuple(path)).url)


@given(st.text())
def test_parse_source_only_ever_raises_source_error(root: str) -> None:
    with suppress(SourceError):
        parse_source(root)
