"""stat_file, which the engine uses to see a file change while it is read: the size and modified
time the listing gave, over a local path and over SMB (a real Samba server), moving no time."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hdrive_migrate.sources import EntryError, Source
from hdrive_migrate.sources.local import LocalSource
from hdrive_migrate.sources.smb import SmbSource

from samba import samba_share

FILES = {"a/report.docx": b"report " * 999, "a/empty.txt": b"", "a/sub/deep.txt": b"deep"}
AGED = 1_600_000_000  # atime and mtime of every file, long enough ago for relatime to move it


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    # Not under tmp_path: smbd reads as `nobody`, who must be able to reach the tree.
    root = Path(tempfile.mkdtemp(prefix="hdrive-stat-"))
    root.chmod(0o755)
    for path, data in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            Path(folder, name).chmod(0o755)
        for name in files:
            Path(folder, name).chmod(0o644)
    yield root
    shutil.rmtree(root)


@pytest.fixture(scope="module", params=["local", "smb"])
def source(request, tree: Path) -> Iterator[Source]:
    if request.param == "local":
        yield LocalSource(tree)
        return
    with samba_share(tree) as share:
        opened = SmbSource(share.host, share.port, share.share, "", share.user, share.password)
        yield opened
        opened.close()


def age(tree: Path) -> dict[str, tuple[int, int]]:
    for path in FILES:
        os.utime(tree / path, (AGED, AGED))
    return times(tree)


def times(tree: Path) -> dict[str, tuple[int, int]]:
    return {
        p: (tree.joinpath(p).stat().st_atime_ns, tree.joinpath(p).stat().st_mtime_ns) for p in FILES
    }


def test_stat_file_agrees_with_the_listing_and_moves_no_time(source: Source, tree: Path):
    before = age(tree)
    for path in FILES:
        folder, _, name = path.rpartition("/")
        (entry,) = [e for e in source.list_dir(folder) if e.name == name]
        assert source.stat_file(path) == (len(FILES[path]), entry.modified)
    after = times(tree)
    # Listing moves folder times on some servers; files' times must not move at all.
    assert after == before


def test_stat_file_sees_a_change(source: Source, tree: Path):
    before = source.stat_file("a/sub/deep.txt")
    os.utime(tree / "a/sub/deep.txt", (AGED, AGED + 60))
    assert source.stat_file("a/sub/deep.txt").modified == pytest.approx(before.modified + 60)


def test_stat_file_refuses_what_is_not_a_file(source: Source):
    with pytest.raises(EntryError) as missing:
        source.stat_file("a/nothing here.txt")
    assert missing.value.kind == "vanished"
    with pytest.raises(EntryError):
        source.stat_file("a/sub")
