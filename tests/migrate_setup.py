"""A workspace ready to migrate: real home folders, users imported, scanned with hashes and
planned by a one-rule policy (everything migrates with a label), pointed at a local tenant;
and how to read back what the tenant holds."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.workspace import create_workspace, open_workspace

from conftest import RunningTenant, require_binary

LABEL = "Personal working files"
MTIME = 1_700_000_000  # 2023-11-14, whole seconds: OneDrive keeps whole seconds
POLICY = f"""\
policy: {{id: migrate-all, version: 1.0.0, approved_by: [Records Manager],
         effective: 2026-01-01, labels: [{LABEL}]}}
rules:
  - {{id: R1, description: Everything, when: {{}}, action: migrate, label: {LABEL}}}
default: review
"""
TARGET = "H Drive"
MIB = 1024 * 1024
CHUNK = 320 * 1024  # the smallest chunk OneDrive accepts, so tests need few bytes per chunk


@dataclass
class Setup:
    ws: Path
    homes: Path
    tenant: RunningTenant


def cli(ws: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [str(require_binary("hdrive-migrate")), *args, "-w", str(ws)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


def write_files(homes: Path, files: dict[str, dict[str, bytes]]) -> None:
    """FILES: folder -> {relative path: content}, all modified at MTIME."""
    for folder, content in files.items():
        (homes / folder).mkdir(parents=True, exist_ok=True)
        for path, data in content.items():
            full = homes / folder / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(data)
            os.utime(full, (MTIME, MTIME))


def prepare(
    tmp_path: Path, tenant: RunningTenant, files: dict[str, dict[str, bytes]], users: dict
) -> Setup:
    """USERS: folder -> upn. Returns the workspace, scanned and planned."""
    homes = tmp_path / "homes"
    write_files(homes, files)
    ws = tmp_path / "ws"
    settings = Config(
        source_root=str(homes),
        graph=GraphSettings(url=tenant.url, auth=Auth.LOCAL),
        target_folder=TARGET,
    )
    create_workspace(ws, settings).close()
    roster = tmp_path / "users.csv"
    roster.write_text(
        "folder,upn,wave\n" + "".join(f"{folder},{upn},W1\n" for folder, upn in users.items())
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    for args in (
        ("users", "import", str(roster)),
        ("scan", "--hash"),
        ("plan", "--policy", str(policy)),
    ):
        result = cli(ws, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return Setup(ws, homes, tenant)


def rescan_and_plan(setup: Setup) -> None:
    for args in (("scan", "--hash"), ("plan", "--policy", str(setup.ws.parent / "policy.yaml"))):
        result = cli(setup.ws, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)


def tenant_item(tenant: RunningTenant, upn: str, path: str) -> dict | None:
    """The driveItem at PATH in UPN's OneDrive, or None."""
    url = f"/drives/{tenant.drive_id(upn)}/root:/{quote(path)}"
    with tenant.client() as client:
        answer = client.get(url)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return answer.json()


def tenant_label(tenant: RunningTenant, upn: str, item_id: str) -> str | None:
    with tenant.client() as client:
        answer = client.get(f"/drives/{tenant.drive_id(upn)}/items/{item_id}/retentionLabel")
    return answer.json().get("name") if answer.status_code == 200 else None


def transfers(ws: Path) -> dict[str, dict]:
    with open_workspace(ws) as workspace:
        return {row["path"]: row for row in workspace.db.query("SELECT * FROM transfers")}


def run_engine(setup: Setup, observer=None, **options):
    """One run in this process (so tests can use small chunks and watch it)."""
    from hdrive_migrate.migrate.progress import Observer
    from hdrive_migrate.migrate.run import MigrateOptions, run_migration

    with open_workspace(setup.ws) as ws:
        return run_migration(ws, MigrateOptions(**options), observer or Observer(), operator="test")


def put_file(tenant: RunningTenant, upn: str, path: str, data: bytes) -> dict:
    """Someone else's file, put straight into UPN's OneDrive."""
    url = f"/drives/{tenant.drive_id(upn)}/root:/{quote(path)}:/content"
    with tenant.client() as client:
        answer = client.put(url, content=data)
    answer.raise_for_status()
    return answer.json()


def upload_bytes(tenant: RunningTenant, since: int = 0) -> int:
    """Bytes the tenant received on upload URLs (chunks), from request SINCE on."""
    return sum(
        r["bytes"]
        for r in tenant.requests()[since:]
        if r["path"].startswith("/_upload/") and r["method"] == "PUT"
    )
