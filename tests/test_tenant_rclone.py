"""Proof of fidelity from a Graph client we did not write: rclone copies a tree in and checks it
back, QuickXorHash included."""

import os
import subprocess
from pathlib import Path

from conftest import require_binary

ALICE = "alice@contoso.test"


def make_tree(root: Path) -> None:
    (root / "sub dir" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "sub dir" / "deep" / "Ünïcødé ✓ 50%.txt").write_text("unicode\n")
    (root / "sub dir" / "big.bin").write_bytes(os.urandom(23 * 1024 * 1024 + 17))
    (root / "odd name #1 & co.txt").write_text("odd\n")


def rclone(running, config_dir: Path, *args: str) -> subprocess.CompletedProcess:
    config = config_dir / "rclone.conf"
    config.write_text(
        "[od]\ntype = onedrive\n"
        'token = {"access_token":"local-placeholder","token_type":"Bearer",'
        '"expiry":"0001-01-01T00:00:00Z"}\n'
        f"drive_id = {running.drive_id(ALICE)}\ndrive_type = business\n"
        f"tenant_url = {running.root}\n"
    )
    command = [str(require_binary("rclone")), "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_rclone_copies_and_checks_a_tree_with_hashes(tenant_factory, tmp_path):
    running = tenant_factory()
    make_tree(tmp_path / "src")
    copied = rclone(running, tmp_path, "copy", str(tmp_path / "src"), "od:H Drive")
    assert copied.returncode == 0, copied.stderr
    checked = rclone(running, tmp_path, "check", str(tmp_path / "src"), "od:H Drive")
    assert checked.returncode == 0, checked.stderr
    assert "0 differences found" in checked.stderr
    assert "5 matching files" in checked.stderr
    local = rclone(running, tmp_path, "hashsum", "quickxor", str(tmp_path / "src"))
    remote = rclone(running, tmp_path, "hashsum", "quickxor", "od:H Drive")
    assert sorted(local.stdout.splitlines()) == sorted(remote.stdout.splitlines())
    assert len(remote.stdout.splitlines()) == 5


def test_rclone_rides_out_throttling_and_server_errors(tenant_factory, tmp_path):
    running = tenant_factory(throttle_rate=0.1, error_rate=0.05, retry_after=1, seed=11)
    make_tree(tmp_path / "src")
    copied = rclone(
        running,
        tmp_path,
        "copy",
        str(tmp_path / "src"),
        "od:H Drive",
        "--retries",
        "10",
        "--low-level-retries",
        "20",
    )
    assert copied.returncode == 0, copied.stderr
    assert {429, 201} <= {record["status"] for record in running.requests()}
    checked = rclone(
        running,
        tmp_path,
        "check",
        str(tmp_path / "src"),
        "od:H Drive",
        "--retries",
        "10",
        "--low-level-retries",
        "20",
    )
    assert checked.returncode == 0, checked.stderr
