"""The scanner over SMB, against a real Samba server on loopback: the same inventory as over a
local path, and a folder the account cannot read kept as it was, not reported deleted."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.scan.excludes import Excludes
from hdrive_migrate.scan.run import ScanOptions, scan_user
from hdrive_migrate.sources.open import open_source
from hdrive_migrate.workspace import create_workspace, open_workspace

from samba import samba_share

UPN = "erin@contoso.test"


@pytest.fixture
def homes() -> Iterator[Path]:
    """A tree Samba can serve: every folder on the way searchable by others."""
    root = Path(tempfile.mkdtemp(prefix="hdrive-scan-smb-"))
    root.chmod(0o755)
    home = root / "erin"
    (home / "Documents" / "Cases 2021").mkdir(parents=True)
    (home / "Documents" / "Cases 2021" / "statement.docx").write_bytes(b"s" * 5000)
    (home / "Documents" / "notes ✓.txt").write_text("unicode")
    (home / "Private").mkdir()
    (home / "Private" / "diary.txt").write_text("dear diary")
    (home / ".hidden.txt").write_text("h")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    (home / "Private").chmod(0o755)
    shutil.rmtree(root)


def workspace(folder: Path, source_root: str) -> Path:
    settings = Config(
        source_root=source_root,
        graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL),
    )
    create_workspace(folder, settings).close()
    with open_workspace(folder) as ws, ws.db.conn:
        ws.db.execute(
            "INSERT INTO users(upn, folder, imported_at, updated_at) VALUES (?, 'erin', '', '')",
            [UPN],
        )
    return folder


def scan(folder: Path, environ: dict[str, str]):
    with open_workspace(folder) as ws:
        source = open_source(ws.config.source_root, environ=environ)
        try:
            options = ScanOptions(
                ws.config.target_folder, Excludes(), workers=source.parallel_listings
            )
            return scan_user(ws.db, source, UPN, "erin", options)
        finally:
            source.close()


def inventory(folder: Path) -> dict[str, tuple]:
    with open_workspace(folder) as ws:
        return {
            row["path"]: (row["is_dir"], row["size"], int(row["modified"]), row["change"])
            for row in ws.db.query("SELECT * FROM files WHERE upn = ?", [UPN])
        }


def test_smb_and_local_scans_agree(homes, tmp_path):
    with samba_share(homes) as share:
        environ = {"HDRIVE_SMB_USER": share.user, "HDRIVE_SMB_PASSWORD": share.password}
        over_smb = workspace(tmp_path / "smb", share.url)
        assert scan(over_smb, environ).status == "complete"
    local = workspace(tmp_path / "local", str(homes))
    assert scan(local, {}).status == "complete"
    assert inventory(over_smb) == inventory(local)
    assert "Documents/Cases 2021/statement.docx" in inventory(over_smb)


def test_an_unreadable_folder_is_a_finding_and_its_files_are_not_deleted(homes, tmp_path):
    with samba_share(homes) as share:
        environ = {"HDRIVE_SMB_USER": share.user, "HDRIVE_SMB_PASSWORD": share.password}
        folder = workspace(tmp_path / "ws", share.url)
        scan(folder, environ)
        os.chmod(homes / "erin" / "Private", 0o000)
        second = scan(folder, environ)
    assert second.status == "complete" and second.counts.deleted == 0
    assert inventory(folder)["Private/diary.txt"][3] == "unverified"
    assert inventory(folder)["Documents/notes ✓.txt"][3] == "unchanged"
    with open_workspace(folder) as ws:
        kinds = {
            (row["kind"], row["path"])
            for row in ws.db.query("SELECT kind, path FROM findings WHERE upn = ?", [UPN])
        }
    assert ("unreadable_folder", "Private") in kinds
